import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Queue, Scope } from "effect"
import type { AgentError } from "../../../src/core/AgentError.ts"
import type { HostMessageJson as HostMessage } from "../../../src/distributed/internal/ProtocolSides.ts"
import * as Sessions from "../../../src/distributed/internal/Sessions.ts"

const welcome = (connection: Sessions.Connection): HostMessage => ({
  _tag: "Welcome",
  workerId: connection.workerId,
  hostId: "host",
  resume: connection.resume,
  heartbeatMillis: 500,
  heartbeatTimeoutMillis: 2000
})

const request = (workerId: string, clientId: number, options?: { readonly resume?: string; readonly secret?: string }): Sessions.JoinRequest => ({
  workerId,
  clientId,
  resume: options?.resume,
  credential: undefined,
  secret: options?.secret ?? `secret-${clientId}`,
  now: 0,
  queueCapacity: 16,
  deliverMany: false,
  welcome
})

const setup = Effect.sync(() => {
  const ended: Array<{ readonly workerId: string; readonly clientId: number; readonly reason: string }> = []
  const sessions = Sessions.make((connection, reason) =>
    Effect.sync(() => void ended.push({ workerId: connection.workerId, clientId: connection.clientId, reason }))
  )
  return { ended, sessions }
})

/** Joins in a scope of its own (the Connect stream's), closed by the returned effect. */
const join = (sessions: Sessions.Sessions, joinRequest: Sessions.JoinRequest) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const exit = yield* Effect.exit(sessions.join(joinRequest).pipe(Scope.provide(scope)))
    return { exit, close: Scope.close(scope, Exit.void) }
  })

const joined = (exit: Exit.Exit<Sessions.Connection, AgentError>): Sessions.Connection => {
  assert.isTrue(Exit.isSuccess(exit), "the join should succeed")
  if (!Exit.isSuccess(exit)) throw new Error("unreachable")
  return exit.value
}

const refusal = (exit: Exit.Exit<Sessions.Connection, AgentError>): AgentError => {
  assert.isTrue(Exit.isFailure(exit), "the join should be refused")
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
  assert.strictEqual(error?._tag, "Some")
  return (error as { readonly value: AgentError }).value
}

describe("Sessions", () => {
  it.effect("a joined connection is found by client and worker id, is live, and gets the welcome first", () =>
    Effect.gen(function*() {
      const { sessions } = yield* setup
      const connection = joined((yield* join(sessions, request("w1", 1))).exit)
      assert.strictEqual(connection.workerId, "w1")
      assert.strictEqual(connection.resume, "secret-1")
      assert.strictEqual(yield* sessions.joined(1), connection)
      assert.strictEqual(sessions.byClient(1), connection)
      assert.strictEqual(sessions.byWorker("w1"), connection)
      assert.isTrue(sessions.isLive(connection))
      assert.deepStrictEqual(sessions.all(), [connection])
      assert.deepStrictEqual(yield* Queue.take(connection.queue), welcome(connection))
    }))

  it.effect("a connection that has not joined is UndeliverableError NotJoined", () =>
    Effect.gen(function*() {
      const { sessions } = yield* setup
      const error = yield* sessions.joined(7).pipe(Effect.flip)
      assert.strictEqual(error._tag, "UndeliverableError")
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "NotJoined")
    }))

  it.effect("a connection that joins twice is refused with NotJoined, and its first session stays", () =>
    Effect.gen(function*() {
      const { ended, sessions } = yield* setup
      const first = joined((yield* join(sessions, request("w1", 1))).exit)
      const error = refusal((yield* join(sessions, request("w2", 1))).exit)
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "NotJoined")
      assert.include(error.message, "joined already")
      assert.strictEqual(sessions.byClient(1), first)
      assert.isUndefined(sessions.byWorker("w2"))
      assert.deepStrictEqual(ended, [])
    }))

  it.effect("another connection claiming a live worker id without its resume secret is refused; the live worker keeps it", () =>
    Effect.gen(function*() {
      const { ended, sessions } = yield* setup
      const first = joined((yield* join(sessions, request("w1", 1))).exit)
      for (const resume of [undefined, "wrong", "secret-"]) {
        const error = refusal((yield* join(sessions, request("w1", 2, resume === undefined ? {} : { resume }))).exit)
        assert.strictEqual(error._tag, "NotAccessibleError")
      }
      assert.strictEqual(sessions.byWorker("w1"), first)
      assert.isTrue(sessions.isLive(first))
      assert.isUndefined(sessions.byClient(2))
      assert.deepStrictEqual(ended, [])
    }))

  it.effect("a second join of the same worker id with the resume secret ends the first session and calls onEnd", () =>
    Effect.gen(function*() {
      const { ended, sessions } = yield* setup
      const firstJoin = yield* join(sessions, request("w1", 1))
      const first = joined(firstJoin.exit)
      yield* Queue.take(first.queue) // the welcome
      const second = joined((yield* join(sessions, request("w1", 2, { resume: first.resume }))).exit)
      assert.deepStrictEqual(ended, [{ workerId: "w1", clientId: 1, reason: "replaced by a new connection of the same worker" }])
      assert.isFalse(sessions.isLive(first))
      assert.isTrue(sessions.isLive(second))
      assert.strictEqual(sessions.byWorker("w1"), second)
      assert.isUndefined(sessions.byClient(1))
      assert.deepStrictEqual(sessions.all(), [second])
      // the first session's stream ends
      const taken = yield* Effect.exit(Queue.take(first.queue))
      assert.isTrue(Exit.isFailure(taken) && Cause.hasFails(taken.cause))
      // the old stream closing later ends nothing more
      yield* firstJoin.close
      assert.strictEqual(ended.length, 1)
      assert.strictEqual(sessions.byWorker("w1"), second)
    }))

  it.effect("closing the Connect stream's scope ends the session with reason disconnected", () =>
    Effect.gen(function*() {
      const { ended, sessions } = yield* setup
      const { close, exit } = yield* join(sessions, request("w1", 1))
      const connection = joined(exit)
      yield* close
      assert.deepStrictEqual(ended, [{ workerId: "w1", clientId: 1, reason: "disconnected" }])
      assert.isFalse(sessions.isLive(connection))
      assert.isUndefined(sessions.byClient(1))
      assert.deepStrictEqual(sessions.all(), [])
      // the worker may join again, on a new connection, without a secret
      joined((yield* join(sessions, request("w1", 2))).exit)
    }))

  it.effect("end gives a worker up now, once", () =>
    Effect.gen(function*() {
      const { ended, sessions } = yield* setup
      const { close, exit } = yield* join(sessions, request("w1", 1))
      const connection = joined(exit)
      yield* sessions.end(connection, "silent")
      yield* sessions.end(connection, "silent again")
      yield* close
      assert.deepStrictEqual(ended.map((e) => e.reason), ["silent"])
      assert.isUndefined(sessions.byWorker("w1"))
    }))

  it.effect("sameSecret tells equal secrets from different ones, whatever their lengths", () =>
    Effect.sync(() => {
      assert.isTrue(Sessions.sameSecret("abc", "abc"))
      assert.isFalse(Sessions.sameSecret("abc", "abd"))
      assert.isFalse(Sessions.sameSecret("abc", "abcd"))
      assert.isFalse(Sessions.sameSecret("", "a"))
      assert.isTrue(Sessions.sameSecret("", ""))
    }))
})

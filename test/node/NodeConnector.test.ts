/**
 * Errors a newcomer understands: a worker that cannot reach its host logs
 * every attempt with the URL and what happened, and fails with an error
 * named for it: connection refused, TLS failure, refused credentials, the
 * host gone. Real sockets on 127.0.0.1: a port with nothing listening, a
 * TLS host with a certificate the worker's CA did not sign, a host that
 * wants another token, a host that stops.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Logger, References, Schedule, Schema } from "effect"
import { AgentError, AgentRuntime, TopicId } from "../../src/index.ts"
import { certificates } from "../support/certificates.ts"
import * as Harness from "../support/harness.ts"
import { freePort } from "../support/processes.ts"

class News extends Schema.TaggedClass<News>()("ConnectNews", { text: Schema.String }) {}

/** Runs `effect` with its warnings and errors collected in `lines`. */
const collectingLogs = (lines: Array<string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.provide(Logger.layer([Logger.make((options) => {
      const message = Array.isArray(options.message) ? options.message.map(String).join(" ") : String(options.message)
      lines.push(`${options.logLevel}: ${message}`)
    })])),
    Effect.provideService(References.MinimumLogLevel, "Warn")
  )

/** A worker that must not join `url`: the error it fails with. */
const failedJoin = (url: string, options: Parameters<typeof Harness.worker>[3], logs: Array<string>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Harness.worker(url, "newcomer", undefined, { connectTimeout: "1500 millis", ...options }))
    assert.isTrue(Exit.isFailure(exit), `a worker joined ${url}`)
    const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
    assert.strictEqual(error?._tag, "Some")
    return error?._tag === "Some" ? error.value : undefined
  }).pipe(collectingLogs(logs), Effect.scoped)

/** The `HostUnreachable` inside an `UndeliverableError`, asserted to be one. */
const unreachable = (error: unknown): AgentError.HostUnreachable => {
  assert.isTrue(AgentError.UndeliverableError.is(error), `not an UndeliverableError: ${String(error)}`)
  const reason = (error as AgentError.UndeliverableError).reason
  assert.strictEqual(reason._tag, "HostUnreachable", String(error))
  return reason as AgentError.HostUnreachable
}

/** The attempts the logs tell of, by number, for `url`. */
const attemptsLogged = (lines: ReadonlyArray<string>, url: string, what: string) =>
  lines.filter((line) => line.includes(`cannot reach the host at ${url} (attempt`) && line.includes(what))
    .map((line) => Number(/\(attempt (\d+)\)/.exec(line)![1]))

describe("a worker that cannot reach its host", () => {
  for (const scheme of ["ws", "tcp"] as const) {
    it.live(`${scheme}://: nothing listens on the port: every attempt is logged and the error says connection refused, with the URL`, () =>
      Effect.gen(function*() {
        const port = yield* freePort
        const url = scheme === "ws" ? `ws://127.0.0.1:${port}/` : `tcp://127.0.0.1:${port}`
        const logs: Array<string> = []
        const reason = unreachable(yield* failedJoin(url, {}, logs))
        assert.strictEqual(reason.problem, "ConnectionRefused")
        assert.strictEqual(reason.url, url)
        assert.match(reason.message, new RegExp(`^the host at ${url.replace(/[/.]/g, "\\$&")} is unreachable: connection refused`))
        assert.include(reason.message, "could not join within 1s 500ms")
        // one line per attempt, numbered, each with the URL and the cause
        const attempts = attemptsLogged(logs, url, "connection refused")
        assert.isAtLeast(attempts.length, 2, logs.join("\n"))
        assert.deepStrictEqual(attempts.slice(0, 3), [1, 2, 3].slice(0, Math.min(3, attempts.length)))
      }))
  }

  it.live("the host refuses the worker's credentials: NotAccessibleError at once, naming the host's URL and why", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ token: "the right one" })
      const logs: Array<string> = []
      const error = yield* failedJoin(host.service.url, { token: "a wrong one", connectTimeout: "20 seconds" }, logs)
      assert.isTrue(AgentError.NotAccessibleError.is(error), String(error))
      const refused = error as AgentError.NotAccessibleError
      assert.strictEqual(refused.recipient, `the host at ${host.service.url}`)
      assert.strictEqual(refused.reason, "bad token")
      assert.isTrue(logs.some((line) => line.includes(`the host at ${host.service.url} refused this worker`)), logs.join("\n"))
    }).pipe(Effect.scoped))

  it.live("a TLS host whose certificate the worker's CA did not sign: the error says TLS failure, with the URL", () =>
    Effect.gen(function*() {
      const pki = yield* certificates
      const host = yield* Harness.host({ tls: { cert: pki.cert, key: pki.key } })
      const logs: Array<string> = []
      const reason = unreachable(yield* failedJoin(host.service.url, { tls: { ca: pki.otherCa } }, logs))
      assert.strictEqual(reason.problem, "TlsFailure")
      assert.include(reason.message, `the host at ${host.service.url} is unreachable: TLS failure`)
      assert.isAtLeast(attemptsLogged(logs, host.service.url, "TLS failure").length, 1, logs.join("\n"))
    }).pipe(Effect.scoped))

  it.live("the host goes away after the worker joined: calls fail at once saying so, and the reconnecting attempts are logged", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const url = host.service.url
      const logs: Array<string> = []
      yield* Effect.gen(function*() {
        const worker = yield* Harness.worker(url, "stays")
        yield* host.stop
        // the worker notices the host is gone (the socket closes), then its calls fail at once
        const error = yield* Harness.on(worker, AgentRuntime.publish(TopicId.make("news", "x"), new News({ text: "anyone there?" }))).pipe(
          Effect.flip,
          Effect.repeat({
            schedule: Schedule.spaced("50 millis"),
            until: (e) => AgentError.UndeliverableError.is(e) && e.reason._tag === "HostUnreachable" && e.reason.problem === "HostGone"
          }),
          Effect.timeout("20 seconds")
        )
        const reason = unreachable(error)
        assert.strictEqual(reason.problem, "HostGone")
        assert.include(reason.message, `the host at ${url} is unreachable: the host went away`)
        // the worker goes on trying: its first attempt to reconnect is logged with what it ran into
        yield* Effect.sync(() => attemptsLogged(logs, url, "connection refused").length).pipe(
          Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (n) => n > 0 }),
          Effect.timeout("20 seconds")
        )
      }).pipe(collectingLogs(logs), Effect.scoped)
      assert.isTrue(logs.some((line) => line.includes("lost the host")), logs.join("\n"))
      assert.isAtLeast(attemptsLogged(logs, url, "connection refused").length, 1, logs.join("\n"))
    }).pipe(Effect.scoped))
})

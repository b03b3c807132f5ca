/**
 * TLS served by the host itself (`HostServicer.layer({ tls })`: `wss://` and
 * `tls://`) and verified by the worker (`WorkerRuntime.layer({ tls: { ca } })`),
 * over real loopback sockets. The certificates are made for each test by
 * `openssl` (test/support/certificates.ts): a CA, a server certificate it
 * signs for 127.0.0.1 and localhost, and an unrelated CA.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Layer, Logger, References, Schema } from "effect"
import { Agent, AgentError, AgentRuntime, Subscription, TopicId } from "../../src/index.ts"
import { certificates } from "../support/certificates.ts"
import * as Harness from "../support/harness.ts"

// ---------------------------------------------------------------------------
// agents: an echo that says where it runs, a listener that hands over what it hears
// ---------------------------------------------------------------------------

class Ask extends Schema.TaggedClass<Ask>()("TlsAsk", { text: Schema.String }) {}
class Answer extends Schema.TaggedClass<Answer>()("TlsAnswer", { text: Schema.String, worker: Schema.String }) {}
class Heard extends Schema.TaggedClass<Heard>()("TlsHeard", { text: Schema.String }) {}

const Echo = Agent.make("tls-echo", { Ask: Agent.rpc(Ask, { success: Answer }) })
const echoLive = (worker: string) =>
  Echo.toLayer(Effect.succeed(Echo.of({ Ask: ({ text }) => Effect.succeed(new Answer({ text, worker })) })))

const Listener = Agent.make("tls-listener", { Heard: Agent.event(Heard) })
const listenerLive = (heard: Deferred.Deferred<string>) =>
  Listener.toLayer(
    Effect.gen(function*() {
      const self = yield* Agent.Self
      return Listener.of({ Heard: ({ text }) => Deferred.succeed(heard, `${self.key}:${text}`) })
    }),
    { subscriptions: [Subscription.type("tls-news", "tls-listener")] }
  )

// ---------------------------------------------------------------------------
// logs
// ---------------------------------------------------------------------------

/** Runs `effect` with its logs (warnings and up) collected in `lines`. */
const collectingLogs = (lines: Array<string>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(
      Effect.provide(Logger.layer([Logger.make((options) => {
        const message = Array.isArray(options.message) ? options.message.map(String).join(" ") : String(options.message)
        lines.push(`${options.logLevel}: ${message}`)
      })])),
      Effect.provideService(References.MinimumLogLevel, "Warn")
    )

const connectTimeout = 1000

/** A worker that must not join: fails with `UndeliverableError`/`HostUnreachable`, within `connectTimeout` (plus effect/rpc's 1 s to abandon the unsent `Connect`). */
const refused = (url: string, options: Parameters<typeof Harness.worker>[3], logs: Array<string>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const exit = yield* Effect.exit(Harness.worker(url, "intruder", Layer.empty, { ...options, connectTimeout: `${connectTimeout} millis` }))
    const elapsed = Date.now() - started
    assert.isTrue(Exit.isFailure(exit), `a worker joined ${url} with ${JSON.stringify(options)}`)
    const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
    assert.strictEqual(error?._tag, "Some")
    const failure = error?._tag === "Some" ? error.value : undefined
    assert.isTrue(AgentError.UndeliverableError.is(failure), `not an UndeliverableError: ${String(failure)}`)
    assert.strictEqual((failure as AgentError.UndeliverableError).reason._tag, "HostUnreachable")
    assert.isBelow(elapsed, connectTimeout + 2000, "the worker hung instead of failing within its connectTimeout")
  }).pipe(collectingLogs(logs))

// ---------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------

describe("TLS", () => {
  for (const transport of ["websocket", "tcp"] as const) {
    const scheme = transport === "websocket" ? "wss" : "tls"
    const plain = transport === "websocket" ? "ws" : "tcp"

    it.live(`${transport}: the host serves ${scheme}://; workers that trust its CA send, reply and publish to each other`, () =>
      Effect.gen(function*() {
        const pki = yield* certificates
        // no recovery window: a publish right after the host's start need not wait for subscriptions to come back
        const host = yield* Harness.host({ transport, tls: { cert: pki.cert, key: pki.key }, config: { recoveryWindow: Duration.zero } })
        const url = host.service.url
        assert.match(url, transport === "websocket" ? /^wss:\/\/127\.0\.0\.1:\d+\/$/ : /^tls:\/\/127\.0\.0\.1:\d+$/)
        const heard = yield* Deferred.make<string>()
        yield* Harness.worker(url, "b", Layer.mergeAll(echoLive("b"), listenerLive(heard)), { tls: { ca: pki.ca } })
        const a = yield* Harness.worker(url, "a", Layer.empty, { tls: { ca: pki.ca } })
        assert.deepStrictEqual((yield* host.service.workers).map((w) => w.workerId).sort(), ["a", "b"])

        const answer = yield* Harness.on(a, Effect.flatMap(Echo.client, (echo) => echo("k").Ask({ text: `over ${scheme}` })))
        assert.deepStrictEqual([answer.text, answer.worker], [`over ${scheme}`, "b"])

        yield* Harness.on(a, AgentRuntime.publish(TopicId.make("tls-news", "room"), new Heard({ text: "hello" })))
        assert.strictEqual(yield* Deferred.await(heard).pipe(Effect.timeout("5 seconds")), "room:hello")
      }).pipe(Effect.scoped))

    it.live(`${transport}: a worker that cannot verify the host, or speaks ${plain}:// to it, fails with HostUnreachable and does not join`, () =>
      Effect.gen(function*() {
        const pki = yield* certificates
        const host = yield* Harness.host({ transport, tls: { cert: pki.cert, key: pki.key } })
        const url = host.service.url
        const logs = {
          noCa: [] as Array<string>,
          otherCa: [] as Array<string>,
          wrongName: [] as Array<string>,
          plain: [] as Array<string>
        }
        yield* Effect.all([
          // verification is on by default: the platform's authorities do not know this CA
          refused(url, {}, logs.noCa),
          refused(url, { tls: { ca: pki.otherCa } }, logs.otherCa),
          refused(url, { tls: { ca: pki.ca, servername: "example.com" } }, logs.wrongName),
          refused(url.replace(`${scheme}:`, `${plain}:`), {}, logs.plain)
        ], { concurrency: "unbounded" })
        assert.deepStrictEqual(yield* host.service.workers, [])

        for (const lines of [logs.noCa, logs.otherCa]) {
          assert.isTrue(lines.some((line) => /TLS handshake with the host failed: .*UNABLE_TO_VERIFY_LEAF_SIGNATURE/.test(line)), lines.join("\n"))
        }
        assert.isTrue(logs.wrongName.some((line) => /TLS handshake with the host failed: .*ERR_TLS_CERT_ALTNAME_INVALID/.test(line)), logs.wrongName.join("\n"))
        if (transport === "tcp") {
          assert.isTrue(logs.plain.some((line) => line.includes("handshake with the host failed: the host answered with TLS")), logs.plain.join("\n"))
        }

        // the same host takes a worker that trusts its CA
        yield* Harness.worker(url, "a", Layer.empty, { tls: { ca: pki.ca } })
        assert.deepStrictEqual((yield* host.service.workers).map((w) => w.workerId), ["a"])
      }).pipe(Effect.scoped))
  }

  it.live("a host refuses a key that does not belong to its certificate", () =>
    Effect.gen(function*() {
      const pki = yield* certificates
      const other = yield* certificates
      const exit = yield* Effect.exit(Harness.host({ tls: { cert: pki.cert, key: other.key } }))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "", "the TLS certificate or key cannot be used")
    }).pipe(Effect.scoped))
})

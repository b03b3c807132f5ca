/**
 * The admin endpoints of a host in this process, over real loopback
 * sockets: health and readiness (starting, ready, stopping), the token on
 * the endpoints that show data, the status after real traffic (workers,
 * agent types, subscriptions, rates by type, errors, dead letters), the
 * events stream, and `/metrics` read back by a strict Prometheus parser.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Metric, Schema, Scope, Stream } from "effect"
import { AgentId, AgentRuntime, HostServicer, TopicId } from "../../src/index.ts"
import * as AdminStatus from "../../src/distributed/AdminStatus.ts"
import * as Admin from "../../src/node/Admin.ts"
import * as Harness from "../support/harness.ts"
import { Counter, counterLive, Ping, Tick } from "./agents.ts"
import * as Prometheus from "./prometheus.ts"

const token = "admin-token-for-tests"

const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { headers })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

const authorized = { authorization: `Bearer ${token}` }

const decodeStatus = Schema.decodeUnknownSync(Schema.fromJsonString(AdminStatus.Status))

/** Polls `/status` until `check` holds (a generous bound: the machine may be loaded). */
const statusUntil = (admin: string, check: (status: AdminStatus.Status) => boolean) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 300; attempt++) {
      const status = decodeStatus((yield* get(`${admin}/status`, authorized)).text)
      if (check(status)) return status
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.die(new Error("the status never got there"))
  })

describe("admin endpoints", () => {
  it.live("health, readiness and the token", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ admin: { port: 0, token } })
      const admin = Context.get(host.context as Context.Context<Admin.Admin>, Admin.Admin).url
      assert.match(admin, /^http:\/\/127\.0\.0\.1:\d+$/)

      const live = yield* get(`${admin}/health/live`)
      assert.strictEqual(live.status, 200)
      assert.deepStrictEqual(JSON.parse(live.text), { status: "live" })
      const ready = yield* get(`${admin}/health/ready`)
      assert.strictEqual(ready.status, 200)
      const readiness = JSON.parse(ready.text)
      assert.deepStrictEqual({ ...readiness, recovering: typeof readiness.recovering }, { status: "ready", url: host.service.url, recovering: "boolean" })

      // the endpoints that show data want the token: missing, wrong, malformed
      for (const path of ["/status", "/metrics", "/events"]) {
        const missing = yield* get(`${admin}${path}`)
        assert.strictEqual(missing.status, 401, path)
        assert.include(missing.headers.get("www-authenticate") ?? "", "Bearer")
        assert.strictEqual(JSON.parse(missing.text).error, "unauthorized")
        assert.strictEqual((yield* get(`${admin}${path}`, { authorization: "Bearer wrong-token" })).status, 401, path)
        assert.strictEqual((yield* get(`${admin}${path}`, { authorization: token })).status, 401, path)
      }
      assert.strictEqual((yield* get(`${admin}/status`, authorized)).status, 200)
      // the page holds no data: it is served without the token
      const page = yield* get(`${admin}/dashboard`)
      assert.strictEqual(page.status, 200)
      assert.include(page.headers.get("content-type") ?? "", "text/html")
      assert.notInclude(page.text, "<script src", "the page loads nothing from elsewhere")
      // the only address in it is the SVG namespace, which is a name, not something fetched
      const addresses = page.text.split("http://www.w3.org/2000/svg").join("")
      assert.notMatch(addresses, /https?:\/\//, "the page links nothing outside the host")
    }).pipe(Effect.scoped))

  it.live("readiness: starting before the host listens, stopping once it stops", () =>
    Effect.gen(function*() {
      const target = Admin.makeTarget()
      const server = yield* Layer.build(Admin.layerServer({ port: 0 }, target))
      const admin = Context.get(server, Admin.Admin).url
      const starting = yield* get(`${admin}/health/ready`)
      assert.strictEqual(starting.status, 503)
      assert.deepStrictEqual(JSON.parse(starting.text), { status: "starting" })
      assert.strictEqual((yield* get(`${admin}/health/live`)).status, 200)
      assert.strictEqual((yield* get(`${admin}/status`)).status, 503)

      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(Admin.tracking(target, HostServicer.layer({ port: 0 })), scope)
      assert.strictEqual((yield* get(`${admin}/health/ready`)).status, 200)
      yield* Scope.close(scope, Exit.void)
      const stopping = yield* get(`${admin}/health/ready`)
      assert.strictEqual(stopping.status, 503)
      assert.deepStrictEqual(JSON.parse(stopping.text), { status: "stopping" })
    }).pipe(Effect.scoped))

  it.live("event streams are bounded, and a closed one gives its place back", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const target = Admin.makeTarget()
      target.host = host.service
      const server = yield* Layer.build(Admin.layerServer({ port: 0, maxEventStreams: 1, eventInterval: 200 }, target))
      const admin = Context.get(server, Admin.Admin).url
      const open = Effect.promise(async () => {
        const controller = new AbortController()
        const response = await fetch(`${admin}/events`, { signal: controller.signal })
        if (response.status === 200) await response.body!.getReader().read()
        else await response.text()
        return { status: response.status, close: () => controller.abort() }
      })
      const first = yield* open
      assert.strictEqual(first.status, 200)
      const second = yield* open
      assert.strictEqual(second.status, 503)
      first.close()
      // the server sees the close on its next write: poll until the place is free
      let again = yield* open
      for (let attempt = 0; again.status !== 200 && attempt < 300; attempt++) {
        yield* Effect.sleep("100 millis")
        again = yield* open
      }
      assert.strictEqual(again.status, 200)
      again.close()
    }).pipe(Effect.scoped))

  it.live("a worker's health: ready while it reaches its host", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const worker = yield* Harness.worker(host.service.url, "ops-health")
      const health = yield* Layer.build(Admin.layerWorker({ port: 0 }).pipe(Layer.provide(Layer.succeedContext(worker.context))))
      const url = Context.get(health, Admin.Admin).url
      assert.deepStrictEqual(JSON.parse((yield* get(`${url}/health/live`)).text), { status: "live" })
      const ready = yield* get(`${url}/health/ready`)
      assert.strictEqual(ready.status, 200)
      assert.deepStrictEqual(JSON.parse(ready.text), { status: "ready" })
      // the host goes away: the worker is still live, not ready
      yield* host.stop
      const alone = yield* get(`${url}/health/ready`)
      assert.strictEqual(alone.status, 503)
      assert.strictEqual((yield* get(`${url}/health/live`)).status, 200)
    }).pipe(Effect.scoped))

  it.live("status and metrics after real traffic", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ admin: { port: 0, token } })
      const admin = Context.get(host.context as Context.Context<Admin.Admin>, Admin.Admin).url
      yield* Harness.worker(host.service.url, "ops-a", counterLive("ops-a"))
      yield* Harness.worker(host.service.url, "ops-b", counterLive("ops-b"))
      const driver = yield* Harness.worker(host.service.url, "ops-driver")

      yield* Harness.on(driver, Effect.gen(function*() {
        const counter = yield* Counter.client
        for (let i = 0; i < 20; i++) yield* counter(`k${i}`).Ping({})
        assert.deepStrictEqual([...(yield* Stream.runCollect(counter("k0").Words({ text: "one two three" })))], ["one", "two", "three"])
        yield* AgentRuntime.publish(TopicId.make("ticks", "k1"), new Tick({ fail: false }))
        yield* AgentRuntime.publish(TopicId.make("ticks", "k2"), new Tick({ fail: true }))
        yield* AgentRuntime.awaitIdle
      }))

      const status = yield* statusUntil(admin, (s) => s.totals.deadLetters >= 1)
      assert.deepStrictEqual(status.workers.map((w) => w.workerId).sort(), ["ops-a", "ops-b", "ops-driver"])
      const a = status.workers.find((w) => w.workerId === "ops-a")!
      assert.deepStrictEqual(a.agentTypes, ["counter"])
      assert.isAtMost(a.since, status.now)
      assert.isAtLeast(a.since, status.startedAt)
      assert.strictEqual(a.inFlight, 0)
      const counter = status.agentTypes.find((t) => t.name === "counter")!
      assert.deepStrictEqual([...counter.workers].sort(), ["ops-a", "ops-b"])
      // 20 keys placed, plus the two the ticks went to
      assert.strictEqual(counter.placements, status.totals.placements)
      assert.isAtLeast(counter.placements, 20)
      const ticks = status.subscriptions.find((s) => s.topic === "ticks")!
      assert.strictEqual(ticks.agentType, "counter")
      assert.deepStrictEqual([...ticks.owners].sort(), ["ops-a", "ops-b"])
      const ping = status.rates.types.find((t) => t.messageType === "Ping")!
      assert.strictEqual(ping.sent, 20)
      assert.strictEqual(ping.totals.sent, 20)
      // a streaming send counts as a send
      assert.strictEqual(status.rates.types.find((t) => t.messageType === "Words")!.sent, 1)
      const tick = status.rates.types.find((t) => t.messageType === "Tick")!
      assert.strictEqual(tick.published, 2)
      assert.strictEqual(tick.failed, 1)
      assert.deepStrictEqual(tick.errors, { HandlerError: 1 })
      assert.strictEqual(status.rates.perSecond.sent.length, 60)
      assert.strictEqual(status.rates.perSecond.sent.reduce((n, x) => n + x, 0), 21)
      const [letter] = status.deadLetters
      assert.strictEqual(letter!.recipient, "counter/k2")
      assert.strictEqual(letter!.messageType, "Tick")
      assert.strictEqual(letter!.topic, "ticks/k2")
      assert.strictEqual(letter!.error, "HandlerError")
      assert.notInclude(JSON.stringify(status.deadLetters), "\"fail\"", "a dead letter carries no payload")

      // a failed send counts by its error's tag
      const refused = yield* Harness.on(driver, Effect.flip(AgentRuntime.send(AgentId.make("nobody", "x"), new Ping({}))))
      assert.strictEqual(refused._tag, "UndeliverableError")
      const failed = yield* statusUntil(admin, (s) => (s.rates.types.find((t) => t.messageType === "Ping")?.failed ?? 0) >= 1)
      assert.deepStrictEqual(Object.keys(failed.rates.types.find((t) => t.messageType === "Ping")!.errors), ["UndeliverableError"])

      // metrics: whatever is in the registry, and the host's own
      yield* Metric.update(Metric.counter("ops_test_scrapes_total", { description: "A test's own counter" }), 3)
      const metrics = yield* get(`${admin}/metrics`, authorized)
      assert.strictEqual(metrics.status, 200)
      assert.include(metrics.headers.get("content-type") ?? "", "text/plain; version=0.0.4")
      const families = Prometheus.parse(metrics.text)
      assert.strictEqual(families.get("ops_test_scrapes_total")?.type, "counter")
      assert.strictEqual(Prometheus.value(families, "ops_test_scrapes_total", "ops_test_scrapes_total"), 3)
      assert.strictEqual(Prometheus.value(families, "effect_agents_host_up", "effect_agents_host_up"), 1)
      assert.strictEqual(Prometheus.value(families, "effect_agents_host_workers", "effect_agents_host_workers"), 3)
      assert.strictEqual(Prometheus.value(families, "effect_agents_host_dead_letters_total", "effect_agents_host_dead_letters_total"), 1)
      assert.strictEqual(
        Prometheus.value(families, "effect_agents_host_messages_total", "effect_agents_host_messages_total", { kind: "sent", message_type: "Ping" }),
        21
      )
      assert.strictEqual(
        Prometheus.value(families, "effect_agents_host_worker_in_flight", "effect_agents_host_worker_in_flight", { worker: "ops-a" }),
        0
      )

      // the events stream sends the status, decodable, again and again
      const events = yield* Effect.promise(async () => {
        const controller = new AbortController()
        const response = await fetch(`${admin}/events`, { headers: authorized, signal: controller.signal })
        const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
        let text = ""
        while ((text.match(/\n\n/g) ?? []).length < 2) text += (await reader.read()).value ?? ""
        controller.abort()
        return { type: response.headers.get("content-type"), text }
      })
      assert.include(events.type ?? "", "text/event-stream")
      const data = events.text.split("\n\n").filter((e) => e.includes("data:")).map((e) => e.slice(e.indexOf("data:") + 5).trim())
      assert.isAtLeast(data.length, 2)
      for (const d of data) assert.deepStrictEqual(decodeStatus(d).workers.length, 3)
    }).pipe(Effect.scoped), 60_000)
})

/**
 * The distributed runtime's boundaries, tried as an attacker would (the
 * rows of the boundaries issue that need no killed process or broken link):
 * a hijacked worker id, state read and written past the policy, a stranger
 * removing subscriptions, forged senders, a deeply nested state. Host and
 * workers run in this process over real loopback sockets; each test prints
 * its figures.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Ref, Schema } from "effect"
import { type AccessPolicy, Agent, AgentRuntime, Subscription, TopicId } from "../../src/index.ts"
import * as Credentials from "../../src/distributed/Credentials.ts"
import * as Raw from "../distributed/raw-client.ts"
import * as Harness from "../support/harness.ts"

class Bump extends Schema.TaggedClass<Bump>()("Bump", { by: Schema.Number }) {}
class Get extends Schema.TaggedClass<Get>()("Get", {}) {}
class Whoami extends Schema.TaggedClass<Whoami>()("Whoami", {}) {}
class Noted extends Schema.TaggedClass<Noted>()("Noted", { n: Schema.Number }) {}

/** A counter that says which worker answers. */
const Vault = Agent.make("vault", {
  Bump: Agent.rpc(Bump, { success: Schema.Number }),
  Get: Agent.rpc(Get, { success: Schema.Number }),
  Whoami: Agent.rpc(Whoami, { success: Schema.String }),
  Noted: Agent.event(Noted)
})
const vaultLive = (worker: string) =>
  Vault.toLayer(Effect.gen(function*() {
    const count = yield* Agent.state(Schema.Struct({ count: Schema.Number }), { count: 0 }, { name: "count" })
    return Vault.of({
      Bump: ({ by }) => Ref.updateAndGet(count, ({ count }) => ({ count: count + by })).pipe(Effect.map((s) => s.count)),
      Get: () => Effect.map(Ref.get(count), (s) => s.count),
      Whoami: () => Effect.succeed(worker),
      Noted: ({ n }) => Ref.update(count, ({ count }) => ({ count: count + n }))
    })
  }), { subscriptions: [Subscription.type("notes")] })

/** Only agents of type vault may read or write a vault's state; everything else is allowed. */
const statePolicy: AccessPolicy.AccessPolicy = ({ operation, recipient, sender }) =>
  recipient.type !== "vault" || (operation !== "saveState" && operation !== "loadState") || sender?.type === "vault"

const runtimeService = Effect.gen(function*() {
  return yield* AgentRuntime.AgentRuntime
})

const bump = (key: string, by = 1) => Effect.flatMap(Vault.client, (vault) => vault(key).Bump({ by }))

describe("boundaries under attack", () => {
  it.live("a second connection claiming a live worker id is refused and intercepts nothing", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ token: "shared-secret" })
      yield* Harness.worker(host.service.url, "victim", vaultLive("victim"), { token: "shared-secret" })
      const client = yield* Harness.worker(host.service.url, "client", Layer.empty, { token: "shared-secret" })
      const hijack = yield* Effect.exit(Harness.worker(host.service.url, "victim", vaultLive("impostor"), { token: "shared-secret", connectTimeout: "1500 millis" }))
      assert.isTrue(Exit.isFailure(hijack))
      const refusal = Exit.isFailure(hijack) ? String(hijack.cause) : ""
      assert.include(refusal, "NotAccessibleError")
      const answers = yield* Harness.on(client, Effect.forEach(Array.from({ length: 200 }, (_, i) => `k${i}`), (key) =>
        Effect.flatMap(Vault.client, (vault) => vault(key).Whoami({}))))
      const byImpostor = answers.filter((a) => a !== "victim").length
      console.log(`hijack: refused=${Exit.isFailure(hijack)}; 200 sends to the victim's agents, answered by the impostor: ${byImpostor}`)
      assert.strictEqual(byImpostor, 0)
      assert.deepStrictEqual((yield* host.service.workers).map((w) => w.workerId).sort(), ["client", "victim"])
    }).pipe(Effect.scoped))

  it.live("a worker the policy denies reads and writes no agent state, and saveAll leaves it out", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ policy: statePolicy })
      yield* Harness.worker(host.service.url, "owner", vaultLive("owner"))
      const thief = yield* Harness.worker(host.service.url, "thief")
      yield* Harness.on(thief, bump("k1", 7))
      const runtime = yield* Harness.on(thief, runtimeService)
      const read = yield* Effect.flip(runtime.saveState(Vault.id("k1")))
      const write = yield* Effect.flip(runtime.loadState(Vault.id("k1"), { count: { count: 424242 } }))
      const all = yield* runtime.saveAll
      const loadAll = yield* Effect.flip(runtime.loadAll({ "vault/k1": { count: { count: 424242 } } }))
      const after = yield* Harness.on(thief, Effect.flatMap(Vault.client, (vault) => vault("k1").Get({})))
      console.log(`state: saveState ${read._tag}, loadState ${write._tag}, loadAll ${loadAll._tag}, saveAll keys ${JSON.stringify(Object.keys(all))}, value after ${after}`)
      assert.strictEqual(read._tag, "NotAccessibleError")
      assert.strictEqual(write._tag, "NotAccessibleError")
      assert.strictEqual(loadAll._tag, "NotAccessibleError")
      assert.deepStrictEqual(Object.keys(all), [])
      assert.strictEqual(after, 7)
    }).pipe(Effect.scoped))

  it.live("a worker cannot remove another worker's subscription: every later publish is still delivered", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      yield* Harness.worker(host.service.url, "owner", vaultLive("owner"))
      const stranger = yield* Harness.worker(host.service.url, "stranger")
      const removed = yield* Harness.on(stranger, AgentRuntime.removeSubscription(Subscription.id(Subscription.type("notes", "vault"))))
      yield* Harness.on(stranger, Effect.gen(function*() {
        for (let i = 0; i < 500; i++) yield* AgentRuntime.publish(TopicId.make("notes", "k1"), new Noted({ n: 1 }))
        yield* AgentRuntime.awaitIdle
      }))
      const delivered = yield* Harness.on(stranger, Effect.flatMap(Vault.client, (vault) => vault("k1").Get({})))
      console.log(`subscription: stranger's remove returned ${removed}; 500 publishes after it, delivered ${delivered}`)
      assert.isFalse(removed)
      assert.strictEqual(delivered, 500)
    }).pipe(Effect.scoped))

  it.live("a deeply nested state is refused with a typed error and the worker keeps serving", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      yield* Harness.worker(host.service.url, "owner", vaultLive("owner"))
      const client = yield* Harness.worker(host.service.url, "client")
      yield* Harness.on(client, bump("k1"))
      let deep: unknown = { count: 1 }
      for (let i = 0; i < 5000; i++) deep = { nested: deep }
      const runtime = yield* Harness.on(client, runtimeService)
      const refused = yield* Effect.flip(runtime.loadState(Vault.id("k1"), { count: deep }))
      const later = yield* Harness.on(client, Effect.forEach(Array.from({ length: 24 }, (_, i) => `d${i}`), (key) => bump(key)))
      console.log(`deep state: ${refused._tag} (${refused.message.slice(0, 80)}); 24 later sends answered: ${later.length}`)
      assert.strictEqual(refused._tag, "InvalidMessageError")
      assert.deepStrictEqual(later, Array.from({ length: 24 }, () => 1))
    }).pipe(Effect.scoped))
})

describe("refused requests leave nothing behind", () => {
  it.live("forged senders are refused, and the host's placements do not grow", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      yield* Harness.worker(host.service.url, "owner", vaultLive("owner"))
      const forger = yield* Raw.open(host.service.url, "forger")
      yield* forger.join({ workerId: "forger" })
      const before = yield* host.service.stats
      const count = Number(process.env.FAULT_FORGED ?? 20_000)
      const ids: Array<string | number> = []
      for (let i = 0; i < count; i++) {
        ids.push(forger.request("Send", {
          recipient: { type: "vault", key: "k1" },
          sender: { type: "vault", key: `forged-${i}` },
          messageId: `m${i}`,
          chain: [],
          message: { type: "Get", data: { _tag: "Get" } }
        }))
        if (i % 1000 === 999) yield* Effect.sleep("1 millis")
      }
      const exits = yield* Effect.forEach(ids, (id) => forger.exit(id, 30_000))
      const refused = exits.filter((e) => JSON.stringify(e).includes("NotAccessibleError")).length
      const after = yield* host.service.stats
      console.log(`forged senders: ${count} sends, ${refused} refused with NotAccessibleError; placements ${before.placements} -> ${after.placements}, pending ${after.pendingRequests}`)
      assert.strictEqual(refused, count)
      assert.strictEqual(after.placements, before.placements)
      assert.strictEqual(after.pendingRequests, 0)
    }).pipe(Effect.scoped), 60_000)
})

describe("per-worker credentials", () => {
  const credentials = [
    new Credentials.Credential({ name: "billing", secret: "billing-secret-1", workers: ["billing-*"], agentTypes: ["vault"], publish: ["notes"] }),
    new Credentials.Credential({ name: "reader", secret: "reader-secret-1", workers: ["reader"], agentTypes: [], publish: [] })
  ]

  it.live("a worker joins only under the ids, registers only the types and publishes only on the topics its credential names", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ credentials })
      const billing = yield* Harness.worker(host.service.url, "billing-1", vaultLive("billing-1"), { token: "billing-secret-1" })
      const wrongId = yield* Effect.flip(Harness.worker(host.service.url, "other", Layer.empty, { token: "billing-secret-1", connectTimeout: "1 second" }))
      const badToken = yield* Effect.flip(Harness.worker(host.service.url, "billing-2", Layer.empty, { token: "not-a-secret", connectTimeout: "1 second" }))
      const wrongType = yield* Effect.flip(Harness.worker(host.service.url, "reader", vaultLive("reader"), { token: "reader-secret-1" }))
      const reader = yield* Harness.worker(host.service.url, "reader", Layer.empty, { token: "reader-secret-1" })
      const published = yield* Effect.flip(Harness.on(reader, AgentRuntime.publish(TopicId.make("notes", "k1"), new Noted({ n: 1 }))))
      yield* Harness.on(billing, AgentRuntime.publish(TopicId.make("notes", "k1"), new Noted({ n: 2 })))
      yield* Harness.on(billing, AgentRuntime.awaitIdle)
      const count = yield* Harness.on(reader, Effect.flatMap(Vault.client, (vault) => vault("k1").Get({})))
      const tags = [wrongId, badToken, wrongType, published].map((e) => String((e as { _tag?: unknown })._tag ?? e))
      console.log(`credentials: wrong id ${tags[0]}, bad token ${tags[1]}, unlisted type ${tags[2]}, unlisted topic ${tags[3]}; the allowed publish counted: ${count}`)
      assert.deepStrictEqual(tags, ["NotAccessibleError", "NotAccessibleError", "NotAccessibleError", "NotAccessibleError"])
      assert.strictEqual(count, 2)
    }).pipe(Effect.scoped))
})

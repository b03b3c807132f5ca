/**
 * The raw Effect floors: the same traffic shapes as the agent cases, over
 * Effect's own primitives with nothing on top. An agent runtime built on
 * Effect cannot beat these; the ratio ours/floor is what our layers cost.
 */
import { Effect, Fiber, PubSub, Queue } from "effect"
import type { Case } from "./harness.ts"

/** Two fibers ping-ponging over two Queues: one round trip = offer, take, offer, take. */
export const pingPong: Case = {
  name: "2 fibers ping-pong over 2 Queues",
  unit: "round trips",
  make: Effect.gen(function*() {
    const requests = yield* Queue.unbounded<number>()
    const replies = yield* Queue.unbounded<number>()
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(requests), (x) => Queue.offer(replies, x + 1))))
    return (n) =>
      Effect.gen(function*() {
        for (let i = 0; i < n; i++) {
          yield* Queue.offer(requests, i)
          yield* Queue.take(replies)
        }
      })
  })
}

/** One fiber offering to a Queue, another taking one at a time; done when the consumer has all n. */
export const queueOneConsumer: Case = {
  name: "Queue, 1 producer -> 1 consumer",
  unit: "messages",
  make: Effect.gen(function*() {
    const queue = yield* Queue.unbounded<number>()
    return (n) =>
      Effect.gen(function*() {
        const consumer = yield* Effect.forkChild(Effect.gen(function*() {
          for (let i = 0; i < n; i++) yield* Queue.take(queue)
        }))
        for (let i = 0; i < n; i++) yield* Queue.offer(queue, i)
        yield* Fiber.join(consumer)
      })
  })
}

/** A PubSub with `subscribers` fibers each taking one at a time; counts deliveries (publishes x subscribers). */
export const pubSubFanOut = (subscribers: number): Case => ({
  name: `PubSub -> ${subscribers} subscriber fibers`,
  unit: "deliveries",
  make: Effect.gen(function*() {
    const pubsub = yield* PubSub.unbounded<number>()
    const subs = yield* Effect.forEach(Array.from({ length: subscribers }), () => PubSub.subscribe(pubsub))
    return (deliveries) =>
      Effect.gen(function*() {
        const n = Math.max(1, Math.round(deliveries / subscribers))
        const consumers = yield* Effect.forEach(subs, (sub) =>
          Effect.forkChild(Effect.gen(function*() {
            for (let i = 0; i < n; i++) yield* PubSub.take(sub)
          })))
        for (let i = 0; i < n; i++) yield* PubSub.publish(pubsub, i)
        yield* Fiber.joinAll(consumers)
        return n * subscribers
      })
  })
})

/**
 * Counts work in flight (queued or running messages, pending sends) and lets
 * fibers wait for the count to reach zero. The latch only changes on the
 * 0 <-> 1 transitions, so waiting costs nothing and counting stays cheap.
 */
import { Effect, Latch } from "effect"

export interface Idle {
  readonly enter: () => void
  readonly exit: () => void
  readonly pending: () => number
  readonly await: Effect.Effect<void>
}

export const make = (): Idle => {
  let count = 0
  const latch = Latch.makeUnsafe(true)
  return {
    enter: () => {
      if (count++ === 0) latch.closeUnsafe()
    },
    exit: () => {
      if (--count === 0) latch.openUnsafe()
    },
    pending: () => count,
    // wait twice: work that finishes may start more in the same tick
    await: Effect.suspend(() => latch.await).pipe(Effect.andThen(Effect.yieldNow), Effect.andThen(Effect.suspend(() => latch.await)))
  }
}

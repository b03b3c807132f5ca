/**
 * What the host did recently, for its status: per-second counters of the
 * messages it routed, by message type, over the last minute (a ring of 60
 * slots per type), totals since it started, the errors by type and tag, and
 * a ring of the latest dead letters (ids and reasons, never payloads).
 *
 * It sits on the message paths, so recording is a map lookup and an array
 * increment; and it is bounded whatever the traffic: past `maxTypes` message
 * types (or `maxErrorTags` error tags of one type) the rest share one
 * `(other)` row, and the dead-letter ring keeps the newest `maxDeadLetters`.
 */
import type { AgentError } from "../../core/AgentError.ts"

/** Seconds the rates cover. */
export const windowSeconds = 60

/** What happened to a message at the host. */
export type Kind = "sent" | "published" | "failed"

/** The counts of one message type over the window, oldest second first. */
export interface TypeActivity {
  readonly messageType: string
  readonly sent: number
  readonly published: number
  readonly failed: number
  /** Failures over the window by error tag. */
  readonly errors: Readonly<Record<string, number>>
  /** Since the host started. */
  readonly totals: { readonly sent: number; readonly published: number; readonly failed: number }
}

/** One recent dead letter: who, what type, why; never the payload. */
export interface RecentDeadLetter {
  /** Clock millis. */
  readonly at: number
  readonly recipient: string
  readonly messageType: string
  readonly sender?: string
  readonly topic?: string
  /** The error's tag (`UndeliverableError`, `HandlerError`, ...). */
  readonly error: string
  /** The error's message, shortened. */
  readonly reason: string
}

export interface Activity {
  /** Counts one message of `messageType`; `error` (a tag) for a failure. */
  readonly record: (kind: Kind, messageType: string, error?: string) => void
  /** Records a dead letter (and counts it as a failure of its type). */
  readonly deadLetter: (letter: {
    readonly recipient: string
    readonly messageType: string
    readonly sender?: string | undefined
    readonly topic?: string | undefined
    readonly error: AgentError
  }) => void
  /** Every type seen, with its counts over the window ending now. */
  readonly types: () => ReadonlyArray<TypeActivity>
  /** All types together, per second over the window ending now, oldest first. */
  readonly series: () => { readonly [K in Kind]: ReadonlyArray<number> }
  /** The latest dead letters, newest first. */
  readonly deadLetters: () => ReadonlyArray<RecentDeadLetter>
  /** Dead letters since the host started. */
  readonly deadLetterTotal: () => number
}

/** The bounds of an `Activity`. */
export interface Limits {
  readonly maxTypes: number
  readonly maxErrorTags: number
  readonly maxDeadLetters: number
}

export const defaultLimits: Limits = { maxTypes: 256, maxErrorTags: 16, maxDeadLetters: 100 }

/** The name the types past the limit share. */
export const other = "(other)"

const maxText = 256

const shorten = (s: string) => s.length <= maxText ? s : `${s.slice(0, maxText - 1)}…`

/** Per-second counts in a ring: each slot remembers which second it holds, so a stale slot reads as 0. */
class Ring {
  readonly counts = new Float64Array(windowSeconds)
  readonly seconds = new Float64Array(windowSeconds).fill(-1)
  total = 0
  add(second: number) {
    const slot = second % windowSeconds
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second
      this.counts[slot] = 0
    }
    this.counts[slot]!++
    this.total++
  }
  /** The count of the window ending at `second`. */
  sum(second: number) {
    let n = 0
    for (let slot = 0; slot < windowSeconds; slot++) {
      const at = this.seconds[slot]!
      if (at > second - windowSeconds && at <= second) n += this.counts[slot]!
    }
    return n
  }
  /** Adds this ring's counts of the window ending at `second` into `into` (oldest first). */
  addInto(into: Array<number>, second: number) {
    for (let i = 0; i < windowSeconds; i++) {
      const at = second - windowSeconds + 1 + i
      if (at < 0) continue
      const slot = at % windowSeconds
      if (this.seconds[slot] === at) into[i]! += this.counts[slot]!
    }
  }
}

interface Row {
  readonly sent: Ring
  readonly published: Ring
  readonly failed: Ring
  readonly errors: Map<string, Ring>
}

/** An empty activity record; `now` is the host's clock (millis). */
export const make = (now: () => number, limits: Limits = defaultLimits): Activity => {
  const rows = new Map<string, Row>()
  const letters: Array<RecentDeadLetter> = []
  let next = 0
  let letterTotal = 0
  const row = (messageType: string): Row => {
    let found = rows.get(messageType)
    if (found === undefined) {
      const name = rows.size >= limits.maxTypes ? other : messageType
      found = rows.get(name)
      if (found === undefined) rows.set(name, found = { sent: new Ring(), published: new Ring(), failed: new Ring(), errors: new Map() })
    }
    return found
  }
  const second = () => Math.floor(now() / 1000)
  const record = (kind: Kind, messageType: string, error?: string) => {
    const at = second()
    const r = row(messageType)
    r[kind].add(at)
    if (error === undefined) return
    let ring = r.errors.get(error)
    if (ring === undefined) {
      const tag = r.errors.size >= limits.maxErrorTags ? other : error
      ring = r.errors.get(tag)
      if (ring === undefined) r.errors.set(tag, ring = new Ring())
    }
    ring.add(at)
  }
  return {
    record,
    deadLetter: (letter) => {
      const tag = letter.error._tag
      record("failed", letter.messageType, tag)
      letterTotal++
      const entry: RecentDeadLetter = {
        at: now(),
        recipient: shorten(letter.recipient),
        messageType: shorten(letter.messageType),
        ...(letter.sender !== undefined ? { sender: shorten(letter.sender) } : {}),
        ...(letter.topic !== undefined ? { topic: shorten(letter.topic) } : {}),
        error: tag,
        reason: shorten(letter.error.message)
      }
      // a ring: the oldest is overwritten once it is full
      if (letters.length < limits.maxDeadLetters) letters.push(entry)
      else letters[next] = entry
      next = (next + 1) % limits.maxDeadLetters
    },
    types: () => {
      const at = second()
      return [...rows].map(([messageType, r]): TypeActivity => {
        const errors: Record<string, number> = {}
        for (const [tag, ring] of r.errors) {
          const n = ring.sum(at)
          if (n > 0) errors[tag] = n
        }
        return {
          messageType,
          sent: r.sent.sum(at),
          published: r.published.sum(at),
          failed: r.failed.sum(at),
          errors,
          totals: { sent: r.sent.total, published: r.published.total, failed: r.failed.total }
        }
      })
    },
    series: () => {
      const at = second()
      const zero = () => Array.from({ length: windowSeconds }, () => 0)
      const out = { sent: zero(), published: zero(), failed: zero() }
      for (const r of rows.values()) {
        r.sent.addInto(out.sent, at)
        r.published.addInto(out.published, at)
        r.failed.addInto(out.failed, at)
      }
      return out
    },
    deadLetters: () => {
      const newestFirst: Array<RecentDeadLetter> = []
      for (let i = 1; i <= letters.length; i++) newestFirst.push(letters[(next - i + letters.length * 2) % letters.length]!)
      return newestFirst
    },
    deadLetterTotal: () => letterTotal
  }
}

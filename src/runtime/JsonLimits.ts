/**
 * Limits on JSON that crosses a boundary: how large and how deeply nested a
 * payload, reply or saved state may be. The depth check walks with an
 * explicit stack, so no input can make it (or the encoders and formatters
 * after it) recurse without bound. Shared by the kernel (state a caller
 * loads), the worker and the host.
 */
import { InvalidMessageError } from "../core/AgentError.ts"

/** The payload limits of a process. */
export interface Limits {
  readonly maxBytes: number
  readonly maxDepth: number
}

/** The UTF-8 length of a string, without encoding it. */
const utf8Length = (s: string): number => {
  let bytes = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) bytes += 1
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      bytes += 2 // a surrogate pair: 4 bytes for 2 code units
      i++
    } else bytes += 2
  }
  return bytes
}

/** The size of a JSON value in bytes, or `undefined` if it is not JSON. */
export const byteSize = (value: unknown): number | undefined => {
  try {
    return utf8Length(JSON.stringify(value) ?? "")
  } catch {
    return undefined
  }
}

/**
 * Whether a JSON value nests arrays and objects no deeper than `max`. It
 * walks with an explicit stack, so no input can make it (or anything after
 * it) recurse without bound.
 */
export const depthWithin = (value: unknown, max: number): boolean => {
  if (typeof value !== "object" || value === null) return true
  const stack: Array<unknown> = [value]
  const depths: Array<number> = [0]
  while (stack.length > 0) {
    const node = stack.pop() as object
    const depth = depths.pop()!
    if (depth >= max) return false
    const children: Iterable<unknown> = Array.isArray(node) ? node : Object.values(node)
    for (const child of children) {
      if (typeof child === "object" && child !== null) {
        stack.push(child)
        depths.push(depth + 1)
      }
    }
  }
  return true
}

/** An upper bound of a primitive's JSON bytes, and the plain estimate (a string: 6 bytes a UTF-16 unit at worst, when escaped). */
const primitiveBound = (value: unknown): readonly [bound: number, estimate: number] =>
  typeof value === "string"
    ? [6 * value.length + 2, value.length + 2]
    : typeof value === "number"
    ? [24, 12]
    : typeof value === "boolean" || value === null || value === undefined
    ? [5, 5]
    // not JSON (a bigint, a function): no bound, so the exact measure decides
    : [Infinity, 0]

/**
 * One walk with an explicit stack: the nesting depth, and an upper bound of
 * the encoded size with a plain estimate of it. `undefined` when the value is
 * nested deeper than `maxDepth`.
 */
const walk = (value: unknown, maxDepth: number): readonly [bound: number, estimate: number] | undefined => {
  if (typeof value !== "object" || value === null) return primitiveBound(value)
  let bound = 0
  let estimate = 0
  const stack: Array<unknown> = [value]
  const depths: Array<number> = [0]
  while (stack.length > 0) {
    const node = stack.pop() as object
    const depth = depths.pop()!
    if (depth >= maxDepth) return undefined
    const isArray = Array.isArray(node)
    const keys = isArray ? undefined : Object.keys(node)
    const children: ReadonlyArray<unknown> = isArray ? node as ReadonlyArray<unknown> : keys!.map((k) => (node as Record<string, unknown>)[k])
    bound += 2 + children.length
    estimate += 2 + children.length
    if (keys !== undefined) {
      for (const key of keys) {
        bound += 6 * key.length + 3
        estimate += key.length + 3
      }
    }
    for (const child of children) {
      if (typeof child === "object" && child !== null) {
        stack.push(child)
        depths.push(depth + 1)
      } else {
        const [b, e] = primitiveBound(child)
        bound += b
        estimate += e
      }
    }
  }
  return [bound, estimate]
}

/**
 * The size of `data` in bytes of JSON, or `InvalidMessageError` if it is not
 * within the limits (depth first: nothing deep is ever encoded). A value whose
 * upper bound is within `maxBytes` is not encoded at all (the common, small
 * case) and its size is estimated; only one near the limit is measured exactly.
 */
export const measure = (
  messageType: string,
  data: unknown,
  limits: Limits,
  whose: string
): number | InvalidMessageError => {
  const walked = walk(data, limits.maxDepth)
  if (walked === undefined) {
    return new InvalidMessageError({ messageType, issue: `nested deeper than ${whose} limit of ${limits.maxDepth}` })
  }
  if (walked[0] <= limits.maxBytes) return walked[1]
  const bytes = byteSize(data)
  if (bytes === undefined) return new InvalidMessageError({ messageType, issue: "not JSON" })
  return bytes <= limits.maxBytes ? bytes : new InvalidMessageError({ messageType, issue: `${bytes} bytes exceeds ${whose} limit of ${limits.maxBytes}` })
}

/** `InvalidMessageError` unless `data` is JSON nested at most `maxDepth` deep and of at most `maxBytes` bytes. */
export const checkPayload = (
  messageType: string,
  data: unknown,
  limits: { readonly maxBytes: number; readonly maxDepth: number },
  whose: string
): InvalidMessageError | undefined => {
  const measured = measure(messageType, data, limits, whose)
  return typeof measured === "number" ? undefined : measured
}

/** The payload size of a checked value (0 if it is not JSON: it was refused before). */
export const sizeOf = (data: unknown): number => byteSize(data) ?? 0

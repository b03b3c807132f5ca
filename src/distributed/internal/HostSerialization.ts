/**
 * The host's framing, the same on both transports. effect/rpc's socket
 * protocol treats the two differently: on WebSocket it prepends the upgrade
 * request's headers to each request's `headers`, so a request without an
 * array there (none, or `{}`) breaks the connection (close code 1011) where
 * TCP answers it; its JSON parser takes a message holding an array of
 * envelopes as those envelopes, where its NDJSON parser takes such a line as
 * one envelope of no tag. Workers in other languages meet both. This wraps
 * the host's serialization so that every transport accepts an array of
 * envelopes per frame (or line) and a request without `headers` (or with an
 * object of them) as if it had sent `[]` (or the object's entries).
 */
import { Layer, Predicate } from "effect"
import { RpcSerialization } from "effect/rpc"

/** A request's headers as effect/rpc needs them: `[name, value]` pairs. */
const headerPairs = (headers: unknown): ReadonlyArray<readonly [string, string]> => {
  if (Array.isArray(headers)) return headers
  if (Predicate.isObject(headers)) {
    return Object.entries(headers).filter((entry): entry is [string, string] => typeof entry[1] === "string")
  }
  return []
}

const normalize = (message: unknown): unknown => {
  if (!Predicate.isObject(message) || (message as { _tag?: unknown })._tag !== "Request") return message
  const headers = (message as { headers?: unknown }).headers
  return Array.isArray(headers) ? message : { ...message, headers: headerPairs(headers) }
}

/** `serialization`, decoding arrays of envelopes and requests without `headers` on every transport. */
export const make = (serialization: RpcSerialization.RpcSerialization["Service"]): RpcSerialization.RpcSerialization["Service"] =>
  RpcSerialization.RpcSerialization.of({
    ...serialization,
    makeUnsafe: () => {
      const parser = serialization.makeUnsafe()
      return {
        encode: parser.encode,
        decode: (data) => {
          const decoded = parser.decode(data)
          // the common case (one well-formed envelope per frame) passes through untouched
          let plain = true
          for (const message of decoded) {
            if (Array.isArray(message) || ((message as { _tag?: unknown })?._tag === "Request" && !Array.isArray((message as { headers?: unknown }).headers))) {
              plain = false
              break
            }
          }
          if (plain) return decoded
          const out: Array<unknown> = []
          for (const message of decoded) {
            if (Array.isArray(message)) for (const inner of message) out.push(normalize(inner))
            else out.push(normalize(message))
          }
          return out
        }
      }
    }
  })

/** The host's WebSocket serialization: JSON, one envelope or an array of them per message. */
export const layerJson: Layer.Layer<RpcSerialization.RpcSerialization> = Layer.succeed(RpcSerialization.RpcSerialization)(make(RpcSerialization.json))

/** The host's TCP serialization: newline-delimited JSON, one envelope or an array of them per line. */
export const layerNdjson: Layer.Layer<RpcSerialization.RpcSerialization> = Layer.succeed(RpcSerialization.RpcSerialization)(make(RpcSerialization.ndjson))

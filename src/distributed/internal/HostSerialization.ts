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
import { Effect, Layer, Predicate } from "effect"
import { RpcSerialization, RpcServer } from "effect/rpc"

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

/**
 * What a line that is not JSON decodes to on a framed transport (TCP): a
 * marker the protocol answers with a `Defect` for that line alone. effect/rpc's
 * ndjson parser throws on such a line, which loses every other line of the
 * same read with it, answered or not; here each line is parsed on its own.
 */
interface BadLine {
  readonly _tag: typeof badLineTag
  readonly defect: unknown
}

const badLineTag = "effect-agents/BadLine"

const isBadLine = (message: unknown): message is BadLine => (message as { _tag?: unknown } | undefined)?._tag === badLineTag

/** The `Defect` a line that is not JSON gets, as effect/rpc reported it (docs/protocol.md, Defect). */
const badLine = (cause: unknown): BadLine => {
  const error = cause as { readonly name?: unknown; readonly message?: unknown; readonly cause?: { readonly name?: unknown; readonly message?: unknown } }
  const inner = error.cause ?? {}
  return {
    _tag: badLineTag,
    defect: { name: error.name ?? "NdjsonDecodeError", message: error.message ?? "", cause: { name: inner.name ?? "SyntaxError", message: inner.message ?? String(cause) } }
  }
}

/**
 * `parser.decode`, line by line on a framed transport: every complete line
 * goes to the parser alone (it keeps no state across a complete line), so a
 * line that is not JSON becomes a `BadLine` and the lines around it are kept;
 * an unfinished line is left with the parser, which bounds it (a line past
 * its limit still fails the whole read, and closes the connection).
 */
const byLine = (parser: ReturnType<RpcSerialization.RpcSerialization["Service"]["makeUnsafe"]>) => {
  let text: InstanceType<typeof TextDecoder> | undefined
  return (data: string | Uint8Array): ReadonlyArray<unknown> => {
    const chunk = typeof data === "string" ? data : (text ??= new TextDecoder()).decode(data, { stream: true })
    let newline = chunk.indexOf("\n")
    if (newline === -1) return parser.decode(chunk)
    const out: Array<unknown> = []
    let start = 0
    while (newline !== -1) {
      try {
        for (const message of parser.decode(chunk.slice(start, newline + 1))) out.push(message)
      } catch (cause) {
        if ((cause as { _tag?: unknown })?._tag === "MaxBufferSizeExceeded") throw cause
        out.push(badLine(cause))
      }
      start = newline + 1
      newline = chunk.indexOf("\n", start)
    }
    if (start < chunk.length) for (const message of parser.decode(chunk.slice(start))) out.push(message)
    return out
  }
}

/** `serialization`, decoding arrays of envelopes and requests without `headers` on every transport. */
export const make = (serialization: RpcSerialization.RpcSerialization["Service"]): RpcSerialization.RpcSerialization["Service"] =>
  RpcSerialization.RpcSerialization.of({
    ...serialization,
    makeUnsafe: () => {
      const parser = serialization.makeUnsafe()
      const decodeFrame = serialization.includesFraming ? byLine(parser) : parser.decode
      return {
        encode: parser.encode,
        decode: (data) => {
          const decoded = decodeFrame(data)
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

/** The protocol, answering each `BadLine` with its `Defect` (the connection and every other line go on). */
export const reportingBadLines = <E, R>(layer: Layer.Layer<RpcServer.Protocol, E, R>): Layer.Layer<RpcServer.Protocol, E, R> =>
  Layer.effect(
    RpcServer.Protocol,
    Effect.gen(function*() {
      const protocol = yield* RpcServer.Protocol
      return RpcServer.Protocol.of({
        ...protocol,
        run: (f) =>
          protocol.run((clientId, message) => {
            // a BadLine is no protocol message: the parser made it (see byLine)
            const bad: unknown = message
            return isBadLine(bad) ? protocol.send(clientId, { _tag: "Defect", defect: bad.defect }) : f(clientId, message)
          })
      })
    })
  ).pipe(Layer.provide(layer))

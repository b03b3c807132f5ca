/**
 * Per-worker credentials: what a host lets each worker be and do. A worker
 * presents its credential's `secret` as the `token` of `Connect`; the host
 * finds the credential, and then lets the worker join only under a worker
 * id its credential names, register only the agent types it names, and
 * publish only on the topic types it names. The single shared `token` of a
 * host is the simple mode: one credential that allows everything.
 *
 * Names are exact, or end in `*` to match every name with that prefix
 * (`"chat.*"`), or are `"*"` alone for any.
 *
 * ```json
 * { "credentials": [
 *   { "name": "billing", "secret": "s3cr3t-billing", "workers": ["billing-*"],
 *     "agentTypes": ["invoice", "ledger"], "publish": ["billing.*"] }
 * ] }
 * ```
 */
import { Schema } from "effect"

const Pattern = Schema.String.check(Schema.isMaxLength(255))

/** One credential. */
export class Credential extends Schema.Class<Credential>("effect-agents/Credential")({
  /** A label for logs (never the secret). */
  name: Schema.String.check(Schema.isMaxLength(255)),
  secret: Schema.String.check(Schema.isMinLength(8), Schema.isMaxLength(4096)),
  /** Worker ids this credential may join as. */
  workers: Schema.Array(Pattern),
  /** Agent types a worker with it may register. */
  agentTypes: Schema.Array(Pattern),
  /** Topic types a worker with it may publish on. */
  publish: Schema.Array(Pattern)
}) {}

/** A credentials file. */
export const File = Schema.Struct({ credentials: Schema.Array(Credential) })

/** The credential of the shared-token mode: everything allowed. */
export const fromToken = (token: string): Credential =>
  new Credential({ name: "shared token", secret: token, workers: ["*"], agentTypes: ["*"], publish: ["*"] }, { disableChecks: true })

/** Whether `name` matches one of `patterns`. */
export const allows = (patterns: ReadonlyArray<string>, name: string): boolean =>
  patterns.some((pattern) => pattern === "*" || pattern === name || (pattern.endsWith("*") && name.startsWith(pattern.slice(0, -1))))

/** Decodes a credentials file's JSON text. */
export const parse = (text: string) => Schema.decodeUnknownEffect(Schema.fromJsonString(File))(text)

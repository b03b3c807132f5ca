/**
 * The settings of the OpenAI-compatible clients in one place: every default,
 * and the translation of user options into what the transport needs. The
 * chat and the embedding clients share it.
 */
import { Duration, Redacted } from "effect"
import type { JsonMode } from "./chatRequest.ts"
import type { TransportSettings } from "./httpTransport.ts"

/** The options the transport reads (a subset of the public `Options`). */
export interface TransportOptions {
  readonly baseUrl?: string | undefined
  readonly apiKey?: Redacted.Redacted<string> | string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly requestTimeout?: Duration.Input | undefined
  readonly streamIdleTimeout?: Duration.Input | undefined
  readonly maxRetries?: number | undefined
  readonly initialRetryDelay?: Duration.Input | undefined
  readonly maxRetryDelay?: Duration.Input | undefined
  readonly maxRetryAfter?: Duration.Input | undefined
  readonly maxResponseBytes?: number | undefined
  readonly maxEventBytes?: number | undefined
  readonly maxStreamEvents?: number | undefined
}

/** The defaults of every optional setting. */
export const defaults = {
  baseUrl: "https://api.openai.com/v1",
  requestTimeout: Duration.seconds(120),
  streamIdleTimeout: Duration.seconds(60),
  maxRetries: 3,
  initialRetryDelay: Duration.millis(500),
  maxRetryDelay: Duration.seconds(20),
  maxRetryAfter: Duration.seconds(60),
  maxResponseBytes: 16 * 1024 * 1024,
  maxEventBytes: 1024 * 1024,
  maxStreamEvents: 200_000,
  maxToolCalls: 128,
  jsonMode: "json_schema" as JsonMode,
  strictJsonSchema: true
} as const

const duration = (input: Duration.Input | undefined, fallback: Duration.Duration) =>
  input === undefined ? fallback : Duration.fromInputUnsafe(input)

/** A count from an option: the fallback when absent or negative. */
export const count = (n: number | undefined, fallback: number) =>
  n === undefined || !Number.isFinite(n) || n < 0 ? fallback : Math.floor(n)

/** The transport settings of `options`, defaults filled in. */
export const transport = (options: TransportOptions): TransportSettings => ({
  baseUrl: options.baseUrl ?? defaults.baseUrl,
  apiKey: options.apiKey === undefined
    ? undefined
    : Redacted.isRedacted(options.apiKey)
    ? options.apiKey
    : Redacted.make(options.apiKey),
  headers: options.headers ?? {},
  requestTimeout: duration(options.requestTimeout, defaults.requestTimeout),
  streamIdleTimeout: duration(options.streamIdleTimeout, defaults.streamIdleTimeout),
  maxResponseBytes: count(options.maxResponseBytes, defaults.maxResponseBytes),
  maxEventBytes: count(options.maxEventBytes, defaults.maxEventBytes),
  maxStreamEvents: count(options.maxStreamEvents, defaults.maxStreamEvents),
  retry: {
    maxRetries: count(options.maxRetries, defaults.maxRetries),
    initialDelay: duration(options.initialRetryDelay, defaults.initialRetryDelay),
    maxDelay: duration(options.maxRetryDelay, defaults.maxRetryDelay),
    maxRetryAfter: duration(options.maxRetryAfter, defaults.maxRetryAfter)
  }
})


/**
 * The HTTP side of an OpenAI-compatible client: POSTs a JSON body and returns
 * the parsed JSON, or the `data:` payloads of a server-sent event stream.
 * Everything that crosses the wire is bounded here (body bytes, event size,
 * event count), every wait has a deadline (the request, the pause between
 * stream chunks), every failure is an `AiError`, and transient ones (429,
 * 5xx, connection errors, timeouts) are retried through a `Schedule` with
 * exponential backoff and jitter that waits at least what `Retry-After` asks.
 *
 * A stream is retried only until its response headers arrive: once parts
 * have reached the caller, a retry would repeat them.
 */
import { Duration, Effect, Option, Redacted, Schedule, Schema, type Scope, Stream } from "effect"
import { AiError } from "effect/ai"
import { Sse } from "effect/encoding"
import { HttpClient, type HttpClientError, HttpClientRequest, type HttpClientResponse } from "effect/http"
import { WireError } from "./chatWire.ts"

/** Retry policy: `maxRetries` after the first attempt, delays from `initialDelay` doubling up to `maxDelay`. */
export interface RetrySettings {
  readonly maxRetries: number
  readonly initialDelay: Duration.Duration
  readonly maxDelay: Duration.Duration
  /** A `Retry-After` longer than this is not waited for: the error reaches the caller at once. */
  readonly maxRetryAfter: Duration.Duration
}

/** What the transport needs to know. */
export interface TransportSettings {
  readonly baseUrl: string
  readonly apiKey: Redacted.Redacted<string> | undefined
  readonly headers: Readonly<Record<string, string>>
  readonly requestTimeout: Duration.Duration
  readonly streamIdleTimeout: Duration.Duration
  readonly maxResponseBytes: number
  readonly maxEventBytes: number
  readonly maxStreamEvents: number
  readonly retry: RetrySettings
}

const MODULE = "OpenAiCompatible"
const ERROR_BODY_LIMIT = 64 * 1024
const ERROR_BODY_KEPT = 4 * 1024

const aiError = (method: string, reason: AiError.AiErrorReason) => AiError.make({ module: MODULE, method, reason })

const transportError = (method: string, request: HttpClientRequest.HttpClientRequest, description: string) =>
  aiError(
    method,
    new AiError.NetworkError({ reason: "TransportError", method: request.method, url: request.url, description })
  )

const fromHttpClientError = (method: string) => (error: HttpClientError.HttpClientError): AiError.AiError => {
  const reason = error.reason
  switch (reason._tag) {
    case "TransportError":
    case "EncodeError":
    case "InvalidUrlError":
      return aiError(method, AiError.NetworkError.fromHttpClientError(error as never))
    default:
      // a body that broke off while being read is a transport failure too
      return transportError(method, reason.request, reason.description ?? reason._tag)
  }
}

/** `Retry-After` (seconds or an HTTP date) or OpenAI's `retry-after-ms`. */
export const parseRetryAfter = (headers: Readonly<Record<string, string | undefined>>, now: number) => {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Duration.millis(Number(ms))
  const value = headers["retry-after"]?.trim()
  if (value === undefined || value.length === 0) return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Duration.seconds(Number(value))
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Duration.millis(Math.max(0, date - now))
}

const decodeErrorBody = Schema.decodeUnknownOption(Schema.fromJsonString(WireError))

/** The `AiError` reason of a non-2xx response, from its status, headers and (bounded) body. */
export const statusReason = (
  response: HttpClientResponse.HttpClientResponse,
  body: string,
  now: number
): AiError.AiErrorReason => {
  const status = response.status
  const headers = response.headers as Readonly<Record<string, string>>
  const decoded = Option.getOrUndefined(decodeErrorBody(body))
  const message = decoded?.error.message ?? undefined
  const code = decoded?.error.code ?? decoded?.error.type ?? undefined
  const description = `HTTP ${status}${message ? `: ${message}` : ""}${code !== undefined ? ` [${code}]` : ""}`
  const http = {
    response: { status, headers: { ...headers } },
    body: body.length > ERROR_BODY_KEPT ? `${body.slice(0, ERROR_BODY_KEPT)}...` : body
  }
  switch (status) {
    case 400:
    case 404:
    case 409:
    case 413:
    case 422:
      return new AiError.InvalidRequestError({ description, http })
    case 401:
      return new AiError.AuthenticationError({ kind: "InvalidKey", description, http })
    case 403:
      return new AiError.AuthenticationError({ kind: "InsufficientPermissions", description, http })
    case 429: {
      if (code === "insufficient_quota") return new AiError.QuotaExhaustedError({ http })
      const retryAfter = parseRetryAfter(headers, now)
      return new AiError.RateLimitError({ ...(retryAfter !== undefined ? { retryAfter } : {}), http })
    }
    case 408:
      return new AiError.InternalProviderError({ description, http })
    default:
      return status >= 500
        ? new AiError.InternalProviderError({ description, http })
        : new AiError.UnknownError({ description, http })
  }
}

/** The body as text, failing once it passes `max` bytes (before reading it, when Content-Length says so). */
const readBounded = (
  response: HttpClientResponse.HttpClientResponse,
  max: number,
  method: string
): Effect.Effect<string, AiError.AiError> => {
  const tooLarge = aiError(
    method,
    new AiError.InvalidResponseError({
      description: `the response body exceeds ${max} bytes`,
      http: { response: { status: response.status, headers: { ...response.headers } } }
    })
  )
  const declared = Number(response.headers["content-length"])
  if (Number.isFinite(declared) && declared > max) return Effect.fail(tooLarge)
  return Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    return response.stream.pipe(
      Stream.mapError(fromHttpClientError(method)),
      Stream.runForEach((chunk) => {
        size += chunk.length
        if (size > max) return Effect.fail(tooLarge)
        chunks.push(chunk)
        return Effect.void
      }),
      Effect.map(() => Buffer.concat(chunks, size).toString("utf8"))
    )
  })
}

/** A client bound to one server. */
export interface Transport {
  /** POSTs `body` to `path` and returns the parsed JSON of a 2xx answer. */
  readonly postJson: (path: string, body: unknown, method: string) => Effect.Effect<unknown, AiError.AiError>
  /**
   * POSTs `body` to `path` and streams the `data:` payloads of the answer's
   * events, parsed as JSON, up to `[DONE]` or the end of the body.
   */
  readonly postEvents: (path: string, body: unknown, method: string) => Stream.Stream<unknown, AiError.AiError>
}

/** The POST of `body` as JSON, with the configured headers and bearer token. */
const buildRequest = (
  settings: TransportSettings,
  base: string,
  path: string,
  body: unknown,
  method: string,
  stream: boolean
) =>
  Effect.try({
    try: () => JSON.stringify(body),
    catch: (cause) =>
      aiError(method, new AiError.InvalidUserInputError({ description: `the request is not JSON: ${String(cause)}` }))
  }).pipe(
    Effect.map((json) => {
      let req = HttpClientRequest.post(`${base}${path}`).pipe(
        HttpClientRequest.setHeaders(settings.headers),
        HttpClientRequest.setHeader("accept", stream ? "text/event-stream" : "application/json"),
        HttpClientRequest.bodyText(json, "application/json")
      )
      if (settings.apiKey !== undefined) {
        req = HttpClientRequest.bearerToken(req, Redacted.value(settings.apiKey))
      }
      return req
    })
  )

/** Sends and checks the status; a non-2xx answer becomes its `AiError`. */
const send = (
  client: HttpClient.HttpClient.With<HttpClientError.HttpClientError, Scope.Scope>,
  req: HttpClientRequest.HttpClientRequest,
  method: string
) =>
  client.execute(req).pipe(
    Effect.mapError(fromHttpClientError(method)),
    Effect.flatMap((response) =>
      response.status >= 200 && response.status < 300
        ? Effect.succeed(response)
        : readBounded(response, ERROR_BODY_LIMIT, method).pipe(
          Effect.orElseSucceed(() => ""),
          Effect.flatMap((text) =>
            Effect.flatMap(
              Effect.clockWith((clock) => clock.currentTimeMillis),
              (now) => Effect.fail(aiError(method, statusReason(response, text, now)))
            )
          )
        )
    )
  )

/** Fails `effect` with a transport error once `requestTimeout` passes. */
const withDeadline = <A, R>(
  settings: TransportSettings,
  effect: Effect.Effect<A, AiError.AiError, R>,
  req: HttpClientRequest.HttpClientRequest,
  method: string
) =>
  effect.pipe(
    Effect.timeoutOrElse({
      duration: settings.requestTimeout,
      orElse: () =>
        Effect.fail(
          transportError(method, req, `no complete answer within ${Duration.format(settings.requestTimeout)}`)
        )
    })
  )

/** Exponential backoff with jitter, capped at `maxDelay`, never shorter than the error's `Retry-After`. */
const retrySchedule = ({ initialDelay, maxDelay, maxRetries }: RetrySettings) =>
  Schedule.exponential(initialDelay, 2).pipe(
    Schedule.jittered,
    Schedule.setInputType<AiError.AiError>(),
    Schedule.modifyDelay(({ input, duration }) =>
      Effect.succeed(Duration.max(Duration.min(duration, maxDelay), input.retryAfter ?? Duration.zero))
    ),
    Schedule.upTo({ times: maxRetries })
  )

/** Retries the retryable failures of an effect, unless the server asks to wait longer than `maxRetryAfter`. */
const makeRetrying = (retry: RetrySettings) => {
  const { maxRetries, maxRetryAfter } = retry
  const schedule = retrySchedule(retry)
  return <A, R>(effect: Effect.Effect<A, AiError.AiError, R>) =>
    maxRetries <= 0 ? effect : effect.pipe(
      Effect.retry({
        schedule,
        while: (error: AiError.AiError) => {
          const retry = error.isRetryable &&
            (error.retryAfter === undefined || Duration.isLessThanOrEqualTo(error.retryAfter, maxRetryAfter))
          // a retried failure is seen by no caller: leave a trace of it
          return retry
            ? Effect.as(Effect.logDebug("retrying a model request", error.message), true)
            : Effect.succeed(false)
        }
      })
    )
}

const invalid = (method: string, description: string) =>
  aiError(method, new AiError.InvalidResponseError({ description }))

const parseJson = (text: string, method: string, what: string) =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (cause) => invalid(method, `${what} is not JSON: ${cause instanceof Error ? cause.message : String(cause)}`)
  })

/**
 * The `data:` payloads of a server-sent event stream, parsed as JSON, up to
 * `[DONE]` or the end of the body; bounded in event size, event count and the
 * pause between chunks.
 */
const streamEvents = (
  settings: TransportSettings,
  response: HttpClientResponse.HttpClientResponse,
  req: HttpClientRequest.HttpClientRequest,
  method: string
): Stream.Stream<unknown, AiError.AiError> => {
  const events: Array<string> = []
  const parser = Sse.makeParser((event) => {
    // `retry:` directives are for EventSource reconnects; a completion is not resumable
    if (event._tag === "Event") events.push(event.data)
  }, { maxEventSize: settings.maxEventBytes })
  let count = 0
  let done = false
  const stalled = transportError(
    method,
    req,
    `the stream stalled: no data for ${Duration.format(settings.streamIdleTimeout)}`
  )
  return response.stream.pipe(
    Stream.mapError(fromHttpClientError(method)),
    Stream.timeoutOrElse({ duration: settings.streamIdleTimeout, orElse: () => Stream.fail(stalled) }),
    Stream.decodeText(),
    Stream.mapEffect((text) => {
      const error = parser.feed(text)
      if (error !== undefined) {
        return Effect.fail(invalid(method, `a server-sent event exceeds ${settings.maxEventBytes} characters`))
      }
      const out = events.splice(0, events.length)
      count += out.length
      if (count > settings.maxStreamEvents) {
        return Effect.fail(invalid(method, `the stream exceeds ${settings.maxStreamEvents} events`))
      }
      return Effect.succeed(out)
    }),
    Stream.flattenIterable,
    Stream.takeWhile((data) => {
      if (data.trim() === "[DONE]") done = true
      return !done
    }),
    Stream.mapEffect((data) =>
      Effect.flatMap(parseJson(data, method, "a stream event"), (json) =>
        typeof json === "object" && json !== null && "error" in json
          ? Effect.fail(
            aiError(method, new AiError.InternalProviderError({ description: `the stream reported an error: ${data.slice(0, ERROR_BODY_KEPT)}` }))
          )
          : Effect.succeed(json))
    )
  )
}

/** A transport over the `HttpClient` in context. */
export const make = (settings: TransportSettings): Effect.Effect<Transport, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = HttpClient.withScope(yield* HttpClient.HttpClient)
    const base = settings.baseUrl.replace(/\/+$/, "")
    const retrying = makeRetrying(settings.retry)

    const postJson: Transport["postJson"] = (path, body, method) =>
      Effect.flatMap(buildRequest(settings, base, path, body, method, false), (req) =>
        retrying(
          withDeadline(
            settings,
            Effect.scoped(
              Effect.flatMap(send(client, req, method), (response) => readBounded(response, settings.maxResponseBytes, method))
            ),
            req,
            method
          )
        ).pipe(Effect.flatMap((text) => parseJson(text, method, "the response body"))))

    const postEvents: Transport["postEvents"] = (path, body, method) =>
      Stream.unwrap(Effect.gen(function*() {
        const req = yield* buildRequest(settings, base, path, body, method, true)
        const response = yield* retrying(withDeadline(settings, send(client, req, method), req, method))
        return streamEvents(settings, response, req, method)
      }))

    return { postJson, postEvents }
  })

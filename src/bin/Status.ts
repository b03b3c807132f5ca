/**
 * `effect-agents status --url http://127.0.0.1:7701`: asks a host's admin
 * endpoint (`host --admin-port`) for its status and prints it as tables:
 * workers, agent types, subscriptions, messages by type over the last
 * minute, recent dead letters. `--json` prints the status as JSON instead.
 */
import { Console, Effect, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { HttpClient, HttpClientResponse } from "effect/http"
import * as AdminStatus from "../distributed/AdminStatus.ts"
import * as Environment from "./Environment.ts"

/** The status could not be read: the host is unreachable, refused the token, or answered something else. */
export class StatusError extends Schema.TaggedError<StatusError>()("StatusError", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot read the status at ${this.url}: ${this.reason}`
  }
}

/** Reads the status of the admin endpoint at `url` (its base, or `/status` itself). */
export const fetchStatus = Effect.fnUntraced(function*(url: string, token: string | undefined) {
  const base = url.replace(/\/+$/, "").replace(/\/status$/, "")
  const target = `${base}/status`
  const fail = (reason: string) => new StatusError({ url: target, reason })
  const response = yield* HttpClient.get(target, { headers: token !== undefined ? { authorization: `Bearer ${token}` } : {} }).pipe(
    Effect.timeout("10 seconds"),
    Effect.mapError((cause) => fail(cause._tag === "TimeoutError" ? "no answer within 10 seconds" : causes(cause)))
  )
  if (response.status === 401) {
    return yield* fail(token === undefined ? "it wants the admin token (401): pass --token or set EFFECT_AGENTS_ADMIN_TOKEN" : "it refused the token (401)")
  }
  if (response.status === 503) return yield* fail("the host is not ready (503): starting or stopping")
  if (response.status !== 200) return yield* fail(`it answered ${response.status}`)
  return yield* HttpClientResponse.schemaBodyJson(AdminStatus.Status)(response).pipe(
    Effect.mapError((cause) => fail(`its answer is not a host status: ${cause.message}`))
  )
})

/** An error's message and those of its causes ("Transport error: fetch failed: connect ECONNREFUSED 127.0.0.1:1"). */
const causes = (error: unknown): string => {
  const messages: Array<string> = []
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e.message !== "" && !messages.some((m) => m.includes(e.message))) messages.push(e.message)
  }
  return messages.join(": ") || String(error)
}

/** `now - millis`, short: "12 s", "3 min", "2 h 5 min". */
const ago = (now: number, millis: number) => {
  const s = Math.max(0, Math.round((now - millis) / 1000))
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

const maxCell = 48

const cell = (value: string | number) => {
  const s = String(value)
  return s.length <= maxCell ? s : `${s.slice(0, maxCell - 1)}…`
}

/** A text table: a header row and aligned columns (numbers to the right); "(none)" when empty. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>): string => {
  if (rows.length === 0) return "  (none)"
  const cells = rows.map((row) => row.map(cell))
  const numeric = headers.map((_, i) => rows.every((row) => typeof row[i] === "number"))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)))
  const line = (row: ReadonlyArray<string>) =>
    `  ${row.map((c, i) => numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)).join("  ")}`.trimEnd()
  return [line(headers), ...cells.map(line)].join("\n")
}

const cut = (shown: number, total: number, what: string) => shown < total ? `\n  (${total - shown} more ${what} not listed)` : ""

/** The status as the command prints it. */
export const render = (status: AdminStatus.Status): string => {
  const { now, totals } = status
  const window = status.rates.windowSeconds
  const active = status.rates.types.filter((t) => t.sent + t.published + t.failed > 0)
  return [
    `host ${status.hostId} at ${status.url}, up ${ago(now, status.startedAt)}${status.recovering ? " (recovering: workers are re-declaring)" : ""}`,
    `${totals.workers} workers, ${totals.agentTypes} agent types, ${totals.placements} placed agents, ${totals.subscriptions} subscriptions, ` +
    `${totals.pendingRequests} requests in flight (${totals.pendingBytes} bytes), ${totals.deadLetters} dead letters`,
    "",
    "WORKERS",
    table(
      ["WORKER", "SINCE", "AGENT TYPES", "QUEUE", "IN FLIGHT", "LAST HEARD"],
      status.workers.map((w) => [w.workerId, ago(now, w.since), w.agentTypes.join(",") || "-", w.queueDepth, w.inFlight, `${ago(now, w.lastHeartbeat)} ago`])
    ) + cut(status.workers.length, totals.workers, "workers"),
    "",
    "AGENT TYPES",
    table(["AGENT TYPE", "WORKERS", "PLACED"], status.agentTypes.map((t) => [t.name, t.workers.join(","), t.placements])) +
    cut(status.agentTypes.length, totals.agentTypes, "agent types"),
    "",
    "SUBSCRIPTIONS",
    table(["TOPIC", "AGENT TYPE", "OWNERS"], status.subscriptions.map((s) => [s.topic, s.agentType, s.owners.join(",")])) +
    cut(status.subscriptions.length, totals.subscriptions, "subscriptions"),
    "",
    `MESSAGES (last ${window} s)`,
    table(
      ["MESSAGE TYPE", "SENT", "PUBLISHED", "FAILED", "PER SECOND", "ERRORS"],
      active.map((t) => [
        t.messageType,
        t.sent,
        t.published,
        t.failed,
        ((t.sent + t.published) / window).toFixed(2),
        Object.entries(t.errors).map(([tag, n]) => `${tag}:${n}`).join(",") || "-"
      ])
    ),
    "",
    "RECENT DEAD LETTERS",
    table(
      ["AGO", "RECIPIENT", "MESSAGE TYPE", "ERROR", "REASON"],
      status.deadLetters.map((d) => [ago(now, d.at), d.recipient, d.messageType, d.error, d.reason])
    )
  ].join("\n")
}

/** The `status` command. */
export const command = Command.make(
  "status",
  {
    url: Flag.String("url").pipe(
      Flag.withDescription("The host's admin endpoint, as `host --admin-port` prints it (default: http://127.0.0.1:7701)"),
      Flag.withDefault("http://127.0.0.1:7701")
    ),
    token: Flag.String("token").pipe(
      Flag.withDescription("The admin token (`host --admin-token`) (default: $EFFECT_AGENTS_ADMIN_TOKEN, if set)"),
      Flag.optional
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the status as JSON instead of tables (default: tables)"), Flag.withDefault(false))
  },
  Effect.fnUntraced(function*({ json, token, url }) {
    const secret = yield* Environment.flagOrEnv(token, "EFFECT_AGENTS_ADMIN_TOKEN")
    const status = yield* fetchStatus(url, secret)
    yield* Console.log(json ? JSON.stringify(status, null, 2) : render(status))
  })
).pipe(Command.withDescription("Print a running host's status (workers, agent types, subscriptions, message rates, dead letters) from its admin endpoint"))

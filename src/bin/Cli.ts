/**
 * The `effect-agents` command line, platform-neutral: `effect-agents host`
 * runs a host servicer that workers on this or other machines join. Every
 * default it shows comes from `RuntimeConfig`. The Node entry point is
 * `node/cli.ts`.
 *
 *   npx effect-agents host --port 7700 --listen 0.0.0.0
 *   npx effect-agents host --tls-cert host.pem --tls-key host-key.pem   # wss:// (or tls:// with --transport tcp)
 *   npx effect-agents host --admin-port 7701                            # health, status, metrics, dashboard on 127.0.0.1:7701
 *   npx effect-agents status --url http://127.0.0.1:7701
 */
import { Console, Duration, Effect, FileSystem, type Layer, Option, Path } from "effect"
import { Command, Flag } from "effect/cli"
import type * as AccessPolicy from "../core/AccessPolicy.ts"
import type { AgentRuntime } from "../core/AgentRuntime.ts"
import * as RuntimeConfig from "../core/RuntimeConfig.ts"
import * as Admin from "../distributed/Admin.ts"
import * as Credentials from "../distributed/Credentials.ts"
import * as HostServicer from "../distributed/HostServicer.ts"
import * as Environment from "./Environment.ts"
import * as Runner from "./Runner.ts"
import * as Status from "./Status.ts"

/** Reads the host's certificate and key (PEM files), which go together: both or neither. */
const loadTls = (cert: Option.Option<string>, key: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isNone(cert) && Option.isNone(key)) return undefined
    if (Option.isNone(cert) || Option.isNone(key)) {
      return yield* Effect.fail(new Error("--tls-cert and --tls-key go together: give both (a certificate and its private key) or neither"))
    }
    const fs = yield* FileSystem.FileSystem
    const read = (file: string, what: string) =>
      fs.readFileString(file).pipe(Effect.mapError((cause) => new Error(`cannot read the TLS ${what} ${file}: ${cause.message}`)))
    return { cert: yield* read(cert.value, "certificate"), key: yield* read(key.value, "key") }
  })

/** Reads a credentials file (see `Credentials`). */
const loadCredentials = (file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(Effect.mapError((cause) => new Error(`cannot read the credentials ${file}: ${cause.message}`)))
    const parsed = yield* Credentials.parse(text).pipe(Effect.mapError((e) => new Error(`the credentials ${file} are not valid: ${e.message}`)))
    return parsed.credentials
  })

/** The admin endpoints' options, from the flags (and $EFFECT_AGENTS_ADMIN_TOKEN); `undefined` without --admin-port. */
const adminOptions = (port: Option.Option<number>, listen: string, token: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isNone(port)) return undefined
    const secret = yield* Environment.flagOrEnv(token, "EFFECT_AGENTS_ADMIN_TOKEN")
    if (secret === undefined && !isLoopback(listen)) {
      yield* Effect.logWarning("admin endpoints on a public interface without --admin-token: anyone who reaches them can read the host's status")
    }
    return { port: port.value, host: listen, token: secret } satisfies Admin.Options
  })

const isLoopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.")

/** Loads `path#export` (default export name `policy`) as an access policy. */
const loadPolicy = (spec: string) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const [file, name = "policy"] = spec.split("#")
    const url = yield* path.toFileUrl(path.resolve(file!))
    const module = yield* Effect.tryPromise({
      try: () => import(url.href),
      catch: (cause) => new Error(`cannot load the policy module ${file}: ${String(cause)}`)
    })
    const policy = (module as Record<string, unknown>)[name]
    if (typeof policy !== "function") return yield* Effect.fail(new Error(`${file} exports no function named ${name}`))
    return policy as AccessPolicy.AccessPolicy
  })

const hostCommand = (serve: (options: HostServicer.Options) => Layer.Layer<HostServicer.HostServicer, unknown>) =>
  Command.make(
    "host",
    {
      port: Flag.Int("port").pipe(Flag.withAlias("p"), Flag.withDescription("Port to listen on (0: any free port; default: 7700)"), Flag.withDefault(7700)),
      listen: Flag.String("listen").pipe(
        Flag.withDescription("Interface to listen on: 127.0.0.1 for this machine only, 0.0.0.0 for workers on other machines (default: 127.0.0.1)"),
        Flag.withDefault("127.0.0.1")
      ),
      transport: Flag.Literals("transport", ["websocket", "tcp"]).pipe(
        Flag.withDescription("websocket (JSON) or tcp (newline-delimited JSON) (default: websocket)"),
        Flag.withDefault("websocket")
      ),
      token: Flag.String("token").pipe(
        Flag.withDescription("Require workers to present this token (default: $EFFECT_AGENTS_TOKEN, if set)"),
        Flag.optional
      ),
      maxMessageBytes: Flag.Int("max-message-bytes").pipe(
        Flag.withDescription(`Largest message payload accepted, in bytes of JSON (default: ${RuntimeConfig.defaults.maxMessageBytes})`),
        Flag.withDefault(RuntimeConfig.defaults.maxMessageBytes)
      ),
      policy: Flag.String("policy").pipe(
        Flag.withDescription("Access policy: a module exporting an AccessPolicy function, as path or path#export (default export name: policy; default: allow everything)"),
        Flag.optional
      ),
      tlsCert: Flag.File("tls-cert", { mustExist: true }).pipe(
        Flag.withMetavar("FILE"),
        Flag.withDescription(
          "Serve TLS with this certificate (PEM; with --tls-key): workers connect to wss://host:port/, or tls://host:port with --transport tcp, and verify it (default: no TLS)"
        ),
        Flag.optional
      ),
      tlsKey: Flag.File("tls-key", { mustExist: true }).pipe(
        Flag.withMetavar("FILE"),
        Flag.withDescription("The private key of --tls-cert (PEM, unencrypted); both or neither (default: no TLS)"),
        Flag.optional
      ),
      credentials: Flag.File("credentials", { mustExist: true }).pipe(
        Flag.withMetavar("FILE"),
        Flag.withDescription(
          "Per-worker credentials (JSON: {\"credentials\": [{\"name\", \"secret\", \"workers\", \"agentTypes\", \"publish\"}]}): each names the worker ids, agent types and topic types its holder may use (default: none; with --token too, the token allows everything)"
        ),
        Flag.optional
      ),
      adminPort: Flag.Int("admin-port").pipe(
        Flag.withDescription("Serve the admin endpoints (/health/live, /health/ready, /status, /metrics, /events, /dashboard) on this port (0: any free port; default: no admin endpoints)"),
        Flag.optional
      ),
      adminListen: Flag.String("admin-listen").pipe(
        Flag.withDescription("Interface of the admin endpoints (default: 127.0.0.1, this machine only)"),
        Flag.withDefault("127.0.0.1")
      ),
      adminToken: Flag.String("admin-token").pipe(
        Flag.withDescription("Require this bearer token on /status, /metrics and /events (default: $EFFECT_AGENTS_ADMIN_TOKEN, if set; health and the dashboard page stay open)"),
        Flag.optional
      )
    },
    Effect.fnUntraced(function*({ adminListen, adminPort, adminToken, credentials, listen, maxMessageBytes, policy, port, tlsCert, tlsKey, token, transport }) {
      const secret = yield* Environment.flagOrEnv(token, "EFFECT_AGENTS_TOKEN")
      const accessPolicy = Option.isSome(policy) ? yield* loadPolicy(policy.value) : undefined
      const tls = yield* loadTls(tlsCert, tlsKey)
      const perWorker = Option.isSome(credentials) ? yield* loadCredentials(credentials.value) : undefined
      const admin = yield* adminOptions(adminPort, adminListen, adminToken)
      const layer = serve({ port, host: listen, transport, maxMessageBytes, token: secret, credentials: perWorker, policy: accessPolicy, tls, admin })
      yield* Effect.gen(function*() {
        const servicer = yield* HostServicer.HostServicer
        // printed before "listening on", so whoever waits for that line has both
        const adminServer = yield* Effect.serviceOption(Admin.Admin)
        if (Option.isSome(adminServer)) yield* Console.log(`effect-agents admin endpoints on ${adminServer.value.url} (dashboard: ${adminServer.value.url}/dashboard)`)
        yield* Console.log(`effect-agents host servicer listening on ${servicer.url}`)
        return yield* Effect.never
      }).pipe(
        Effect.provide(layer),
        // every other setting from EFFECT_AGENTS_* (EFFECT_AGENTS_HEARTBEAT_TIMEOUT="5 seconds", ...)
        Effect.provide(RuntimeConfig.layerFromEnv())
      )
    })
  ).pipe(Command.withDescription(`Run a host servicer: the hub that routes messages between workers.\n\n${environmentHelp()}`))

/** The settings the host reads from the environment, each with its default (from `RuntimeConfig`, so help cannot drift from it). */
const environmentHelp = () => {
  const settings = Object.entries(RuntimeConfig.defaults)
    .filter(([key]) => key !== "maxMessageBytes")
    .map(([key, value]) => `  ${Environment.envName(key)}=${Duration.isDuration(value) ? `"${Environment.durationText(value)}"` : String(value)}`)
  return `Every other setting comes from the environment; the defaults:\n${settings.join("\n")}`
}

/**
 * The whole command line, serving hosts with `serve` (the platform's
 * `HostServicer.layer`) and, when the platform gives one, cluster runners
 * with `runner` (its `ClusterRunner.layer`).
 */
export const make = (
  serve: (options: HostServicer.Options) => Layer.Layer<HostServicer.HostServicer, unknown>,
  runner?: (options: Runner.RunnerOptions) => Layer.Layer<AgentRuntime, unknown>
) =>
  Command.make("effect-agents").pipe(
    Command.withDescription("effect-agents: an agent runtime on Effect"),
    Command.withSubcommands(runner === undefined ? [hostCommand(serve), Status.command] : [hostCommand(serve), Status.command, Runner.command(runner)])
  )

/**
 * The `effect-agents` command line, platform-neutral: `effect-agents host`
 * runs a host servicer that workers on this or other machines join. Every
 * default it shows comes from `RuntimeConfig`. The Node entry point is
 * `node/cli.ts`.
 *
 *   npx effect-agents host --port 7700 --listen 0.0.0.0
 *   npx effect-agents host --tls-cert host.pem --tls-key host-key.pem   # wss:// (or tls:// with --transport tcp)
 */
import { Config, Console, Effect, FileSystem, type Layer, Option, Path } from "effect"
import { Command, Flag } from "effect/cli"
import type * as AccessPolicy from "../core/AccessPolicy.ts"
import * as RuntimeConfig from "../core/RuntimeConfig.ts"
import * as Credentials from "../distributed/Credentials.ts"
import * as HostServicer from "../distributed/HostServicer.ts"

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
        Flag.withDescription("The private key of --tls-cert (PEM, unencrypted); both or neither"),
        Flag.optional
      ),
      credentials: Flag.File("credentials", { mustExist: true }).pipe(
        Flag.withMetavar("FILE"),
        Flag.withDescription(
          "Per-worker credentials (JSON: {\"credentials\": [{\"name\", \"secret\", \"workers\", \"agentTypes\", \"publish\"}]}): each names the worker ids, agent types and topic types its holder may use (default: none; with --token too, the token allows everything)"
        ),
        Flag.optional
      )
    },
    Effect.fnUntraced(function*({ credentials, listen, maxMessageBytes, policy, port, tlsCert, tlsKey, token, transport }) {
      const secret = Option.getOrUndefined(token) ?? Option.getOrUndefined(yield* Config.option(Config.String("EFFECT_AGENTS_TOKEN")))
      const accessPolicy = Option.isSome(policy) ? yield* loadPolicy(policy.value) : undefined
      const tls = yield* loadTls(tlsCert, tlsKey)
      const perWorker = Option.isSome(credentials) ? yield* loadCredentials(credentials.value) : undefined
      const layer = serve({ port, host: listen, transport, maxMessageBytes, token: secret, credentials: perWorker, policy: accessPolicy, tls })
      yield* Effect.gen(function*() {
        const servicer = yield* HostServicer.HostServicer
        yield* Console.log(`effect-agents host servicer listening on ${servicer.url}`)
        return yield* Effect.never
      }).pipe(
        Effect.provide(layer),
        // every other setting from EFFECT_AGENTS_* (EFFECT_AGENTS_HEARTBEAT_TIMEOUT="5 seconds", ...)
        Effect.provide(RuntimeConfig.layerFromEnv())
      )
    })
  ).pipe(Command.withDescription("Run a host servicer: the hub that routes messages between workers"))

/** The whole command line, serving hosts with `serve` (the platform's `HostServicer.layer`). */
export const make = (serve: (options: HostServicer.Options) => Layer.Layer<HostServicer.HostServicer, unknown>) =>
  Command.make("effect-agents").pipe(
    Command.withDescription("effect-agents: an agent runtime on Effect"),
    Command.withSubcommands([hostCommand(serve)])
  )

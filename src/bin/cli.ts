/**
 * The `effect-agents` command line: `effect-agents host` runs a host
 * servicer that workers on this or other machines join.
 *
 *   npx effect-agents host --port 7700 --listen 0.0.0.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import type * as AccessPolicy from "../AccessPolicy.ts"
import * as HostServicer from "../HostServicer.ts"

/** Loads `path#export` (default export name `policy`) as an access policy. */
const loadPolicy = (spec: string) =>
  Effect.gen(function*() {
    const [path, name = "policy"] = spec.split("#")
    const module = yield* Effect.tryPromise({
      try: () => import(pathToFileURL(Path.resolve(path!)).href),
      catch: (cause) => new Error(`cannot load the policy module ${path}: ${String(cause)}`)
    })
    const policy = (module as Record<string, unknown>)[name]
    if (typeof policy !== "function") return yield* Effect.fail(new Error(`${path} exports no function named ${name}`))
    return policy as AccessPolicy.AccessPolicy
  })

const host = Command.make(
  "host",
  {
    port: Flag.Int("port").pipe(Flag.withAlias("p"), Flag.withDescription("Port to listen on (0: any free port)"), Flag.withDefault(7700)),
    listen: Flag.String("listen").pipe(
      Flag.withDescription("Interface to listen on: 127.0.0.1 for this machine only, 0.0.0.0 for workers on other machines"),
      Flag.withDefault("127.0.0.1")
    ),
    transport: Flag.Literals("transport", ["websocket", "tcp"]).pipe(
      Flag.withDescription("websocket (JSON) or tcp (newline-delimited JSON)"),
      Flag.withDefault("websocket")
    ),
    token: Flag.String("token").pipe(
      Flag.withDescription("Require workers to present this token (default: $EFFECT_AGENTS_TOKEN, if set)"),
      Flag.optional
    ),
    maxMessageBytes: Flag.Int("max-message-bytes").pipe(Flag.withDescription("Largest message payload accepted"), Flag.withDefault(1024 * 1024)),
    policy: Flag.String("policy").pipe(
      Flag.withDescription("Access policy: a module exporting an AccessPolicy function, as path or path#export (default export name: policy)"),
      Flag.optional
    )
  },
  Effect.fnUntraced(function*({ listen, maxMessageBytes, policy, port, token, transport }) {
    const secret = Option.getOrUndefined(token) ?? process.env.EFFECT_AGENTS_TOKEN
    const accessPolicy = Option.isSome(policy) ? yield* loadPolicy(policy.value) : undefined
    const layer = HostServicer.layer({
      port,
      host: listen,
      transport,
      maxMessageBytes,
      ...(secret !== undefined ? { token: secret } : {}),
      ...(accessPolicy !== undefined ? { policy: accessPolicy } : {})
    })
    yield* Effect.gen(function*() {
      const servicer = yield* HostServicer.HostServicer
      yield* Console.log(`effect-agents host servicer listening on ${servicer.url}`)
      return yield* Effect.never
    }).pipe(Effect.provide(layer))
  })
).pipe(Command.withDescription("Run a host servicer: the hub that routes messages between workers"))

const cli = Command.make("effect-agents").pipe(
  Command.withDescription("effect-agents: an agent runtime on Effect"),
  Command.withSubcommands([host])
)

cli.pipe(
  Command.run({ version: "0.1.0" }),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)

/**
 * The tools of an MCP server as an `effect/ai` `Toolkit`, ready to hand to
 * `LanguageModel.generateText`, a `Chat` or a tool loop: each remote tool
 * becomes a dynamic `Tool` with the server's JSON Schema, and its handler
 * calls the server through `effect/ai`'s `McpClient`.
 *
 * Beyond `McpClient.toolkit`, this bounds what a server can do to the
 * program: every call has a deadline (`callTimeout`), a result has a size
 * limit (`maxResultChars`), an allow-list (`include`) keeps the model from
 * seeing tools it should not use, and a stdio server starts with an
 * environment built from an allow-list, not the parent's (API keys in the
 * parent's environment stay there), as the MCP SDKs do.
 *
 * A stdio server is a child process owned by the scope: closing the scope
 * closes its stdin and then terminates it (SIGTERM, then SIGKILL).
 *
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { McpToolkit } from "effect-agents/ai"
 *
 * const program = Effect.gen(function*() {
 *   const toolkit = yield* McpToolkit.stdio({ command: "npx", args: ["-y", "@modelcontextprotocol/server-everything"] })
 *   console.log(Object.keys(toolkit.tools))
 * }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
 * ```
 */
import { Duration, Effect, Layer, Context, Schema, type Scope } from "effect"
import { McpClient, McpClientError, McpProtocol, type McpSchema, Tool, Toolkit } from "effect/ai"
import type { HttpClient } from "effect/http"
import { ChildProcess, type ChildProcessSpawner } from "effect/process"

/** A tool of an MCP server, as the toolkit holds it: JSON in, text out. */
export type McpTool = Tool.Tool<string, {
  readonly parameters: typeof Schema.Unknown
  readonly success: typeof Schema.String
  readonly failure: typeof McpClientError.McpClientError
  readonly failureMode: "error" | "return"
}>

/** A toolkit of MCP tools, its handlers bound. */
export type McpTools = Toolkit.WithHandler<Record<string, McpTool>>

/** How remote tools become local ones. */
export interface ToolkitOptions {
  /** Prepended to every tool name the model sees (`"fs__"`), to keep several servers apart. */
  readonly prefix?: string | undefined
  /** Only these server tool names (without the prefix) are offered; all others are left out. */
  readonly include?: ReadonlyArray<string> | undefined
  /** Deadline of one tool call. Default 60 s. */
  readonly callTimeout?: Duration.Input | undefined
  /** Largest text a tool result may have, in characters. Default 1 MiB. */
  readonly maxResultChars?: number | undefined
  /**
   * What a failed call does: `error` (the default) fails the model call with
   * the `McpClientError`; `return` hands the failure to the model as the
   * tool's result, so it can try something else.
   */
  readonly failureMode?: "error" | "return" | undefined
}

/** How to identify this client to a server, and how long connecting and listing may take. */
export interface ClientOptions {
  /** Client name sent to the server. Default `effect-agents`. */
  readonly name?: string | undefined
  readonly version?: string | undefined
  /** Deadline of initialisation and of listing tools. Default 60 s. */
  readonly timeout?: Duration.Input | undefined
  /** The protocol revision spoken. Default `McpProtocol.v2025_11_25`. */
  readonly protocol?: McpProtocol.ProtocolAdapter<McpClient.ProtocolVersion> | undefined
  /** Largest JSON-RPC message accepted, in bytes. Default 16 MiB (`McpClient`'s). */
  readonly maxMessageBytes?: number | undefined
}

/** The defaults. */
export const defaults = {
  callTimeout: Duration.seconds(60),
  maxResultChars: 1024 * 1024,
  clientName: "effect-agents",
  clientVersion: "0.3.0",
  /** The variables a stdio server inherits from the parent when set: what programs need to run, no secrets. */
  inheritedEnv: ["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "LC_ALL", "TMPDIR", "TZ"]
} as const

const fail = (reason: McpClientError.McpClientErrorReason) => new McpClientError.McpClientError({ reason })

const decodeArguments = Schema.decodeUnknownEffect(Schema.Record(Schema.String, Schema.Unknown))

/** The text of a result: text blocks, resource links and text resources; anything else is refused. */
const resultText = (result: McpSchema.CallToolResult, max: number): Effect.Effect<string, McpClientError.McpClientError> => {
  const parts: Array<string> = []
  for (const block of result.content) {
    switch (block.type) {
      case "text":
        parts.push(block.text)
        break
      case "resource_link":
        parts.push(`${block.title ?? block.name}: ${block.uri}${block.description === undefined ? "" : `\n${block.description}`}`)
        break
      case "resource":
        if (!("text" in block.resource)) {
          return Effect.fail(fail(new McpClientError.UnsupportedError({ description: "MCP binary resources have no text form", result })))
        }
        parts.push(block.resource.text)
        break
      default:
        return Effect.fail(fail(new McpClientError.UnsupportedError({ description: `MCP ${block.type} content has no text form`, result })))
    }
  }
  const text = parts.length === 0 && result.structuredContent !== undefined
    ? JSON.stringify(result.structuredContent)
    : parts.join("\n")
  return text.length > max
    ? Effect.fail(fail(new McpClientError.LimitError({ description: `MCP tool result exceeds ${max} characters` })))
    : Effect.succeed(text)
}

/**
 * The toolkit of a connected client's tools (listed once, now: build a new
 * toolkit to see tools the server added later).
 */
export const fromClient = Effect.fn("McpToolkit.fromClient")(function*(
  client: McpClient.McpClient,
  options: ToolkitOptions = {}
) {
  const prefix = options.prefix ?? ""
  const include = options.include === undefined ? undefined : new Set(options.include)
  const timeout = options.callTimeout === undefined ? defaults.callTimeout : Duration.fromInputUnsafe(options.callTimeout)
  const max = options.maxResultChars ?? defaults.maxResultChars
  const failureMode = options.failureMode ?? "error"
  const descriptors = yield* client.listTools()
  const tools: Array<McpTool> = []
  const handlers: Record<string, (params: unknown) => Effect.Effect<string, McpClientError.McpClientError>> = Object.create(null)
  for (const descriptor of descriptors) {
    if (include !== undefined && !include.has(descriptor.name)) continue
    const name = `${prefix}${descriptor.name}`
    // the chat APIs accept these names only; a duplicate would shadow a tool
    if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name) || Object.hasOwn(handlers, name)) {
      return yield* fail(new McpClientError.ConfigurationError({ description: `invalid or duplicate MCP tool name: ${name}` }))
    }
    tools.push(
      Tool.dynamic(name, {
        parameters: descriptor.inputSchema,
        description: descriptor.description,
        success: Schema.String,
        failure: McpClientError.McpClientError,
        failureMode
      }).annotate(Tool.Strict, false) as McpTool
    )
    handlers[name] = Effect.fnUntraced(function*(params: unknown) {
      const args = yield* decodeArguments(params).pipe(
        Effect.mapError((cause) =>
          fail(new McpClientError.ValidationError({ description: "MCP tool arguments must be a JSON object", cause }))
        )
      )
      const result = yield* client.callTool({ tool: descriptor, arguments: args }, { timeout })
      if (result.isError === true) return yield* fail(new McpClientError.ToolError({ result }))
      return yield* resultText(result, max)
    })
  }
  const toolkit = Toolkit.make(...tools)
  return (yield* toolkit.pipe(Effect.provideContext(yield* toolkit.toHandlers(handlers as never)))) as McpTools
})

/** A stdio server: the command that starts it. */
export interface StdioOptions extends ToolkitOptions, ClientOptions {
  readonly command: string
  readonly args?: ReadonlyArray<string> | undefined
  readonly cwd?: string | undefined
  /**
   * Variables for the server, on top of the allow-listed ones it inherits
   * (`defaults.inheritedEnv`). Set `inheritEnv: false` to pass only these.
   */
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly inheritEnv?: boolean | undefined
}

/** The environment a stdio server starts with. */
export const serverEnvironment = (options: Pick<StdioOptions, "env" | "inheritEnv">): Record<string, string> => {
  const env: Record<string, string> = {}
  const parent = globalThis.process?.env ?? {}
  if (options.inheritEnv !== false) {
    for (const name of defaults.inheritedEnv) {
      const value = parent[name]
      // exported shell functions (`() {...`) are not passed on, as the MCP SDK does
      if (value !== undefined && !value.startsWith("()")) env[name] = value
    }
  }
  return { ...env, ...options.env }
}

const clientOptions = (options: ClientOptions) => ({
  name: options.name ?? defaults.clientName,
  version: options.version ?? defaults.clientVersion,
  timeout: options.timeout,
  protocol: options.protocol ?? McpProtocol.v2025_11_25,
  maxMessageBytes: options.maxMessageBytes
})

/** A connected client of a stdio server it starts; the process lives as long as the scope. */
export const clientStdio = (
  options: Omit<StdioOptions, keyof ToolkitOptions>
): Effect.Effect<McpClient.McpClient, McpClientError.McpClientError, ChildProcessSpawner.ChildProcessSpawner | Scope.Scope> => {
  const client = clientOptions(options)
  const command = ChildProcess.make(options.command, [...(options.args ?? [])], {
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    env: serverEnvironment(options),
    extendEnv: false
  })
  return Effect.flatMap(
    McpClient.stdio({ command, protocol: client.protocol, maxMessageBytes: client.maxMessageBytes }),
    (transport) => McpClient.make(client).pipe(Effect.provideService(McpClient.Transport, transport))
  )
}

/** The toolkit of a stdio server it starts; the process lives as long as the scope. */
export const stdio = (
  options: StdioOptions
): Effect.Effect<McpTools, McpClientError.McpClientError, ChildProcessSpawner.ChildProcessSpawner | Scope.Scope> =>
  Effect.flatMap(clientStdio(options), (client) => fromClient(client, options))

/** A Streamable HTTP server. */
export interface HttpOptions extends ToolkitOptions, ClientOptions {
  readonly url: string | URL
  /** Headers on every request (an `Authorization`...). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** The toolkit of a Streamable HTTP server; the session lives as long as the scope. */
export const http = (
  options: HttpOptions
): Effect.Effect<McpTools, McpClientError.McpClientError, HttpClient.HttpClient | Scope.Scope> => {
  const client = clientOptions(options)
  return McpClient.http({
    url: options.url,
    protocol: client.protocol,
    headers: options.headers,
    maxMessageBytes: client.maxMessageBytes
  }).pipe(
    Effect.flatMap((transport) => McpClient.make(client).pipe(Effect.provideService(McpClient.Transport, transport))),
    Effect.flatMap((connected) => fromClient(connected, options))
  )
}

/**
 * Provides one server's toolkit as a service, for programs that wire tools
 * by layer: the server starts when the layer builds and stops when it is
 * released.
 *
 * ```ts
 * import { Context } from "effect"
 * import { McpToolkit } from "effect-agents/ai"
 *
 * class Files extends Context.Service<Files, McpToolkit.McpTools>()("app/Files") {}
 *
 * const FilesLive = McpToolkit.layerStdio(Files, {
 *   command: "npx",
 *   args: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp/work"]
 * })
 * ```
 */
export const layerStdio = <Self>(
  tag: Context.Key<Self, McpTools>,
  options: StdioOptions
): Layer.Layer<Self, McpClientError.McpClientError, ChildProcessSpawner.ChildProcessSpawner> =>
  Layer.effect(tag)(stdio(options))

/** As `layerStdio`, for a Streamable HTTP server. */
export const layerHttp = <Self>(
  tag: Context.Key<Self, McpTools>,
  options: HttpOptions
): Layer.Layer<Self, McpClientError.McpClientError, HttpClient.HttpClient> => Layer.effect(tag)(http(options))

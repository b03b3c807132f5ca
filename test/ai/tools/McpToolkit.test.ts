/**
 * MCP toolkits against a real MCP server process (fixtures/mcp-server.ts,
 * built with effect/ai's `McpServer`, run with Node 24 over stdio) that each
 * test starts in its own scope.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Scope, Stream } from "effect"
import { LanguageModel, McpClientError } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as OpenAiCompatible from "../../../src/ai/model/OpenAiCompatible.ts"
import * as McpToolkit from "../../../src/ai/tools/McpToolkit.ts"
import { chatServer, completion } from "../model/chatServer.ts"

const fixture = Path.join(import.meta.dirname, "fixtures", "mcp-server.ts")
// Node 24 (the devDependency) runs the TypeScript fixture directly
const node = process.execPath

const server = (options: Partial<McpToolkit.StdioOptions> = {}) =>
  McpToolkit.stdio({ command: node, args: [fixture], cwd: process.cwd(), ...options })

/** Runs a tool of the toolkit and returns its last result. */
const call = (toolkit: McpToolkit.McpTools, name: string, params: unknown) =>
  toolkit.handle(name, params as never).pipe(
    Effect.flatMap((stream) => Stream.runLast(stream)),
    Effect.map((last) => last._tag === "Some" ? last.value : undefined)
  )

/** The fixture as a Streamable HTTP server in its own process; its URL. Killed (by PID) when the scope closes. */
const httpServer = Effect.acquireRelease(
  Effect.callback<{ readonly child: ChildProcess.ChildProcess; readonly url: string }, Error>((resume) => {
    const child = ChildProcess.spawn(node, [fixture, "--http"], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.once("error", (error) => resume(Effect.fail(error)))
    child.stdout!.on("data", (data: Buffer) => {
      out += data.toString("utf8")
      const line = out.indexOf("\n")
      if (line >= 0) resume(Effect.succeed({ child, url: `http://127.0.0.1:${out.slice(0, line).trim()}/mcp` }))
    })
  }),
  ({ child }) =>
    Effect.callback<void>((resume) => {
      if (child.exitCode !== null) return resume(Effect.void)
      child.once("exit", () => resume(Effect.void))
      child.kill("SIGTERM")
    })
)

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("McpToolkit", () => {
  it.live("lists the server's tools with their descriptions and schemas, and calls one", () =>
    Effect.gen(function*() {
      const toolkit = yield* server()
      assert.deepStrictEqual(Object.keys(toolkit.tools).sort(), ["add", "env_names", "explode", "hang", "pid", "shout"])
      assert.strictEqual(toolkit.tools.add.description, "Adds two numbers")
      const result = yield* call(toolkit, "add", { a: 2, b: 3 })
      assert.isFalse(result?.isFailure)
      assert.strictEqual(result?.result, "5")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 30_000)

  it.live("a failing tool fails the call with McpClientError(ToolError), or returns the failure in return mode", () =>
    Effect.gen(function*() {
      const toolkit = yield* server()
      const exit = yield* call(toolkit, "explode", { reason: "boom" }).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      if (error?._tag !== "Some") throw new Error("expected a typed failure")
      assert.isTrue(McpClientError.isMcpClientError(error.value))
      const mcpError = error.value as unknown as McpClientError.McpClientError
      assert.strictEqual(mcpError.reason._tag, "ToolError")
      assert.include(mcpError.message, "boom")

      const returning = yield* server({ failureMode: "return", include: ["explode"] })
      const returned = yield* call(returning, "explode", { reason: "bang" })
      assert.isTrue(returned?.isFailure)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 30_000)

  it.live("arguments the server's schema refuses come back as a tool error, not a crash", () =>
    Effect.gen(function*() {
      const toolkit = yield* server()
      const exit = yield* call(toolkit, "add", { a: "two" }).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      assert.isFalse(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 30_000)

  it.live("a call past its deadline, and a result past its size limit, fail with typed errors", () =>
    Effect.gen(function*() {
      const toolkit = yield* server({ callTimeout: "300 millis", maxResultChars: 16 })
      const hung = yield* call(toolkit, "hang", {}).pipe(Effect.exit)
      const reasonOf = (exit: Exit.Exit<unknown, unknown>) => {
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
        if (error?._tag !== "Some" || !McpClientError.isMcpClientError(error.value)) throw new Error("expected an McpClientError")
        return error.value.reason._tag
      }
      assert.strictEqual(reasonOf(hung), "TimeoutError")
      const big = yield* call(toolkit, "shout", { text: "x".repeat(100) }).pipe(Effect.exit)
      assert.strictEqual(reasonOf(big), "LimitError")
      // the connection survives both
      assert.strictEqual((yield* call(toolkit, "shout", { text: "ok" }))?.result, "OK")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 30_000)

  it.live("an allow-list and a prefix decide which tools the model sees, and under which names", () =>
    Effect.gen(function*() {
      const toolkit = yield* server({ include: ["add", "pid"], prefix: "calc__" })
      assert.deepStrictEqual(Object.keys(toolkit.tools).sort(), ["calc__add", "calc__pid"])
      assert.strictEqual((yield* call(toolkit, "calc__add", { a: 1, b: 1 }))?.result, "2")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 30_000)

  it.live("the server starts with allow-listed variables only, plus those given", () =>
    Effect.gen(function*() {
      process.env.EFFECT_AGENTS_TEST_SECRET = "must-not-leak"
      const toolkit = yield* server({ env: { FIXTURE_FLAG: "1" } }).pipe(
        Effect.ensuring(Effect.sync(() => delete process.env.EFFECT_AGENTS_TEST_SECRET))
      )
      const names = JSON.parse(String((yield* call(toolkit, "env_names", {}))?.result)) as Array<string>
      assert.include(names, "PATH")
      assert.include(names, "FIXTURE_FLAG")
      assert.notInclude(names, "EFFECT_AGENTS_TEST_SECRET")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 30_000)

  it.live("the server process is gone after the scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const toolkit = yield* server().pipe(Scope.provide(scope))
      const pid = Number((yield* call(toolkit, "pid", {}))?.result)
      assert.isTrue(Number.isInteger(pid) && pid > 0)
      assert.isTrue(alive(pid))
      yield* Scope.close(scope, Exit.void)
      // closing waits for the exit or kills; poll generously in case the OS reaps it a moment later
      yield* Effect.promise(async () => {
        for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50))
      })
      assert.isFalse(alive(pid), `MCP server ${pid} still runs after its scope closed`)
    }).pipe(Effect.provide(NodeServices.layer)), 30_000)

  it.live("works over Streamable HTTP too", () =>
    Effect.gen(function*() {
      const { url } = yield* httpServer
      const toolkit = yield* McpToolkit.http({ url, include: ["add", "explode"] })
      assert.deepStrictEqual(Object.keys(toolkit.tools).sort(), ["add", "explode"])
      assert.strictEqual((yield* call(toolkit, "add", { a: 4, b: 5 }))?.result, "9")
      const exit = yield* call(toolkit, "explode", { reason: "over http" }).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
    }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)), 30_000)

  it.live("a command that cannot start fails with a typed McpClientError", () =>
    Effect.gen(function*() {
      const exit = yield* McpToolkit.stdio({ command: "/nonexistent/mcp-server" }).pipe(Effect.scoped, Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      assert.isTrue(error?._tag === "Some" && McpClientError.isMcpClientError(error.value))
    }).pipe(Effect.provide(NodeServices.layer)), 30_000)

  it.live("a model's tool call is resolved by the MCP server (one round through LanguageModel)", () =>
    Effect.gen(function*() {
      const chat = yield* chatServer([
        completion({
          content: null,
          tool_calls: [{ id: "m1", type: "function", function: { name: "add", arguments: "{\"a\":20,\"b\":22}" } }]
        }, "tool_calls")
      ])
      const toolkit = yield* server({ include: ["add"] })
      const response = yield* LanguageModel.generateText({ prompt: "20 + 22?", toolkit }).pipe(
        Effect.provide(OpenAiCompatible.layer({ baseUrl: chat.baseUrl, model: "m" }).pipe(Layer.provide(FetchHttpClient.layer)))
      )
      assert.deepStrictEqual(response.toolResults.map((r) => [r.id, r.result]), [["m1", "42"]])
      // the server's own JSON Schema went to the model
      const advertised = chat.seen[0].body.tools[0].function
      assert.strictEqual(advertised.name, "add")
      assert.deepStrictEqual(Object.keys(advertised.parameters.properties).sort(), ["a", "b"])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 30_000)
})

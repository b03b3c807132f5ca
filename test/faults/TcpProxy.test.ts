/**
 * The fault-injection proxy, checked with real sockets against a small echo
 * server that can also push bytes on its own (so one-way stalls are visible).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as Net from "node:net"
import * as TcpProxy from "./TcpProxy.ts"

/**
 * Echoes every byte back; after receiving "PUSH" on a connection, it also
 * writes "tick;" on it every 20 ms. Records what each connection received.
 */
const echoServer = Effect.acquireRelease(
  Effect.callback<{ server: Net.Server; received: Array<string>; sockets: Set<Net.Socket> }>((resume) => {
    const received: Array<string> = []
    const sockets = new Set<Net.Socket>()
    const server = Net.createServer((socket) => {
      sockets.add(socket)
      const index = received.push("") - 1
      let timer: ReturnType<typeof setInterval> | undefined
      socket.on("error", () => {})
      socket.on("close", () => {
        sockets.delete(socket)
        if (timer !== undefined) clearInterval(timer)
      })
      socket.on("data", (chunk: Buffer) => {
        received[index] += chunk.toString()
        socket.write(chunk)
        if (timer === undefined && received[index]!.includes("PUSH")) {
          timer = setInterval(() => socket.write("tick;"), 20)
        }
      })
    })
    server.on("error", () => {})
    server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed({ server, received, sockets })))
  }),
  ({ server, sockets }) =>
    Effect.callback<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
)

const portOf = (server: Net.Server): number => {
  const address = server.address()
  if (typeof address !== "object" || address === null) throw new Error("server is not listening")
  return address.port
}

interface Client {
  readonly socket: Net.Socket
  /** Everything received so far. */
  readonly data: () => string
  readonly closed: () => boolean
  readonly write: (text: string) => Effect.Effect<void>
}

/** A plain client socket, destroyed when the scope closes. */
const connect = (port: number) =>
  Effect.acquireRelease(
    Effect.sync((): Client => {
      const socket = Net.connect({ host: "127.0.0.1", port })
      let data = ""
      let closed = false
      socket.on("error", () => {})
      socket.on("data", (chunk: Buffer) => {
        data += chunk.toString()
      })
      socket.on("close", () => {
        closed = true
      })
      return {
        socket,
        data: () => data,
        closed: () => closed,
        write: (text) => Effect.sync(() => void socket.write(text))
      }
    }),
    (client) => Effect.sync(() => client.socket.destroy())
  )

/** Polls until `condition` holds; fails the test after `timeoutMs`. */
const eventually = (what: string, condition: (() => boolean) | Effect.Effect<boolean>, timeoutMs = 1000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    const check = Effect.isEffect(condition) ? condition : Effect.sync(condition)
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for: ${what}`))
      yield* Effect.sleep(5)
    }
  })

/** An echo server with a proxy in front of it. */
const setup = Effect.gen(function*() {
  const echo = yield* echoServer
  const proxy = yield* TcpProxy.make({ host: "127.0.0.1", port: portOf(echo.server) })
  return { echo, proxy }
})

/** Connects through the proxy and waits until the server has the connection. */
const connectThrough = (setup: { echo: { received: Array<string> }; proxy: TcpProxy.TcpProxy }) =>
  Effect.gen(function*() {
    const before = setup.echo.received.length
    const client = yield* connect(setup.proxy.port)
    yield* eventually("the server accepts the connection", () => setup.echo.received.length > before)
    return { client, index: before }
  })

describe("TcpProxy", () => {
  it.live("forward mode echoes bytes both ways and counts them", () =>
    Effect.gen(function*() {
      const s = yield* setup
      assert.strictEqual(s.proxy.url("ws"), `ws://127.0.0.1:${s.proxy.port}/`)
      assert.strictEqual(s.proxy.url("tcp"), `tcp://127.0.0.1:${s.proxy.port}`)
      assert.notStrictEqual(s.proxy.port, portOf(s.echo.server))
      const { client, index } = yield* connectThrough(s)
      assert.strictEqual(yield* s.proxy.connections, 1)
      yield* client.write("hello")
      yield* eventually("the echo", () => client.data() === "hello")
      assert.strictEqual(s.echo.received[index], "hello")
      assert.deepStrictEqual(yield* s.proxy.bytes, { up: 5, down: 5 })
      client.socket.destroy()
      yield* eventually("the proxy counts the connection gone", Effect.map(s.proxy.connections, (n) => n === 0))
    }).pipe(Effect.scoped))

  it.live("blackhole drops bytes both ways without closing, and forward resumes with new bytes only", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const { client, index } = yield* connectThrough(s)
      yield* s.proxy.mode("blackhole")
      yield* client.write("lost")
      yield* Effect.sleep(300)
      assert.strictEqual(client.data(), "")
      assert.strictEqual(s.echo.received[index], "")
      assert.isFalse(client.closed())
      assert.strictEqual(yield* s.proxy.connections, 1)

      yield* s.proxy.mode("forward")
      yield* client.write("new")
      yield* eventually("the new bytes are echoed", () => client.data().includes("new"))
      // Give a replay of the dropped bytes a chance to show up.
      yield* Effect.sleep(50)
      assert.strictEqual(client.data(), "new")
      assert.strictEqual(s.echo.received[index], "new")
      assert.deepStrictEqual(yield* s.proxy.bytes, { up: 3, down: 3 })
    }).pipe(Effect.scoped))

  it.live("blackhole also drops what the server pushes", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const { client } = yield* connectThrough(s)
      yield* client.write("PUSH")
      yield* eventually("ticks arrive", () => client.data().includes("tick;"))
      yield* s.proxy.mode("blackhole")
      yield* Effect.sleep(30)
      const seen = client.data().length
      yield* Effect.sleep(200)
      assert.strictEqual(client.data().length, seen)
      assert.isFalse(client.closed())
      yield* s.proxy.mode("forward")
      yield* eventually("ticks arrive again", () => client.data().length > seen)
    }).pipe(Effect.scoped))

  it.live("stall-upstream drops client->server while server pushes still arrive", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const { client, index } = yield* connectThrough(s)
      yield* client.write("PUSH")
      yield* eventually("the echo of PUSH", () => client.data().startsWith("PUSH"))
      yield* s.proxy.mode("stall-upstream")
      const seen = client.data().length
      yield* client.write("dropped")
      yield* Effect.sleep(300)
      assert.strictEqual(s.echo.received[index], "PUSH")
      assert.notInclude(client.data(), "dropped")
      const ticks = client.data().slice(seen).split("tick;").length - 1
      assert.isAtLeast(ticks, 3, "server pushes kept flowing")
      assert.isFalse(client.closed())

      yield* s.proxy.mode("forward")
      yield* client.write("after")
      yield* eventually("the server gets new bytes", () => s.echo.received[index] === "PUSHafter")
    }).pipe(Effect.scoped))

  it.live("stall-downstream delivers client->server but nothing back", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const { client, index } = yield* connectThrough(s)
      yield* s.proxy.mode("stall-downstream")
      yield* client.write("up-only")
      yield* eventually("the server gets the bytes", () => s.echo.received[index] === "up-only")
      yield* Effect.sleep(200)
      assert.strictEqual(client.data(), "")
      assert.isFalse(client.closed())
      yield* s.proxy.mode("forward")
      yield* client.write("both")
      yield* eventually("the echo of new bytes", () => client.data() === "both")
    }).pipe(Effect.scoped))

  it.live("pause holds bytes back without losing them", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const { client, index } = yield* connectThrough(s)
      yield* s.proxy.mode("pause")
      yield* client.write("held")
      yield* Effect.sleep(200)
      assert.strictEqual(s.echo.received[index], "")
      assert.strictEqual(client.data(), "")
      yield* s.proxy.mode("forward")
      yield* eventually("the held bytes are delivered and echoed", () => client.data() === "held")
      assert.strictEqual(s.echo.received[index], "held")
    }).pipe(Effect.scoped))

  it.live("cut closes current connections, and new ones still work", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const first = yield* connectThrough(s)
      yield* first.client.write("one")
      yield* eventually("the first echo", () => first.client.data() === "one")
      yield* s.proxy.cut
      yield* eventually("the client sees close", () => first.client.closed(), 500)
      assert.strictEqual(yield* s.proxy.connections, 0)

      const second = yield* connectThrough(s)
      yield* second.client.write("two")
      yield* eventually("the second echo", () => second.client.data() === "two")
      assert.strictEqual(yield* s.proxy.connections, 1)
    }).pipe(Effect.scoped))

  it.live("refuse closes new connections at once, until turned off", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.proxy.refuse(true)
      const refused = yield* connect(s.proxy.port)
      yield* eventually("the refused client sees close", () => refused.closed(), 500)
      assert.strictEqual(refused.data(), "")
      assert.strictEqual(s.echo.received.length, 0, "the server never saw the connection")
      assert.strictEqual(yield* s.proxy.connections, 0)

      yield* s.proxy.refuse(false)
      const { client } = yield* connectThrough(s)
      yield* client.write("ok")
      yield* eventually("the echo", () => client.data() === "ok")
      assert.isFalse(client.closed())
    }).pipe(Effect.scoped))

  it.live("closing the proxy's scope closes its connections and its port", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const scope = yield* Scope.make()
      const proxy = yield* TcpProxy.make({ host: "127.0.0.1", port: portOf(echo.server) }).pipe(Scope.provide(scope))
      const { client } = yield* connectThrough({ echo, proxy })
      yield* Scope.close(scope, Exit.void)
      yield* eventually("the client sees close", () => client.closed(), 500)
      const late = yield* connect(proxy.port)
      yield* eventually("a late connection is refused", () => late.closed(), 500)
      assert.strictEqual(echo.received.length, 1, "the server only ever saw the first connection")
    }).pipe(Effect.scoped))
})

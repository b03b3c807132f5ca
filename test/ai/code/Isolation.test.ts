import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Duration, Effect } from "effect"
import { CodeBlock } from "../../../src/ai/code/CodeBlock.ts"
import * as Isolation from "../../../src/ai/code/Isolation.ts"
import { isRoot, isRunning, killAll, runningOfUid, runningWith, withExecutor } from "./processes.ts"

const block = (language: string, code: string) => new CodeBlock({ language, code })

// uids no account on the machine uses, so their process counts are the sandbox's alone; one per
// test, because killed processes count against their uid until init reaps them
const uids = { bomb: 64123, forks: 64124, network: 64125, everything: 64126, missing: 64127 }

/** A TCP listener on 127.0.0.1 for the scope, counting the connections it accepts. */
const listener = Effect.acquireRelease(
  Effect.callback<{ readonly port: number; readonly accepted: () => number; readonly server: Net.Server }>((resume) => {
    let accepted = 0
    const server = Net.createServer((socket) => {
      accepted++
      // a client that leaves without reading resets the connection
      socket.on("error", () => {})
      socket.end("hello\n")
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ port: (server.address() as Net.AddressInfo).port, accepted: () => accepted, server })))
  }),
  ({ server }) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
)

const connect = (port: number) =>
  block("python", [
    "import socket",
    "try:",
    `    s = socket.create_connection(("127.0.0.1", ${port}), timeout=5)`,
    "    print('connected:', s.recv(16).decode().strip())",
    "except OSError as e:",
    "    print('refused:', e)"
  ].join("\n"))

describe("isolation levels", () => {
  it.live("a level whose tool is missing is refused up front with a typed error naming the level and the tool", () =>
    Effect.gen(function*() {
      const missing = { environment: { set: { PATH: "/nonexistent" } } }
      for (const [level, tool] of [[Isolation.jail(), "bwrap"], [Isolation.resourceLimits({ processes: 10 }), "prlimit"], [Isolation.noNetwork, "unshare"], [Isolation.runAs(uids.missing), "setpriv"]] as const) {
        const error = yield* Effect.flip(withExecutor({ ...missing, isolation: [level] }, () => Effect.void))
        assert.strictEqual(error._tag, "IsolationUnavailableError")
        if (error._tag !== "IsolationUnavailableError") continue
        assert.strictEqual(error.level, level._tag)
        assert.strictEqual(error.tool, tool)
      }
    }))

  describe("NoNetwork", () => {
    it.live.skipIf(!isRoot)("a connection to a 127.0.0.1 listener succeeds without it and is refused under it", () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* listener
        const [open] = yield* withExecutor({}, (executor) => executor.execute([connect(server.port)]))
        assert.strictEqual(open!.output, "connected: hello\n")
        assert.strictEqual(server.accepted(), 1)
        for (const isolation of [[Isolation.noNetwork], [Isolation.noNetwork, Isolation.jail()]]) {
          const [closed] = yield* withExecutor({ isolation }, (executor) => executor.execute([connect(server.port)]))
          assert.match(closed!.output, /^refused: /)
        }
        assert.strictEqual(server.accepted(), 1)
      })))

    it.live.skipIf(!isRoot)("code running as root can re-enter the host's network namespace; as an unprivileged uid or in the jail it cannot", () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* listener
        const escape = block("sh", `nsenter --net=/proc/${process.pid}/ns/net python3 -c "import socket; socket.create_connection(('127.0.0.1', ${server.port}), timeout=5); print('escaped')" 2>&1`)
        const [asRoot] = yield* withExecutor({ isolation: [Isolation.noNetwork] }, (executor) => executor.execute([escape]))
        assert.include(asRoot!.output, "escaped")
        const [unprivileged] = yield* withExecutor({ isolation: [Isolation.noNetwork, Isolation.runAs(uids.network)] }, (executor) => executor.execute([escape]))
        assert.notInclude(unprivileged!.output, "escaped")
        assert.match(unprivileged!.output, /Permission denied|Operation not permitted/)
        // in the jail, root has no capabilities left and sees no host process to take a namespace from
        const [jailed] = yield* withExecutor({ isolation: [Isolation.noNetwork, Isolation.jail()] }, (executor) => executor.execute([escape]))
        assert.notInclude(jailed!.output, "escaped")
        assert.strictEqual(server.accepted(), 1)
      })))
  })

  describe("ResourceLimits", () => {
    it.live.skipIf(!isRoot)("a fork bomb is held by the process limit under RunAs, and the machine is fine afterwards", () =>
      Effect.gen(function*() {
        const limit = 24
        let most = 0
        const bomb = block("bash", "bomb() { bomb | bomb & }\nbomb\nsleep 2\necho leader done")
        const watch = Effect.sync(() => void (most = Math.max(most, runningOfUid(uids.bomb).length))).pipe(
          Effect.andThen(Effect.sleep(Duration.millis(20))),
          Effect.forever
        )
        const [result] = yield* withExecutor(
          { timeout: Duration.seconds(10), isolation: [Isolation.resourceLimits({ processes: limit }), Isolation.runAs(uids.bomb)] },
          (executor) => Effect.raceFirst(executor.execute([bomb]), watch)
        ).pipe(Effect.ensuring(Effect.sync(() => killAll(runningOfUid(uids.bomb)))))
        assert.include(result!.output, "Resource temporarily unavailable")
        assert.include(result!.output, "leader done")
        assert.isAtMost(most, limit)
        assert.isAbove(most, 1)
        // nothing of the bomb is left, and new processes start
        assert.deepStrictEqual(runningOfUid(uids.bomb), [])
        const [after] = yield* withExecutor({}, (executor) => executor.execute([block("sh", "echo fine")]))
        assert.strictEqual(after!.output, "fine\n")
      }))

    it.live.skipIf(!isRoot)("forks past the limit fail under RunAs; as root the kernel does not apply the limit at all", () =>
      Effect.gen(function*() {
        const forks = block("python", [
          "import os, time",
          "n = 0",
          "try:",
          "    while n < 40:",
          "        if os.fork() == 0:",
          "            time.sleep(30)",
          "            os._exit(0)",
          "        n += 1",
          "    print('forked', n)",
          "except OSError as e:",
          "    print('refused after', n, type(e).__name__)"
        ].join("\n"))
        const limits = Isolation.resourceLimits({ processes: 10 })
        const [unprivileged] = yield* withExecutor({ isolation: [limits, Isolation.runAs(uids.forks)] }, (executor) => executor.execute([forks]))
        assert.match(unprivileged!.output, /^refused after \d BlockingIOError\n$/)
        const [root] = yield* withExecutor({ isolation: [limits] }, (executor) => executor.execute([forks]))
        assert.strictEqual(root!.output, "forked 40\n")
        // the sleepers died with their block's group
        assert.deepStrictEqual(runningWith("time.sleep(30)").filter(isRunning), [])
      }))

    it.live.skipIf(!isRoot)("memory, file size and CPU time are limited", () =>
      withExecutor({
        isolation: [Isolation.resourceLimits({ memoryBytes: 256 * 1024 * 1024, fileSizeBytes: 1024 * 1024, cpuSeconds: 1 })],
        timeout: Duration.seconds(20)
      }, (executor) =>
        Effect.gen(function*() {
          const [memory] = yield* executor.execute([block("python", "try:\n    b = bytearray(1024 * 1024 * 1024)\n    print('allocated')\nexcept MemoryError:\n    print('MemoryError')")])
          assert.strictEqual(memory!.output, "MemoryError\n")
          // a process past the file size limit gets SIGXFSZ; Python ignores it and sees EFBIG instead
          const [file] = yield* executor.execute([block("sh", "exec head -c 2000000 /dev/zero > big")])
          assert.strictEqual(file!.signal, "SIGXFSZ")
          assert.strictEqual(file!.exitCode, 128 + 25)
          const [python] = yield* executor.execute([block("python", "try:\n    open('big', 'wb').write(bytes(2_000_000))\nexcept OSError as e:\n    print(e.strerror)")])
          assert.strictEqual(python!.output, "File too large\n")
          const [cpu] = yield* executor.execute([block("python", "while True: pass")])
          assert.strictEqual(cpu!.signal, "SIGXCPU")
          assert.isFalse(cpu!.timedOut)
        })
      ))
  })

  describe("Jail", () => {
    it.live.skipIf(!isRoot)("a write outside the work directory is refused in the jail, allowed without it; a write inside is allowed", () =>
      Effect.gen(function*() {
        const outside = Fs.mkdtempSync(Path.join(Os.tmpdir(), "code-jail-"))
        const victim = Path.join(outside, "victim.txt")
        Fs.writeFileSync(victim, "original\n")
        const attempt = block("python", [
          "for path in ['inside.txt', " + JSON.stringify(victim) + "]:",
          "    try:",
          "        open(path, 'w').write('changed')",
          "        print(path, 'written')",
          "    except OSError as e:",
          "        print(path, 'refused:', e.strerror)",
          "print(open(" + JSON.stringify(victim) + ").read().strip())"
        ].join("\n"))
        try {
          const [jailed] = yield* withExecutor({ isolation: [Isolation.jail({ readOnlyPaths: [outside] })] }, (executor) => executor.execute([attempt]))
          assert.strictEqual(jailed!.output, `inside.txt written\n${victim} refused: Read-only file system\noriginal\n`)
          assert.strictEqual(Fs.readFileSync(victim, "utf8"), "original\n")
          const [free] = yield* withExecutor({}, (executor) => executor.execute([attempt]))
          assert.strictEqual(free!.output, `inside.txt written\n${victim} written\nchanged\n`)
          assert.strictEqual(Fs.readFileSync(victim, "utf8"), "changed")
        } finally {
          Fs.rmSync(outside, { recursive: true })
        }
      }))

    it.live.skipIf(!isRoot)("the jail shows system directories only: no /root, no /etc/shadow, a private /tmp, its own PIDs", () =>
      Effect.gen(function*() {
        const marker = Path.join(Os.tmpdir(), `code-jail-marker-${process.pid}`)
        Fs.writeFileSync(marker, "host")
        try {
          const [result] = yield* withExecutor({ isolation: [Isolation.jail()] }, (executor) =>
            executor.execute([block("python", [
              "import os",
              `print(os.path.exists('/root'), os.path.exists('/etc/shadow'), os.path.exists(${JSON.stringify(marker)}), os.path.exists('/etc/passwd'))`,
              "print(len([p for p in os.listdir('/proc') if p.isdigit()]) < 10)",
              `open('/tmp/code-jail-private-${process.pid}', 'w').write('private')`
            ].join("\n"))]))
          assert.strictEqual(result!.output, "False False False True\nTrue\n")
          assert.isFalse(Fs.existsSync(Path.join(Os.tmpdir(), `code-jail-private-${process.pid}`)))
        } finally {
          Fs.rmSync(marker)
        }
      }))

    it.live.skipIf(!isRoot)("a process that left the group with setsid survives without the jail, and dies with the jail's PID namespace", () =>
      Effect.gen(function*() {
        // the leader exits only once the child has its own session (its session id is its PID), so the group kill cannot reach it
        const escaper = (tag: string) =>
          block("sh", `setsid sleep ${tag} >/dev/null 2>&1 < /dev/null &\nuntil [ "$(cut -d' ' -f6 /proc/$!/stat)" = "$!" ]; do sleep 0.01; done\necho detached`)
        try {
          yield* withExecutor({ isolation: [Isolation.jail()] }, (executor) => executor.execute([escaper("1001.5")]))
          assert.deepStrictEqual(runningWith("sleep 1001.5"), [])
          yield* withExecutor({}, (executor) => executor.execute([escaper("1002.5")]))
          assert.strictEqual(runningWith("sleep 1002.5").length, 1)
        } finally {
          killAll([...runningWith("sleep 1001.5"), ...runningWith("sleep 1002.5")])
        }
      }))

    it.live.skipIf(!isRoot)("every level at once: jailed, without network, limited, as an unprivileged uid; timeouts still kill everything", () =>
      Effect.gen(function*() {
        const [ran, looped] = yield* withExecutor({
          timeout: Duration.seconds(8),
          isolation: [Isolation.jail(), Isolation.noNetwork, Isolation.resourceLimits({ processes: 32, memoryBytes: 512 * 1024 * 1024 }), Isolation.runAs(uids.everything)]
        }, (executor) =>
          Effect.zip(
            executor.execute([block("sh", "id -u; echo hi > mine.txt && cat mine.txt; echo tmp > /tmp/t && cat /tmp/t")]),
            executor.execute([block("sh", "sleep 1003.5 &\nwhile :; do sleep 1; done")])
          ).pipe(Effect.map(([[a], [b]]) => [a!, b!] as const)))
        assert.strictEqual(ran.output, `${uids.everything}\nhi\ntmp\n`)
        assert.isTrue(looped.timedOut)
        assert.deepStrictEqual(runningWith("sleep 1003.5"), [])
        assert.deepStrictEqual(runningOfUid(uids.everything), [])
      }))
  })
})

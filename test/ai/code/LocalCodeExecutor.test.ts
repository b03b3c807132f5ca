import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ConfigProvider, Duration, Effect, Exit, Fiber } from "effect"
import { CodeBlock } from "../../../src/ai/code/CodeBlock.ts"
import * as CodeExecutor from "../../../src/ai/code/CodeExecutor.ts"
import { isRunning, killAll, layer, withExecutor } from "./processes.ts"

const block = (language: string, code: string, filename?: string) =>
  new CodeBlock({ language, code, ...(filename !== undefined ? { filename } : {}) })

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "code-test-"))

describe("LocalCodeExecutor", () => {
  it.live("runs python, sh and bash, each with its exit code and its output", () =>
    withExecutor({}, (executor) =>
      Effect.gen(function*() {
        const [python, sh, bash] = yield* executor.execute([
          block("python", "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)"),
          block("sh", "echo from sh; echo oops >&2"),
          block("bash", "declare -A m=([k]=v); echo ${m[k]}; exit 7")
        ])
        assert.strictEqual(python!.exitCode, 0)
        assert.strictEqual(python!.stdout, "to stdout\n")
        assert.strictEqual(python!.stderr, "to stderr\n")
        assert.include(python!.output, "to stdout\n")
        assert.include(python!.output, "to stderr\n")
        assert.strictEqual(sh!.stdout, "from sh\n")
        assert.strictEqual(sh!.stderr, "oops\n")
        assert.strictEqual(bash!.exitCode, 7)
        assert.strictEqual(bash!.output, "v\n")
        assert.isFalse(bash!.succeeded)
      })
    ))

  it.live("with mergeStderr, output has stdout and stderr in the exact order they were written", () =>
    withExecutor({ mergeStderr: true }, (executor) =>
      Effect.gen(function*() {
        const code = "import sys\nfor i in range(50):\n    print('out', i)\n    print('err', i, file=sys.stderr)"
        const [result] = yield* executor.execute([block("python", code)])
        const expected = Array.from({ length: 50 }, (_, i) => `out ${i}\nerr ${i}\n`).join("")
        assert.strictEqual(result!.output, expected)
        assert.strictEqual(result!.stdout, expected)
        assert.strictEqual(result!.stderr, "")
        const [failed] = yield* executor.execute([block("python", "print('before')\nraise ValueError('boom')")])
        assert.match(failed!.output, /^before\nTraceback[\s\S]*ValueError: boom\n$/)
        assert.strictEqual(failed!.exitCode, 1)
      })
    ))

  it.live("accepts the languages' aliases, and refuses an unknown language with a typed error listing the supported ones", () =>
    withExecutor({}, (executor) =>
      Effect.gen(function*() {
        const [result] = yield* executor.execute([block(" Py ", "print('alias')")])
        assert.strictEqual(result!.language, "python")
        assert.strictEqual(result!.output, "alias\n")
        const error = yield* Effect.flip(executor.execute([block("cobol", "DISPLAY 'HI'.")]))
        assert.strictEqual(error._tag, "UnsupportedLanguageError")
        if (error._tag !== "UnsupportedLanguageError") return
        assert.strictEqual(error.language, "cobol")
        assert.deepStrictEqual(error.supported, ["python", "sh", "bash"])
        const limited = yield* withExecutor({ languages: ["python"] }, (only) => Effect.flip(only.execute([block("sh", "echo")])))
        assert.strictEqual(limited._tag, "UnsupportedLanguageError")
      })
    ))

  it.live("blocks share the work directory, and running stops after the first block that fails", () =>
    withExecutor({}, (executor) =>
      Effect.gen(function*() {
        const results = yield* executor.execute([
          block("python", "open('data.txt', 'w').write('42')", "make.py"),
          block("sh", "cat data.txt; exit 1"),
          block("sh", "echo never")
        ])
        assert.deepStrictEqual(results.map((r) => [r.filename, r.exitCode]), [["make.py", 0], ["block-1.sh", 1]])
        assert.strictEqual(results[1]!.output, "42")
      })
    ))

  it.live("the environment is built from the allow-list: a secret of the parent is not visible, an allowed name and a set value are", () =>
    withExecutor(
      { environment: { allow: ["ALLOWED_NAME", "UNSET_NAME"], set: { GIVEN: "yes" } } },
      (executor) =>
        Effect.gen(function*() {
          const [result] = yield* executor.execute([
            block("python", "import os, json\nprint(json.dumps(dict(os.environ)))")
          ])
          const env = JSON.parse(result!.stdout) as Record<string, string>
          assert.isUndefined(env["SECRET_TOKEN"])
          assert.strictEqual(env["ALLOWED_NAME"], "visible")
          assert.isUndefined(env["UNSET_NAME"])
          assert.strictEqual(env["GIVEN"], "yes")
          assert.strictEqual(env["PATH"], "/usr/local/bin:/usr/bin:/bin")
          assert.include(env["HOME"]!, "effect-agents-code-")
        })
    ).pipe(
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ SECRET_TOKEN: "sk-do-not-leak", ALLOWED_NAME: "visible" })))
    ))

  it.live("the real environment's secret does not reach the code either", () =>
    Effect.gen(function*() {
      process.env["CODE_TEST_SECRET"] = "sk-parent-secret"
      const [result] = yield* withExecutor({}, (executor) => executor.execute([block("sh", "env")]))
      assert.notInclude(result!.output, "sk-parent-secret")
      assert.include(result!.output, "PATH=/usr/local/bin:/usr/bin:/bin")
    }).pipe(Effect.ensuring(Effect.sync(() => delete process.env["CODE_TEST_SECRET"]))))

  it.live("file names stay in the work directory: '..', absolute paths and symbolic links are refused; subdirectories are made", () =>
    withExecutor({}, (executor) =>
      Effect.gen(function*() {
        const outside = tempDir()
        const refused = (filename: string) =>
          executor.execute([block("sh", "echo pwned", filename)]).pipe(Effect.flip)
        for (const filename of ["../escape.sh", "a/../../escape.sh", `${outside}/escape.sh`, "", "./", "x\0y"]) {
          const error = yield* refused(filename)
          assert.strictEqual(error._tag, "InvalidFilenameError", filename)
        }
        // a block plants links; a later block may not write through them
        const [planted] = yield* executor.execute([block("sh", `ln -s ${outside} link && ln -s ${outside}/target.sh file.sh && echo planted`)])
        assert.strictEqual(planted!.output, "planted\n")
        const throughDir = yield* refused("link/escape.sh")
        assert.strictEqual(throughDir._tag, "InvalidFilenameError")
        assert.include((throughDir as { reason: string }).reason, "symbolic link")
        const throughFile = yield* refused("file.sh")
        assert.strictEqual(throughFile._tag, "InvalidFilenameError")
        assert.deepStrictEqual(Fs.readdirSync(outside), [])
        const [nested] = yield* executor.execute([block("python", "import os\nprint(os.path.relpath(__file__))", "pkg/sub/main.py")])
        assert.strictEqual(nested!.output, "pkg/sub/main.py\n")
        Fs.rmSync(outside, { recursive: true })
      })
    ))

  it.live("an infinite loop is killed at its timeout, its backgrounded grandchild too, and the output before it is kept", () =>
    Effect.gen(function*() {
      const [result] = yield* withExecutor({ timeout: Duration.seconds(2) }, (executor) =>
        executor.execute([block("bash", "echo started\nsleep 1000 &\necho grandchild=$!\nwhile :; do :; done")]))
      const grandchild = Number(/grandchild=(\d+)/.exec(result!.output)?.[1])
      try {
        assert.isTrue(result!.timedOut)
        assert.strictEqual(result!.exitCode, 124)
        assert.strictEqual(result!.stdout, `started\ngrandchild=${grandchild}\n`)
        assert.include(result!.output, "[timed out after 2s")
        assert.isAbove(grandchild, 1)
        assert.isFalse(isRunning(grandchild), `grandchild ${grandchild} is still running`)
      } finally {
        killAll([grandchild])
      }
    }))

  it.live("a process left in the background by a block that exited is killed with its group", () =>
    Effect.gen(function*() {
      const [result] = yield* withExecutor({}, (executor) =>
        executor.execute([block("sh", "sleep 1000 &\necho background=$!")]))
      const background = Number(/background=(\d+)/.exec(result!.output)?.[1])
      try {
        assert.strictEqual(result!.exitCode, 0)
        assert.isFalse(result!.timedOut)
        assert.isFalse(isRunning(background), `background process ${background} is still running`)
      } finally {
        killAll([background])
      }
    }))

  it.live("a 100 MB print is capped: the output keeps the first bytes with a marker, and the process is killed early", () =>
    withExecutor({ maxOutputBytes: 64 * 1024 }, (executor) =>
      Effect.gen(function*() {
        const [result] = yield* executor.execute([block("python", "import sys\nsys.stdout.write('x' * 100_000_000)\nprint('finished', file=sys.stderr)")])
        assert.isTrue(result!.truncated)
        assert.strictEqual(result!.signal, "SIGKILL")
        assert.strictEqual(result!.stdout.length, 64 * 1024)
        assert.notInclude(result!.output, "finished")
        assert.include(result!.output, "[output truncated: the first 65536 bytes are kept; the process was killed]")
        // killed at the cap: it never got near its 100 MB
        assert.isBelow(result!.outputBytes, 10_000_000)
      })
    ))

  it.live("with onOutputLimit 'drain', a 100 MB print runs to its end: every byte is read, only the cap is kept", () =>
    withExecutor({ maxOutputBytes: 64 * 1024, onOutputLimit: "drain" }, (executor) =>
      Effect.gen(function*() {
        const [result] = yield* executor.execute([block("python", "import sys\nsys.stdout.write('x' * 100_000_000)\nsys.stdout.flush()\nprint('finished', file=sys.stderr)")])
        assert.strictEqual(result!.exitCode, 0)
        assert.isTrue(result!.truncated)
        assert.strictEqual(result!.outputBytes, 100_000_000 + "finished\n".length)
        assert.strictEqual(result!.stdout.length + result!.stderr.length, 64 * 1024)
        assert.include(result!.output, `[output truncated: 65536 of ${100_000_009} bytes are kept]`)
      })
    ))

  it.live("a multi-byte character split by the cap or by a read is decoded, not mangled", () =>
    withExecutor({ maxOutputBytes: 1024 }, (executor) =>
      Effect.gen(function*() {
        const [result] = yield* executor.execute([block("python", "print('é' * 100)")])
        assert.strictEqual(result!.stdout, `${"é".repeat(100)}\n`)
      })
    ))

  it.live("a process killed by a signal reports 128 + n and the signal's name", () =>
    withExecutor({}, (executor) =>
      Effect.gen(function*() {
        const [result] = yield* executor.execute([block("sh", "echo before; kill -SEGV $$")])
        assert.strictEqual(result!.exitCode, 139)
        assert.strictEqual(result!.signal, "SIGSEGV")
        assert.strictEqual(result!.output, "before\n")
      })
    ))

  it.live("the work directory is removed when the executor's scope closes", () =>
    Effect.gen(function*() {
      const parent = tempDir()
      yield* withExecutor({ directory: parent }, (executor) =>
        Effect.gen(function*() {
          yield* executor.execute([block("sh", "mkdir -p deep/er && echo data > deep/er/file")])
          assert.strictEqual(Fs.readdirSync(parent).length, 1)
        }))
      assert.deepStrictEqual(Fs.readdirSync(parent), [])
      Fs.rmSync(parent, { recursive: true })
    }))

  it.live("interrupting a run kills the block's processes", () =>
    Effect.gen(function*() {
      const parent = tempDir()
      let pids: Array<number> = []
      yield* withExecutor({ directory: parent }, (executor) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(executor.execute([block("sh", "sleep 1000 &\necho $! > pids\necho $$ >> pids\nwait")]))
          const pidsFile = () => Path.join(parent, Fs.readdirSync(parent)[0] ?? "none", "pids")
          // wait (bounded) for the block to have written its PIDs
          for (let i = 0; i < 400 && !(Fs.existsSync(pidsFile()) && Fs.readFileSync(pidsFile(), "utf8").split("\n").length > 2); i++) {
            yield* Effect.sleep(Duration.millis(50))
          }
          pids = Fs.readFileSync(pidsFile(), "utf8").trim().split("\n").map(Number)
          assert.strictEqual(pids.length, 2)
          assert.isTrue(pids.every(isRunning))
          const exit = yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
          assert.isTrue(Exit.hasInterrupts(exit))
          assert.deepStrictEqual(pids.filter(isRunning), [])
        })).pipe(Effect.ensuring(Effect.sync(() => killAll(pids))))
      Fs.rmSync(parent, { recursive: true })
    }))

  it.live("bad options are a typed error when the executor is built", () =>
    Effect.gen(function*() {
      for (const options of [{ maxOutputBytes: 0 }, { maxOutputBytes: 1.5 }, { timeout: "soon" as Duration.Input }, { environment: { allow: ["NOT A NAME"] } }]) {
        const error = yield* Effect.flip(withExecutor(options, () => Effect.void))
        assert.strictEqual(error._tag, "CodeExecutionError", JSON.stringify(options))
      }
    }))

  it.live("CodeExecutor.run goes through the service in context", () =>
    CodeExecutor.run(block("sh", "printf ok")).pipe(
      Effect.map((result) => assert.strictEqual(result.output, "ok")),
      Effect.provide(layer({}))
    ))
})

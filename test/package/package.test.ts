/**
 * A package that installs: `npm pack` (whose `prepack` builds dist/) makes
 * the tarball; a fresh project in a temporary directory depends on that
 * tarball only, as a user's would. There the README's complete example is
 * compiled against the installed package's types and run from its compiled
 * JavaScript, and a host started by the package's own CLI serves two worker
 * programs from the README. The examples are read from README.md, not copied
 * here, so the README stays what works.
 *
 * Slow by nature (a build, an install, five processes): run it on its own.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { type Block, blocksOf, root } from "../docs/DocBlocks.ts"

// ---------------------------------------------------------------------------
// processes
// ---------------------------------------------------------------------------

/** The Node that runs this test (the project's Node 24) first on PATH, for npm and the CLI's `#!/usr/bin/env node`. */
const env = { ...process.env, PATH: `${Path.dirname(process.execPath)}${Path.delimiter}${process.env.PATH ?? ""}` }

interface Ran {
  readonly code: number | null
  readonly output: string
  readonly stdout: string
}

/** Runs a command to its end (killed by PID if the scope closes first); fails with its output if it exits non-zero. Gives its stdout and stderr. */
const run = (command: string, args: ReadonlyArray<string>, cwd: string, timeout: Duration.Input = "3 minutes", extraEnv: Record<string, string> = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* spawn(command, args, cwd, extraEnv)
    const ran = yield* Effect.callback<Ran>((resume) => {
      child.process.on("close", (code) => resume(Effect.succeed({ code, output: child.output(), stdout: child.stdout() })))
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.die(new Error(`${command} ${args.join(" ")} did not finish within ${Duration.format(Duration.fromInputUnsafe(timeout))}:\n${child.output()}`))
      })
    )
    if (ran.code !== 0) return yield* Effect.die(new Error(`${command} ${args.join(" ")} exited with ${ran.code}:\n${ran.output}`))
    return ran
  }))

interface Child {
  readonly process: ChildProcess.ChildProcess
  /** Everything it printed so far, stdout and stderr interleaved. */
  readonly output: () => string
  /** What it printed on stdout only. */
  readonly stdout: () => string
  /** Resolves with the first match of `pattern` in its output; fails if it exits first. */
  readonly waitFor: (pattern: RegExp, timeout?: Duration.Input) => Effect.Effect<RegExpMatchArray>
}

/** A process for the life of the scope: stopped by its PID when the scope closes (SIGTERM, then SIGKILL). */
const spawn = (command: string, args: ReadonlyArray<string>, cwd: string, extraEnv: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const child = ChildProcess.spawn(command, args, { cwd, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] })
      let output = ""
      let stdout = ""
      const listeners = new Set<() => void>()
      const append = (chunk: Buffer) => {
        output += chunk.toString()
        for (const listener of listeners) listener()
      }
      child.stdout!.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
        append(chunk)
      })
      child.stderr!.on("data", append)
      child.on("exit", () => {
        for (const listener of listeners) listener()
      })
      const waitFor = (pattern: RegExp, timeout: Duration.Input = "60 seconds") =>
        Effect.callback<RegExpMatchArray>((resume) => {
          const check = () => {
            const match = output.match(pattern)
            if (match !== null) resume(Effect.succeed(match))
            else if (child.exitCode !== null || child.signalCode !== null) {
              resume(Effect.die(new Error(`${command} ${args.join(" ")} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${output}`)))
            } else return
            listeners.delete(check)
          }
          listeners.add(check)
          check()
          return Effect.sync(() => listeners.delete(check))
        }).pipe(Effect.timeoutOrElse({
          duration: timeout,
          orElse: () => Effect.die(new Error(`${command} ${args.join(" ")} did not print ${pattern} within ${Duration.format(Duration.fromInputUnsafe(timeout))}:\n${output}`))
        }))
      return { process: child, output: () => output, stdout: () => stdout, waitFor }
    }),
    (child) =>
      Effect.callback<void>((resume) => {
        const { process: p } = child
        if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return resume(Effect.void)
        const kill = setTimeout(() => process.kill(p.pid!, "SIGKILL"), 5000)
        p.once("exit", () => {
          clearTimeout(kill)
          resume(Effect.void)
        })
        process.kill(p.pid, "SIGTERM")
      })
  )

/** A temporary directory for the life of the scope. */
const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

// ---------------------------------------------------------------------------
// the README's programs
// ---------------------------------------------------------------------------

const readmeBlocks = blocksOf("README.md", Fs.readFileSync(Path.join(root, "README.md"), "utf8"))

/** The one README block under `section` that has every one of `marks`. */
const readmeBlock = (section: string, ...marks: ReadonlyArray<string>): Block => {
  const found = readmeBlocks.filter((block) => block.section === section && marks.every((mark) => block.code.includes(mark)))
  if (found.length !== 1) {
    throw new Error(`README.md: expected one TypeScript block under "${section}" with ${marks.join(", ")}; found ${found.length}`)
  }
  return found[0]!
}

// ---------------------------------------------------------------------------
// the package
// ---------------------------------------------------------------------------

interface Packed {
  readonly tarball: string
  readonly files: ReadonlyArray<string>
}

/** `npm pack` of the checkout into `dir` (prepack builds dist/ first). */
const pack = (dir: string) =>
  Effect.map(run("npm", ["pack", "--json", "--pack-destination", dir], root), ({ stdout }): Packed => {
    // prepack's build prints on stdout before the JSON
    const json = JSON.parse(stdout.slice(stdout.indexOf("[\n"))) as ReadonlyArray<{ filename: string; files: ReadonlyArray<{ path: string }> }>
    return { tarball: Path.join(dir, json[0]!.filename), files: json[0]!.files.map((f) => f.path) }
  })

/** Every file path a package.json "exports" entry names, with its subpath and condition. */
const exportTargets = (exports: unknown, at = "."): ReadonlyArray<{ readonly entry: string; readonly target: string }> => {
  if (typeof exports === "string") return [{ entry: at, target: exports }]
  if (exports === null || typeof exports !== "object") return []
  return Object.entries(exports).flatMap(([key, value]) => exportTargets(value, key.startsWith(".") ? key : `${at} (${key})`))
}

const pkg = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as {
  readonly name: string
  readonly exports: unknown
  readonly bin: Record<string, string>
}

/** The user's tsconfig: the project's strictness, Node's types from this checkout (the fresh project installs only the tarball). */
const userTsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    types: ["node"],
    typeRoots: [Path.join(root, "node_modules", "@types")],
    outDir: "out",
    rootDir: "."
  },
  include: ["*.ts"]
}

describe("the packed package", () => {
  it.live("installs from its tarball alone; the README's example and a host from its CLI with two workers run from it", () =>
    Effect.gen(function*() {
      const work = yield* tempDir("effect-agents-package-")
      const packed = yield* pack(work)

      // what is in the tarball: the build, the CLI, and every file "exports" and "bin" name
      assert.include(packed.files, "dist/index.js")
      assert.include(packed.files, "dist/index.d.ts")
      for (const { entry, target } of exportTargets(pkg.exports)) {
        assert.include(packed.files, target.replace(/^\.\//, ""), `package.json "exports" ${entry} names ${target}, which is not in the tarball`)
      }
      for (const [name, target] of Object.entries(pkg.bin)) {
        assert.include(packed.files, target.replace(/^\.\//, ""), `package.json "bin" ${name} names ${target}, which is not in the tarball`)
      }

      // a fresh project with only the tarball as dependency
      const app = Path.join(work, "app")
      Fs.mkdirSync(app)
      Fs.writeFileSync(Path.join(app, "package.json"), JSON.stringify({ name: "first-hour", private: true, type: "module" }))
      yield* run("npm", ["install", packed.tarball, "--prefer-offline", "--no-audit", "--no-fund"], app, "4 minutes")
      const installed = JSON.parse(Fs.readFileSync(Path.join(app, "package.json"), "utf8")) as { dependencies: Record<string, string> }
      assert.deepStrictEqual(Object.keys(installed.dependencies), [pkg.name])

      // every subpath export resolves in the installed package, to a file that is there
      for (const { entry, target } of exportTargets(pkg.exports)) {
        assert.isTrue(Fs.existsSync(Path.join(app, "node_modules", pkg.name, target)), `${entry}: ${target} is not installed`)
      }

      // the README's programs, compiled by the user's compiler against the installed types, run as JavaScript
      const programs = {
        hello: readmeBlock("A complete example", "NodeRuntime.runMain"),
        // a worker that serves the greeter, and one that calls it
        serve: readmeBlock("Running a host and workers", "Layer.launch(GreeterLive"),
        call: readmeBlock("Running a host and workers", "Greeter.client")
      }
      for (const [name, block] of Object.entries(programs)) Fs.writeFileSync(Path.join(app, `${name}.ts`), `${block.code}\n`)
      Fs.writeFileSync(Path.join(app, "tsconfig.json"), JSON.stringify(userTsconfig))
      yield* run(Path.join(root, "node_modules", ".bin", "tsc"), ["-p", app], app)

      const hello = yield* run(process.execPath, ["out/hello.js"], app, "1 minute")
      assert.include(hello.stdout, "Hello, Bob! (from greeter/alice)")

      // a host from the package's own CLI, on a free port it reports
      const host = yield* spawn(Path.join(app, "node_modules", ".bin", pkg.name), ["host", "--port", "0"], app)
      const [, url] = yield* host.waitFor(/listening on (\S+)/)
      const serving = yield* spawn(process.execPath, ["out/serve.js"], app, { HOST_URL: url! })
      yield* serving.waitFor(/joined the host/)
      const call = yield* run(process.execPath, ["out/call.js"], app, "1 minute", { HOST_URL: url! })
      assert.include(call.stdout, "Hello, Bob! (from worker-a)")
    }).pipe(Effect.scoped), 360_000)
})

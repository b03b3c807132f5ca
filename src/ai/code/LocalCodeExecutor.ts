/**
 * The `CodeExecutor` that runs code as processes on this machine, through
 * `effect/process`. It improves on AutoGen's `LocalCommandLineCodeExecutor`
 * where that one leaks:
 *
 * - a scoped temporary work directory (`WorkDir`), removed with everything
 *   in it when the layer's scope closes; block file names confined to it;
 * - an environment built from an allow-list (`Environment`), not a copy of
 *   the parent's, with `PATH` given explicitly;
 * - each block runs as the leader of a new process group, and the whole
 *   group gets `SIGKILL` at the timeout, when the output cap is passed,
 *   and when the block's leader exits (a backgrounded `sleep` does not
 *   outlive its block; AutoGen's `terminate()` reaches the leader only);
 * - partial output is kept on timeout (AutoGen's is lost), stdout and
 *   stderr are read together in arrival order, and at most
 *   `maxOutputBytes` are kept (a 100 MB print costs 1 MiB);
 * - isolation levels (`Isolation`) wrap the interpreter, each checked when
 *   the executor is built and refused with a typed error when this machine
 *   cannot provide it.
 *
 * ```ts
 * import { Duration, Effect } from "effect"
 * import { NodeServices } from "@effect/platform-node"
 * import { CodeBlock, CodeExecutor, Isolation, LocalCodeExecutor } from "effect-agents/ai"
 *
 * const executor = LocalCodeExecutor.layer({
 *   timeout: Duration.seconds(10),
 *   isolation: [Isolation.noNetwork, Isolation.resourceLimits({ memoryBytes: 512 * 1024 * 1024 })]
 * })
 *
 * export const program = CodeExecutor.run(new CodeBlock.CodeBlock({ language: "sh", code: "echo hi" })).pipe(
 *   Effect.provide(executor),
 *   Effect.provide(NodeServices.layer)
 * )
 * ```
 *
 * Blocks run one at a time per executor (calls queue), so blocks of two
 * calls never race in the shared work directory.
 */
import { Deferred, Duration, Effect, Fiber, FileSystem, Layer, Option, Path, type Scope, Semaphore, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import type { CodeBlock } from "./CodeBlock.ts"
import { CodeExecutor } from "./CodeExecutor.ts"
import { CodeExecutionError, type IsolationUnavailableError } from "./CodeExecutorError.ts"
import { CodeResult, timeoutExitCode } from "./CodeResult.ts"
import * as Environment from "./Environment.ts"
import * as Isolation from "./Isolation.ts"
import * as Language from "./Language.ts"
import * as Output from "./internal/Output.ts"
import * as Sandbox from "./internal/Sandbox.ts"
import * as Signals from "./internal/Signals.ts"
import * as WorkDir from "./WorkDir.ts"

/** How the local executor runs code. Every field has a default. */
export interface Options {
  /** How long one block may run; then its process group is killed. 60 seconds by default. */
  readonly timeout?: Duration.Input | undefined
  /** Bytes of output (stdout and stderr together) kept per block. 1 MiB by default. */
  readonly maxOutputBytes?: number | undefined
  /**
   * What happens when a block passes `maxOutputBytes`: `"kill"` (the
   * default) kills it at once; `"drain"` lets it run on, reading and
   * dropping the rest, so it can finish and report its exit code.
   */
  readonly onOutputLimit?: "kill" | "drain" | undefined
  /**
   * After a block's leader exits, how long to wait for the last of its
   * output (its group is killed first, so this only bounds a process that
   * left the group while holding the pipe). 2 seconds by default.
   */
  readonly drainTimeout?: Duration.Input | undefined
  /**
   * Send the code's stderr into its stdout pipe, so `output` has the exact
   * order in which the two were written (read from two pipes, a line on
   * stderr can overtake the stdout written just before it); `stderr` is
   * then empty. Off by default.
   */
  readonly mergeStderr?: boolean | undefined
  /** The languages it runs; all of `Language.all` by default. */
  readonly languages?: ReadonlyArray<Language.Language> | undefined
  /** The interpreter command per language (found on the code's `PATH`), e.g. `{ python: "/opt/venv/bin/python" }`. */
  readonly interpreters?: Partial<Record<Language.Language, string>> | undefined
  /** The code's environment: see `Environment`. */
  readonly environment?: Environment.Options | undefined
  /** The isolation levels, composed: see `Isolation`. None by default. */
  readonly isolation?: ReadonlyArray<Isolation.Level> | undefined
  /** Where the temporary work directory is made; the system's temporary directory by default. */
  readonly directory?: string | undefined
}

/** The defaults of `Options`. */
export const defaults = {
  timeout: Duration.seconds(60),
  maxOutputBytes: 1024 * 1024,
  drainTimeout: Duration.seconds(2)
} as const

type Outcome =
  | { readonly _tag: "Exited"; readonly exitCode: number; readonly signal?: string }
  | { readonly _tag: "TimedOut" }
  | { readonly _tag: "Flooded" }

const failure = (reason: string) => (cause: unknown) => new CodeExecutionError({ reason, cause })

/**
 * A local executor for the life of the current scope: makes its work
 * directory, checks its isolation levels (failing with
 * `IsolationUnavailableError` if one cannot be provided here), and runs
 * blocks until the scope closes, which kills anything still running and
 * removes the work directory.
 */
export const make = Effect.fn("LocalCodeExecutor.make")(function*(options: Options = {}): Effect.fn.Return<
  CodeExecutor["Service"],
  IsolationUnavailableError | CodeExecutionError,
  ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path | Scope.Scope
> {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const duration = (name: string, input: Duration.Input) =>
    Option.match(Duration.fromInput(input), {
      onNone: () => Effect.fail(new CodeExecutionError({ reason: `${name} is not a duration: ${String(input)}` })),
      onSome: Effect.succeed
    })
  const timeout = yield* duration("timeout", options.timeout ?? defaults.timeout)
  const drainTimeout = yield* duration("drainTimeout", options.drainTimeout ?? defaults.drainTimeout)
  const maxOutputBytes = options.maxOutputBytes ?? defaults.maxOutputBytes
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 1) {
    return yield* new CodeExecutionError({ reason: `maxOutputBytes must be a positive integer, not ${maxOutputBytes}` })
  }
  const killOnFlood = (options.onOutputLimit ?? "kill") === "kill"
  const languages = options.languages ?? Language.all
  const interpreters = { ...Language.defaultInterpreters, ...options.interpreters }
  const isolation = options.isolation ?? []
  const { runAs } = Isolation.normalize(isolation)

  const workDir = yield* WorkDir.make({ directory: options.directory, owner: runAs })
  const env = yield* Environment.make(options.environment ?? {}, workDir.path)
  const sandbox = yield* Sandbox.make(isolation, { workDir: workDir.path, env })
  const oneAtATime = yield* Semaphore.make(1)
  let blocks = 0

  /** Runs one saved file to its end, timeout or output cap; the group is dead when this returns. */
  const runFile = Effect.fnUntraced(function*(language: Language.Language, filename: string, file: string) {
    const command = [interpreters[language], file]
    // innermost, so the wrappers' own errors stay on stderr too; `sh` is in every jail
    const argv = sandbox.wrap(options.mergeStderr === true ? ["sh", "-c", "exec \"$@\" 2>&1", "sh", ...command] : command, { infoFd: 3 })
    const handle = yield* spawner.spawn(ChildProcess.make(argv[0]!, argv.slice(1), {
      cwd: workDir.path,
      env,
      extendEnv: false,
      stdin: "ignore",
      // a group of its own, so one kill reaches every process the block started
      detached: true,
      killSignal: "SIGKILL",
      ...(sandbox.jailed ? { additionalFds: { fd3: { type: "output" as const } } } : {})
    })).pipe(Effect.mapError(failure(`could not start ${argv[0]}`)))
    // a jail says on fd 3 which host PID its namespace's init has (a few hundred bytes of JSON)
    const jailInfo = sandbox.jailed
      ? yield* handle.getOutputFd(3).pipe(
        Stream.decodeText(),
        Stream.runFold(() => "", (info: string, chunk: string) => info.length > 4096 ? info : info + chunk),
        Effect.orElseSucceed(() => ""),
        Effect.forkScoped
      )
      : undefined

    const output = Output.make(maxOutputBytes)
    const flooded = yield* Deferred.make<void>()
    const tagged = (channel: Output.Channel) => Stream.map((bytes: Uint8Array) => [channel, bytes] as const)
    const reader = yield* Stream.merge(handle.stdout.pipe(tagged("stdout")), handle.stderr.pipe(tagged("stderr"))).pipe(
      Stream.runForEach(([channel, bytes]) =>
        output.push(channel, bytes) && killOnFlood ? Deferred.succeed(flooded, undefined) : Effect.void
      ),
      Effect.forkScoped
    )

    const exited: Effect.Effect<Outcome, CodeExecutionError> = handle.exitCode.pipe(
      Effect.map((exitCode): Outcome => ({ _tag: "Exited", exitCode })),
      Effect.catch((error) => {
        const signal = Signals.signalIn(error)
        return signal === undefined
          ? Effect.fail(failure(`could not wait for ${argv[0]}`)(error))
          : Effect.succeed<Outcome>({ _tag: "Exited", exitCode: Signals.exitCodeOf(signal), signal })
      })
    )
    const outcome = yield* Effect.raceFirst(exited, Deferred.await(flooded).pipe(Effect.as<Outcome>({ _tag: "Flooded" }))).pipe(
      Effect.timeoutOption(timeout),
      Effect.map(Option.getOrElse((): Outcome => ({ _tag: "TimedOut" })))
    )
    // the whole group, whatever happened: stragglers of an exited leader too (their pipes would hold the output open)
    yield* Effect.ignore(handle.kill({ killSignal: "SIGKILL" }))
    if (jailInfo !== undefined) {
      const init = Sandbox.namespaceInit(yield* Fiber.join(jailInfo).pipe(Effect.timeoutOption(drainTimeout), Effect.map(Option.getOrElse(() => ""))))
      if (init !== undefined) yield* sandbox.awaitNamespaceEnd(init)
    }
    const drained = yield* Fiber.join(reader).pipe(
      Effect.mapError(failure("could not read the output")),
      Effect.timeoutOption(drainTimeout)
    )
    if (Option.isNone(drained)) yield* Fiber.interrupt(reader)

    const text = output.text()
    const markers: Array<string> = []
    if (output.truncated()) {
      markers.push(
        killOnFlood
          ? `[output truncated: the first ${maxOutputBytes} bytes are kept; the process was killed]`
          : `[output truncated: ${maxOutputBytes} of ${output.seen()} bytes are kept]`
      )
    }
    if (outcome._tag === "TimedOut") markers.push(`[timed out after ${Duration.format(timeout)}: the process group was killed]`)
    const separator = text.output === "" || text.output.endsWith("\n") ? "" : "\n"
    const exitCode = outcome._tag === "Exited"
      ? outcome.exitCode
      : outcome._tag === "TimedOut" ? timeoutExitCode : Signals.exitCodeOf("SIGKILL")
    const signal = outcome._tag === "Exited" ? outcome.signal : "SIGKILL"
    return new CodeResult({
      language,
      filename,
      exitCode,
      ...(signal !== undefined ? { signal } : {}),
      output: markers.length === 0 ? text.output : `${text.output}${separator}${markers.join("\n")}\n`,
      stdout: text.stdout,
      stderr: text.stderr,
      timedOut: outcome._tag === "TimedOut",
      truncated: output.truncated(),
      outputBytes: output.seen()
    })
  }, Effect.scoped)

  const runBlock = Effect.fn("LocalCodeExecutor.runBlock")(function*(block: CodeBlock) {
    const language = yield* Language.resolve(block.language, languages)
    const filename = block.filename ?? `block-${++blocks}.${Language.extension[language]}`
    yield* Effect.annotateCurrentSpan({ language, filename })
    const file = yield* workDir.write(filename, block.code)
    return yield* runFile(language, filename, file)
  })

  const execute = Effect.fn("LocalCodeExecutor.execute")(function*(codeBlocks: ReadonlyArray<CodeBlock>) {
    const results: Array<CodeResult> = []
    for (const block of codeBlocks) {
      const result = yield* runBlock(block)
      results.push(result)
      if (!result.succeeded) break
    }
    return results as ReadonlyArray<CodeResult>
  }, (effect) => oneAtATime.withPermit(effect))

  return CodeExecutor.of({ languages, execute })
})

/**
 * The local executor as a `CodeExecutor` layer; its work directory lives
 * as long as the layer. Needs a `ChildProcessSpawner`, `FileSystem` and
 * `Path` (`NodeServices.layer`, or `NodeCodeExecutor.layer` which brings
 * them).
 */
export const layer = (
  options: Options = {}
): Layer.Layer<CodeExecutor, IsolationUnavailableError | CodeExecutionError, ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path> =>
  Layer.effect(CodeExecutor, make(options))

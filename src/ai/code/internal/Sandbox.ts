/**
 * The command line that puts a block's interpreter inside the isolation
 * levels asked for, and the up-front checks that each level works here.
 *
 * The wrappers nest, outermost first: `bwrap` (the jail, which also
 * unshares the network when `NoNetwork` is asked for), else `unshare -n`;
 * then `prlimit` (innermost but one, so the limits bind the code and not
 * the jail's own setup); then `setpriv` (dropping to the unprivileged uid
 * last, after everything that needs root). Every wrapper but bwrap execs
 * the next, so they stay one process; bwrap forks, and its
 * `--die-with-parent` and PID namespace take everything down when the
 * executor kills it.
 */
import { Duration, Effect, Fiber, FileSystem, Option, Schedule, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { IsolationUnavailableError } from "../CodeExecutorError.ts"
import * as Isolation from "../Isolation.ts"

/** How a block's command is wrapped. */
export interface Sandbox {
  /**
   * The command line that runs `argv` inside every level. With `infoFd`,
   * a jail reports on that descriptor (as JSON) the host PID of its PID
   * namespace's init: see `awaitNamespaceEnd`.
   */
  readonly wrap: (argv: ReadonlyArray<string>, options?: { readonly infoFd?: number | undefined }) => ReadonlyArray<string>
  /** Whether the command runs in a jail, with a PID namespace of its own. */
  readonly jailed: boolean
  /** Waits until the jail whose namespace init has this host PID has ended (see `namespaceInit`). */
  readonly awaitNamespaceEnd: (init: number) => Effect.Effect<void>
}

/** The host PID of a jail's namespace init, from what bwrap wrote on its info descriptor. */
export const namespaceInit = (info: string): number | undefined => {
  const found = /"child-pid"\s*:\s*(\d+)/.exec(info)
  return found === null ? undefined : Number(found[1])
}

const namespaceEndTimeout = Duration.seconds(5)

/**
 * Waits (at most 5 seconds) until a jail's PID namespace has ended. Killing
 * bwrap kills its namespace's init (`--die-with-parent`), and the kernel
 * then kills every process in the namespace, including those that left the
 * block's process group, and the init exits only after all of them: so its
 * PID gone (or a zombie) means nothing of the block runs any more. Without
 * this wait, the last of them could still be dying when the block's result
 * is returned.
 */
const awaitNamespaceEnd = (fs: FileSystem.FileSystem) => (init: number): Effect.Effect<void> =>
  fs.readFileString(`/proc/${init}/stat`).pipe(
    Effect.map((stat) => !/^\d+ \(.*\) [ZX]/s.test(stat)),
    Effect.orElseSucceed(() => false),
    Effect.repeat({ while: (alive) => alive, schedule: Schedule.spaced(Duration.millis(10)) }),
    Effect.timeoutOption(namespaceEndTimeout),
    Effect.asVoid
  )

// How long a probe may take: bwrap sets up namespaces and mounts, on a loaded machine
const probeTimeout = Duration.seconds(20)
const probeOutputBytes = 4096

/**
 * Runs `argv` and succeeds if it exits with 0; fails with what it printed
 * (or why it could not start) otherwise.
 */
const probe = (argv: ReadonlyArray<string>, env: Readonly<Record<string, string>>, cwd: string) =>
  Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const handle = yield* spawner.spawn(ChildProcess.make(argv[0]!, argv.slice(1), {
      cwd,
      env,
      extendEnv: false,
      stdin: "ignore",
      killSignal: "SIGKILL"
    }))
    const output = yield* handle.all.pipe(
      Stream.decodeText(),
      Stream.runFold(() => "", (text: string, chunk: string) => text.length >= probeOutputBytes ? text : text + chunk),
      Effect.forkScoped
    )
    const exitCode = yield* handle.exitCode
    if (exitCode !== 0) {
      const printed = yield* Fiber.join(output).pipe(Effect.orElseSucceed(() => ""))
      return yield* Effect.fail(`${argv.join(" ")} exited with ${exitCode}${printed.trim() === "" ? "" : `: ${printed.trim().slice(0, probeOutputBytes)}`}`)
    }
  }).pipe(
    Effect.scoped,
    Effect.timeoutOption(probeTimeout),
    Effect.flatMap(Option.match({
      onNone: () => Effect.fail(`${argv.join(" ")} did not finish within ${Duration.format(probeTimeout)}`),
      onSome: () => Effect.void
    })),
    Effect.mapError((error) => typeof error === "string" ? error : `${argv[0]} could not be run: ${error.message}`)
  )

// soft and hard limits are equal (`--as=n` sets both), except CPU: with equal limits SIGKILL
// would arrive with SIGXCPU, so the hard limit is a second later and the code can tell why it stopped
const prlimitArgs = (limits: Isolation.ResourceLimits): ReadonlyArray<string> => [
  "prlimit",
  ...(limits.memoryBytes !== undefined ? [`--as=${limits.memoryBytes}`] : []),
  ...(limits.cpuSeconds !== undefined ? [`--cpu=${limits.cpuSeconds}:${limits.cpuSeconds + 1}`] : []),
  ...(limits.processes !== undefined ? [`--nproc=${limits.processes}`] : []),
  ...(limits.fileSizeBytes !== undefined ? [`--fsize=${limits.fileSizeBytes}`] : []),
  ...(limits.openFiles !== undefined ? [`--nofile=${limits.openFiles}`] : []),
  "--"
]

const setprivArgs = (runAs: Isolation.RunAs): ReadonlyArray<string> => [
  "setpriv",
  `--reuid=${runAs.uid}`,
  `--regid=${runAs.gid}`,
  "--clear-groups",
  "--inh-caps=-all",
  "--bounding-set=-all",
  "--no-new-privs",
  "--"
]

// top-level system directories: bound read-only when directories, recreated when (as on merged-/usr systems) links
const systemDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]

const jailArgs = Effect.fn("Sandbox.jailArgs")(function*(jail: Isolation.Jail, options: {
  readonly workDir: string
  readonly noNetwork: boolean
  readonly keepCapabilities: boolean
}) {
  const fs = yield* FileSystem.FileSystem
  const args: Array<string> = [
    "bwrap",
    "--die-with-parent",
    "--new-session",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    ...(options.noNetwork ? ["--unshare-net"] : []),
    "--hostname",
    "sandbox"
  ]
  for (const directory of systemDirectories) {
    const info = yield* fs.lstat(directory).pipe(Effect.option)
    if (Option.isNone(info)) continue
    if (info.value.type === "SymbolicLink") {
      const target = yield* fs.readLink(directory).pipe(Effect.option)
      if (Option.isSome(target)) args.push("--symlink", target.value, directory)
    } else if (info.value.type === "Directory") {
      args.push("--ro-bind", directory, directory)
    }
  }
  for (const entry of jail.etc ?? Isolation.defaultEtc) {
    if (entry.includes("/") || entry === ".." || entry === "." || entry === "") continue
    args.push("--ro-bind-try", `/etc/${entry}`, `/etc/${entry}`)
  }
  // a private /tmp writable by anyone, as a host's is (bwrap makes it 0755 root otherwise, closed to a RunAs uid)
  args.push("--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp")
  // after /tmp, which would hide them: extra paths and the work directory often live under the host's /tmp
  for (const path of jail.readOnlyPaths ?? []) args.push("--ro-bind", path, path)
  args.push(
    "--bind", options.workDir, options.workDir,
    "--chdir", options.workDir,
    // root in the jail keeps every capability unless told otherwise; RunAs needs them to drop to its uid, and drops them itself
    ...(options.keepCapabilities ? [] : ["--cap-drop", "ALL"]),
    "--"
  )
  return args as ReadonlyArray<string>
})

/**
 * Checks that every level works here (each alone, then all together) and
 * returns how to wrap a command in them.
 */
export const make = Effect.fn("Sandbox.make")(function*(
  levels: ReadonlyArray<Isolation.Level>,
  options: { readonly workDir: string; readonly env: Readonly<Record<string, string>> }
): Effect.fn.Return<Sandbox, IsolationUnavailableError, ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem> {
  const { jail, limits, noNetwork, runAs } = Isolation.normalize(levels)
  const check = (level: string, tool: string, argv: ReadonlyArray<string>) =>
    probe([...argv, "true"], options.env, options.workDir).pipe(
      Effect.mapError((reason) => new IsolationUnavailableError({ level, tool, reason }))
    )

  const limitsPrefix = limits === undefined ? [] : prlimitArgs(limits)
  const runAsPrefix = runAs === undefined ? [] : setprivArgs(runAs)
  if (limits !== undefined) yield* check("ResourceLimits", "prlimit", limitsPrefix)
  if (runAs !== undefined) yield* check("RunAs", "setpriv", runAsPrefix)

  let outer: ReadonlyArray<string> = []
  if (jail !== undefined) {
    outer = yield* jailArgs(jail, { workDir: options.workDir, noNetwork: noNetwork !== undefined, keepCapabilities: runAs !== undefined })
    yield* check(noNetwork !== undefined ? "NoNetwork" : "Jail", "bwrap", outer)
  } else if (noNetwork !== undefined) {
    // as root, a plain network namespace; otherwise one inside a user namespace, if this kernel allows those
    const plain = ["unshare", "--net", "--"]
    const asUser = ["unshare", "--map-root-user", "--net", "--"]
    outer = yield* check("NoNetwork", "unshare", plain).pipe(
      Effect.as(plain),
      Effect.catch((error) => runAs === undefined ? check("NoNetwork", "unshare", asUser).pipe(Effect.as(asUser), Effect.mapError(() => error)) : Effect.fail(error))
    )
  }

  const wrap: Sandbox["wrap"] = (argv, wrapOptions) => [
    ...(jail !== undefined && wrapOptions?.infoFd !== undefined ? [outer[0]!, "--info-fd", String(wrapOptions.infoFd), ...outer.slice(1)] : outer),
    ...limitsPrefix,
    ...runAsPrefix,
    ...argv
  ]
  if (levels.length > 1) {
    const tools = [jail !== undefined ? "bwrap" : noNetwork !== undefined ? "unshare" : undefined, limits && "prlimit", runAs && "setpriv"]
    yield* check(levels.map((level) => level._tag).join("+"), tools.filter((tool) => tool !== undefined).join("+"), wrap([]))
  }
  return { wrap, jailed: jail !== undefined, awaitNamespaceEnd: awaitNamespaceEnd(yield* FileSystem.FileSystem) }
})

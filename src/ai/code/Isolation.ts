/**
 * Isolation levels of the local executor: composable options, each a
 * `Schema.TaggedClass`, passed as a list (`isolation: [Isolation.noNetwork,
 * Isolation.resourceLimits({ processes: 64 })]`). Each level is one Linux
 * tool wrapped around the interpreter; the executor checks, when it is
 * built, that each tool is on `PATH` and works on this machine (a
 * container without `CAP_SYS_ADMIN` cannot `unshare -n`), and fails with an
 * `IsolationUnavailableError` naming the level instead of running code
 * with less isolation than was asked for.
 *
 * - `ResourceLimits` (`prlimit`): address space, CPU seconds, processes,
 *   file size, open files, as rlimits on the code's processes.
 * - `NoNetwork` (`unshare -n`, or bwrap's `--unshare-net` inside a jail):
 *   a network namespace with only a loopback interface, down.
 * - `Jail` (`bwrap`): a filesystem of read-only system directories, the
 *   work directory read-write, a private `/tmp`, fresh `/proc` and `/dev`,
 *   its own PID, IPC, UTS and cgroup namespaces; dies with its parent.
 * - `RunAs` (`setpriv`): the code runs as an unprivileged uid/gid with no
 *   capabilities, no supplementary groups and `no_new_privs`.
 *
 * What each one stops and does not is in docs/code-execution.md. Two facts
 * decide most setups: a process limit does not bind root (the kernel
 * exempts it), so a fork bomb is only held under `RunAs`; and code running
 * as root keeps the capabilities to leave a namespace (`setns` back into
 * the host's network), so `NoNetwork` without `RunAs` or `Jail` holds code
 * that does not try, not code that does.
 */
import { Schema } from "effect"

const Positive = Schema.Int.check(Schema.isGreaterThan(0))

/** Kernel resource limits (rlimits) for the code's processes, set with `prlimit`. */
export class ResourceLimits extends Schema.TaggedClass<ResourceLimits>()("ResourceLimits", {
  /** Address space per process, in bytes (`RLIMIT_AS`): allocations past it fail (`MemoryError` in Python). */
  memoryBytes: Schema.optionalKey(Positive),
  /** CPU time per process, in seconds (`RLIMIT_CPU`): past it the process gets `SIGXCPU`, a second later `SIGKILL`. */
  cpuSeconds: Schema.optionalKey(Positive),
  /** Processes of the code's real uid (`RLIMIT_NPROC`); root is exempt, see `RunAs`. */
  processes: Schema.optionalKey(Positive),
  /** Largest file a process may write, in bytes (`RLIMIT_FSIZE`): past it `SIGXFSZ`. */
  fileSizeBytes: Schema.optionalKey(Positive),
  /** Open file descriptors per process (`RLIMIT_NOFILE`). */
  openFiles: Schema.optionalKey(Positive)
}) {}

/** No network: the code runs in a network namespace of its own, with no interface but a loopback that is down. */
export class NoNetwork extends Schema.TaggedClass<NoNetwork>()("NoNetwork", {}) {}

/** A bubblewrap filesystem jail. */
export class Jail extends Schema.TaggedClass<Jail>()("Jail", {
  /** More host paths the code may read (bound read-only at the same path), e.g. a virtualenv. */
  readOnlyPaths: Schema.optionalKey(Schema.Array(Schema.String)),
  /**
   * The entries of `/etc` bound read-only (when they exist); the rest of
   * `/etc` (shadow, ssh keys, ...) is absent. `defaultEtc` when not given.
   */
  etc: Schema.optionalKey(Schema.Array(Schema.String))
}) {}

/** Run the code as this unprivileged uid and gid, with no capabilities (needs root, or `CAP_SETUID`/`CAP_SETGID`). */
export class RunAs extends Schema.TaggedClass<RunAs>()("RunAs", {
  uid: Positive,
  gid: Positive
}) {}

/** One isolation level. */
export const Level = Schema.Union([ResourceLimits, NoNetwork, Jail, RunAs])

/** One isolation level. */
export type Level = typeof Level.Type

/** What a jail keeps of `/etc` by default: what the dynamic loader, shells, Python and name resolution read. */
export const defaultEtc: ReadonlyArray<string> = [
  "alternatives",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "localtime",
  "passwd",
  "group",
  "nsswitch.conf",
  "hosts",
  "resolv.conf",
  "ssl",
  "ca-certificates",
  "mime.types"
]

/** Resource limits: `Isolation.resourceLimits({ memoryBytes: 512 * 1024 * 1024, processes: 64 })`. */
export const resourceLimits = (limits: Omit<ConstructorParameters<typeof ResourceLimits>[0], "_tag">): ResourceLimits =>
  new ResourceLimits(limits)

/** No network. */
export const noNetwork: NoNetwork = new NoNetwork({})

/** A filesystem jail: `Isolation.jail()`, or `Isolation.jail({ readOnlyPaths: ["/opt/venv"] })`. */
export const jail = (options: Omit<ConstructorParameters<typeof Jail>[0], "_tag"> = {}): Jail => new Jail(options)

/** Run as an unprivileged user: `Isolation.runAs(64000)` (the gid is the uid unless given). */
export const runAs = (uid: number, gid: number = uid): RunAs => new RunAs({ uid, gid })

/**
 * The levels with one of each kind (a later level of a kind replaces an
 * earlier one), in the order they wrap the interpreter, outermost first.
 */
export const normalize = (levels: ReadonlyArray<Level>): {
  readonly limits?: ResourceLimits
  readonly noNetwork?: NoNetwork
  readonly jail?: Jail
  readonly runAs?: RunAs
} => {
  const byTag = new Map<Level["_tag"], Level>()
  for (const level of levels) byTag.set(level._tag, level)
  return {
    ...(byTag.has("ResourceLimits") ? { limits: byTag.get("ResourceLimits") as ResourceLimits } : {}),
    ...(byTag.has("NoNetwork") ? { noNetwork: byTag.get("NoNetwork") as NoNetwork } : {}),
    ...(byTag.has("Jail") ? { jail: byTag.get("Jail") as Jail } : {}),
    ...(byTag.has("RunAs") ? { runAs: byTag.get("RunAs") as RunAs } : {})
  }
}

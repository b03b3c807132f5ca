/**
 * The directory a local executor runs code in: a fresh temporary directory
 * for the life of a scope (removed, with everything the code wrote, when
 * the scope closes), and the only place a block's file may be written.
 *
 * A block may name its file (`src/main.py`), and a model may name it
 * `../../etc/cron.d/x`. `WorkDir.write` accepts a name only if it stays
 * inside: relative, no `..` component, no NUL, and no symbolic link on the
 * way, so code from an earlier block cannot plant `link -> /etc` and have
 * a later block write through it. The last component is created with
 * `O_EXCL` after any old file is removed, so a link put in its place is
 * never followed.
 *
 * What it does not guard against: a process that is still running while
 * the next block is written could swap a directory for a link between the
 * check and the write. The executor kills each block's whole process group
 * before the next block is written, which leaves only processes that left
 * the group (`setsid`), and those the jail's PID namespace kills too.
 */
import { Effect, FileSystem, Path, type Scope } from "effect"
import { CodeExecutionError, InvalidFilenameError } from "./CodeExecutorError.ts"

/** Most directory levels a file name may have. */
export const maxDepth = 16

/** A scoped work directory. */
export interface WorkDir {
  /** The directory's absolute, real path (no symbolic link in it). */
  readonly path: string
  /**
   * Saves `contents` under `filename` (relative to the work directory),
   * creating its directories; returns the file's absolute path.
   */
  readonly write: (filename: string, contents: string) => Effect.Effect<string, InvalidFilenameError | CodeExecutionError>
}

/** Who owns the work directory and the directories made in it (the uid code runs as, under `RunAs`). */
export interface Owner {
  readonly uid: number
  readonly gid: number
}

/**
 * The components of a relative file name that stays inside its directory,
 * or why it does not: `"a/./b.py"` is `["a", "b.py"]`; `"../x"`, `"/x"` and
 * `""` are refused.
 */
export const components = (filename: string): ReadonlyArray<string> | { readonly refused: string } => {
  if (filename.includes("\0")) return { refused: "it contains a NUL character" }
  if (filename.startsWith("/")) return { refused: "it is an absolute path; give a path relative to the work directory" }
  const parts = filename.split("/").filter((part) => part !== "" && part !== ".")
  if (parts.includes("..")) return { refused: "it contains '..'; files stay inside the work directory" }
  if (parts.length === 0) return { refused: "it names no file" }
  if (parts.length > maxDepth) return { refused: `it is more than ${maxDepth} directories deep` }
  return parts
}

const failure = (reason: string) => (cause: unknown) => new CodeExecutionError({ reason, cause })

/**
 * Makes a temporary work directory, removed when the scope closes.
 * `directory` is where it is made (the system's temporary directory by
 * default); `owner` gets the directory, so code running as that uid can
 * write in it.
 */
export const make = Effect.fn("WorkDir.make")(function*(options: {
  readonly directory?: string | undefined
  readonly owner?: Owner | undefined
} = {}): Effect.fn.Return<WorkDir, CodeExecutionError, FileSystem.FileSystem | Path.Path | Scope.Scope> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const made = yield* fs.makeTempDirectoryScoped({ directory: options.directory, prefix: "effect-agents-code-" }).pipe(
    Effect.mapError(failure("could not create the work directory"))
  )
  // the real path: a jail binds it by this name, and confinement compares against it
  const root = yield* fs.realPath(made).pipe(Effect.mapError(failure("could not resolve the work directory")))
  const chown = (target: string) =>
    options.owner === undefined ? Effect.void : fs.chown(target, options.owner.uid, options.owner.gid).pipe(
      Effect.mapError(failure(`could not give ${target} to uid ${options.owner.uid}`))
    )
  yield* chown(root)

  const write = Effect.fn("WorkDir.write")(function*(filename: string, contents: string) {
    const parts = components(filename)
    if (!Array.isArray(parts)) {
      return yield* new InvalidFilenameError({ filename, reason: (parts as { readonly refused: string }).refused })
    }
    let current = root
    for (const [index, part] of parts.entries()) {
      current = path.join(current, part)
      const last = index === parts.length - 1
      const info = yield* fs.lstat(current).pipe(
        Effect.map((info) => info.type),
        Effect.catchTag("PlatformError", (error) =>
          error.reason._tag === "NotFound" ? Effect.succeed("Missing" as const) : Effect.fail(failure(`could not inspect ${current}`)(error)))
      )
      if (info === "SymbolicLink") {
        return yield* new InvalidFilenameError({ filename, reason: `${parts.slice(0, index + 1).join("/")} is a symbolic link` })
      }
      if (!last) {
        if (info === "Missing") {
          yield* fs.makeDirectory(current).pipe(Effect.mapError(failure(`could not create ${current}`)))
          yield* chown(current)
        } else if (info !== "Directory") {
          return yield* new InvalidFilenameError({ filename, reason: `${parts.slice(0, index + 1).join("/")} is not a directory` })
        }
      } else if (info === "Directory") {
        return yield* new InvalidFilenameError({ filename, reason: "it names a directory" })
      } else if (info !== "Missing") {
        yield* fs.remove(current).pipe(Effect.mapError(failure(`could not replace ${current}`)))
      }
    }
    // O_EXCL: if anything appeared at the name since the check, the write fails instead of following it
    yield* fs.writeFileString(current, contents, { flag: "wx" }).pipe(Effect.mapError(failure(`could not write ${current}`)))
    return current
  })

  return { path: root, write }
})

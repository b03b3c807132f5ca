/**
 * The environment code runs with: built from nothing, not copied from the
 * parent. A parent's environment holds API keys, tokens and cloud
 * credentials; code a model wrote should see none of them unless a name is
 * allowed on purpose.
 *
 * The base is fixed: `PATH` (given explicitly, `defaultPath` unless set),
 * `HOME` and `TMPDIR` pointing into the work directory (so caches and
 * temporary files go where the scope cleans up), `LANG=C.UTF-8`, and
 * `PYTHONUNBUFFERED=1` (so Python's stdout and stderr interleave in the
 * order they were written, instead of stdout arriving last). Names in
 * `allow` are read from the parent through `Config` (the environment by
 * default, any `ConfigProvider` in tests) and copied when present; `set`
 * gives values outright and wins over both.
 */
import { Config, Effect, Option } from "effect"
import { CodeExecutionError } from "./CodeExecutorError.ts"

/** The `PATH` code gets when none is set: system directories only. */
export const defaultPath = "/usr/local/bin:/usr/bin:/bin"

/** How to build the environment. */
export interface Options {
  /** Names copied from the parent's environment when set there, e.g. `["HTTP_PROXY"]`. */
  readonly allow?: ReadonlyArray<string> | undefined
  /** Values given outright, e.g. `{ PATH: "/opt/venv/bin:/usr/bin:/bin" }`. */
  readonly set?: Readonly<Record<string, string>> | undefined
}

const validName = /^[A-Za-z_][A-Za-z0-9_]*$/

/** The environment for code running in `workDir`. */
export const make = Effect.fn("Environment.make")(function*(
  options: Options,
  workDir: string
): Effect.fn.Return<Readonly<Record<string, string>>, CodeExecutionError> {
  const env: Record<string, string> = {
    PATH: defaultPath,
    HOME: workDir,
    TMPDIR: workDir,
    LANG: "C.UTF-8",
    PYTHONUNBUFFERED: "1",
    PYTHONDONTWRITEBYTECODE: "1"
  }
  for (const name of [...(options.allow ?? []), ...Object.keys(options.set ?? {})]) {
    if (!validName.test(name)) {
      return yield* new CodeExecutionError({ reason: `${JSON.stringify(name)} is not an environment variable name` })
    }
  }
  for (const name of options.allow ?? []) {
    const value = yield* Config.option(Config.String(name)).pipe(
      Effect.mapError((cause) => new CodeExecutionError({ reason: `could not read ${name} from the environment`, cause }))
    )
    if (Option.isSome(value)) env[name] = value.value
  }
  for (const [name, value] of Object.entries(options.set ?? {})) {
    if (value.includes("\0")) return yield* new CodeExecutionError({ reason: `the value of ${name} contains a NUL character` })
    env[name] = value
  }
  return env
})

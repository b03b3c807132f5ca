/**
 * The languages an executor runs, and the names a block may call them by.
 * Models write `py`, `Python`, `shell` or `console` as often as `python`
 * and `sh`; `resolve` maps them to one `Language`, or fails with an
 * `UnsupportedLanguageError` that lists what is supported.
 *
 * Each language runs its saved file with an interpreter command, found on
 * the executor's `PATH` (not the parent's) unless given as an absolute path:
 *
 * | language | aliases                     | file   | default interpreter |
 * |----------|-----------------------------|--------|---------------------|
 * | `python` | `py`, `python3`             | `.py`  | `python3`           |
 * | `sh`     | `shell`, `console`, `posix` | `.sh`  | `sh`                |
 * | `bash`   |                             | `.bash`| `bash`              |
 */
import { Effect, Schema } from "effect"
import { UnsupportedLanguageError } from "./CodeExecutorError.ts"

/** A language an executor can run. */
export const Language = Schema.Literals(["python", "sh", "bash"])

/** A language an executor can run. */
export type Language = typeof Language.Type

/** Every language, in the order they are listed to a model. */
export const all: ReadonlyArray<Language> = Language.literals

const aliases: Readonly<Record<string, Language>> = {
  python: "python",
  python3: "python",
  py: "python",
  sh: "sh",
  shell: "sh",
  console: "sh",
  posix: "sh",
  bash: "bash"
}

/** The file extension a block of this language is saved with. */
export const extension: Readonly<Record<Language, string>> = { python: "py", sh: "sh", bash: "bash" }

/** The interpreter command of each language, when the executor is given none. */
export const defaultInterpreters: Readonly<Record<Language, string>> = { python: "python3", sh: "sh", bash: "bash" }

/**
 * The language a block's `language` names, among the `supported` ones.
 * Case and surrounding blanks do not matter: `" Python "` is `python`.
 */
export const resolve = (name: string, supported: ReadonlyArray<Language> = all): Effect.Effect<Language, UnsupportedLanguageError> => {
  const language = aliases[name.trim().toLowerCase()]
  return language !== undefined && supported.includes(language)
    ? Effect.succeed(language)
    : Effect.fail(new UnsupportedLanguageError({ language: name, supported: [...supported] }))
}

/**
 * A block of code to run: the unit a `CodeExecutor` takes in. A model
 * writes it (through `CodeExecutionTool`) or a program builds it; either
 * way it crosses a boundary, so it is a `Schema.Class` with bounded fields
 * and is validated before anything touches the disk.
 *
 * ```ts
 * import { CodeBlock } from "effect-agents/ai"
 *
 * export const hello = new CodeBlock.CodeBlock({ language: "python", code: "print('hello')" })
 * export const named = new CodeBlock.CodeBlock({ language: "sh", code: "ls", filename: "scripts/list.sh" })
 * ```
 *
 * The language is a free string here (a model may name any language);
 * `Language.resolve` turns it into one the executor runs, or a typed
 * `UnsupportedLanguageError`. The file name is checked by `WorkDir` when
 * the block runs: relative, inside the work directory, no `..`, no
 * symbolic link on the way.
 */
import { Schema } from "effect"

/** Longest code a block may carry, in UTF-16 code units (1 MiB of ASCII). */
export const maxCodeLength = 1024 * 1024

/** Longest file name a block may ask for. */
export const maxFilenameLength = 255

/** A block of code in a language, optionally with the file name it is saved under in the work directory. */
export class CodeBlock extends Schema.Class<CodeBlock>("effect-agents/ai/CodeBlock")({
  /** `python`, `sh`, `bash` (or an alias such as `py`, `shell`): see `Language`. */
  language: Schema.String.check(Schema.isMaxLength(64)),
  code: Schema.String.check(Schema.isMaxLength(maxCodeLength)),
  /** A path relative to the work directory, e.g. `src/main.py`; a name is chosen when absent. */
  filename: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(maxFilenameLength)))
}) {}

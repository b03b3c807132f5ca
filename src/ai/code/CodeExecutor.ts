/**
 * The service that runs code: blocks in, one result per block out. Agents
 * and tools depend on `CodeExecutor`, not on how it runs code, so the same
 * coder agent runs against the local executor in development and a jailed
 * one in production (`LocalCodeExecutor.layer` with isolation levels).
 *
 * Blocks run in order in one work directory, so a later block sees the
 * files an earlier one wrote. Running stops after the first block that
 * does not succeed (non-zero exit, timeout, output cap): its result is the
 * last one returned, and later blocks, which usually depend on it, are not
 * run.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { CodeBlock, CodeExecutor } from "effect-agents/ai"
 *
 * export const program = Effect.gen(function*() {
 *   const [result] = yield* CodeExecutor.execute([new CodeBlock.CodeBlock({ language: "python", code: "print(6 * 7)" })])
 *   return result!.output // "42\n"
 * })
 * ```
 */
import { Context, Effect } from "effect"
import type { CodeBlock } from "./CodeBlock.ts"
import type { CodeExecutorError } from "./CodeExecutorError.ts"
import type { CodeResult } from "./CodeResult.ts"
import type { Language } from "./Language.ts"

/** Runs code blocks and reports, per block, its exit code and output. */
export class CodeExecutor extends Context.Service<CodeExecutor, {
  /** The languages this executor runs. */
  readonly languages: ReadonlyArray<Language>
  /**
   * Runs the blocks in order, stopping after the first that does not
   * succeed; returns the results of the blocks that ran.
   */
  readonly execute: (blocks: ReadonlyArray<CodeBlock>) => Effect.Effect<ReadonlyArray<CodeResult>, CodeExecutorError>
}>()("effect-agents/ai/CodeExecutor") {}

/** Runs the blocks with the `CodeExecutor` in context. */
export const execute = (blocks: ReadonlyArray<CodeBlock>): Effect.Effect<ReadonlyArray<CodeResult>, CodeExecutorError, CodeExecutor> =>
  CodeExecutor.use((executor) => executor.execute(blocks))

/** Runs one block with the `CodeExecutor` in context. */
export const run = (block: CodeBlock): Effect.Effect<CodeResult, CodeExecutorError, CodeExecutor> =>
  CodeExecutor.use((executor) => Effect.map(executor.execute([block]), (results) => results[0]!))

/**
 * The local code executor on Node: `LocalCodeExecutor` (platform-neutral,
 * on `effect/process`) with Node's child-process spawner, file system and
 * paths. This is the layer an application on Node provides.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { CodeBlock, CodeExecutor, Isolation, NodeCodeExecutor } from "effect-agents/ai"
 *
 * export const program = CodeExecutor.run(new CodeBlock.CodeBlock({ language: "python", code: "print(1 + 1)" })).pipe(
 *   Effect.provide(NodeCodeExecutor.layer({ isolation: [Isolation.noNetwork] }))
 * )
 * ```
 */
import { NodeChildProcessSpawner, NodeFileSystem, NodePath } from "@effect/platform-node"
import { Layer } from "effect"
import type { CodeExecutor } from "../ai/code/CodeExecutor.ts"
import type { CodeExecutionError, IsolationUnavailableError } from "../ai/code/CodeExecutorError.ts"
import * as LocalCodeExecutor from "../ai/code/LocalCodeExecutor.ts"

/** Node's spawner, file system and paths: what the local executor runs on. */
export const services = NodeChildProcessSpawner.layer.pipe(
  Layer.provideMerge(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
)

/** A local code executor on Node, for the life of the layer: see `LocalCodeExecutor.Options`. */
export const layer = (
  options: LocalCodeExecutor.Options = {}
): Layer.Layer<CodeExecutor, IsolationUnavailableError | CodeExecutionError> =>
  LocalCodeExecutor.layer(options).pipe(Layer.provide(services))

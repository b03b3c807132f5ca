/**
 * Components for AI agents (`effect-agents/ai`), on Effect's own `effect/ai`:
 * model clients, a replay model for tests, tools and a bounded tool loop,
 * tool agents, MCP toolkits, model context stores, memory and code
 * execution sandboxes. Any `LanguageModel` layer works with them, and they
 * are made of this runtime's agents, so they run unchanged standalone or on
 * a host and workers.
 */

// model clients
export * as OpenAiCompatible from "./model/OpenAiCompatible.ts"
export * as OpenAiEmbeddings from "./model/OpenAiEmbeddings.ts"
export * as ModelInfo from "./model/ModelInfo.ts"
export * as UsageTotals from "./model/UsageTotals.ts"
export * as ReplayModel from "./model/ReplayModel.ts"
export * as HashEmbeddingModel from "./model/HashEmbeddingModel.ts"

// tools
export * as ToolLoop from "./tools/ToolLoop.ts"
export * as ToolAgent from "./tools/ToolAgent.ts"
export * as ToolError from "./tools/ToolError.ts"
export * as McpToolkit from "./tools/McpToolkit.ts"

// model contexts
export * as ModelContext from "./context/ModelContext.ts"
export * as UnboundedContext from "./context/UnboundedContext.ts"
export * as BufferedContext from "./context/BufferedContext.ts"
export * as HeadAndTailContext from "./context/HeadAndTailContext.ts"
export * as TokenLimitedContext from "./context/TokenLimitedContext.ts"

// memory
export * as Memory from "./memory/Memory.ts"
export * as ListMemory from "./memory/ListMemory.ts"
export * as EmbeddingMemory from "./memory/EmbeddingMemory.ts"

// code execution sandboxes
export * as CodeBlock from "./code/CodeBlock.ts"
export * as CodeResult from "./code/CodeResult.ts"
export * as CodeExecutor from "./code/CodeExecutor.ts"
export * as CodeExecutorError from "./code/CodeExecutorError.ts"
export * as CodeExecutionTool from "./code/CodeExecutionTool.ts"
export * as Environment from "./code/Environment.ts"
export * as Isolation from "./code/Isolation.ts"
export * as Language from "./code/Language.ts"
export * as LocalCodeExecutor from "./code/LocalCodeExecutor.ts"
export * as WorkDir from "./code/WorkDir.ts"
export * as NodeCodeExecutor from "../node/NodeCodeExecutor.ts"

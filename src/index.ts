/**
 * effect-agents: an agent runtime environment on Effect.
 *
 * - Identity and addressing: `AgentId`, `TopicId`, `Subscription`, `Message`.
 * - Defining agents: `Agent`.
 * - The service every runtime provides: `AgentRuntime`, with its errors
 *   `AgentError`, dead letters `DeadLetter`, middleware `Intervention` and
 *   `AccessPolicy`, and settings `RuntimeConfig`.
 * - Runtimes: `StandaloneRuntime` (one process); `HostServicer` and
 *   `WorkerRuntime` (distributed: workers reach the host over `Protocol`);
 *   `TestRuntime` for tests. Operating a host: `Admin`, `AdminStatus`.
 * - Subpath exports: `effect-agents/ai` (components for AI agents),
 *   `effect-agents/telemetry` (OpenTelemetry), `effect-agents/cluster`.
 *
 * `HostServicer.layer` and `WorkerRuntime.layer` here run on Node; the
 * modules under `distributed/` are platform-neutral (see `node/`).
 */
export * as AccessPolicy from "./core/AccessPolicy.ts"
export * as Agent from "./core/Agent.ts"
export * as AgentError from "./core/AgentError.ts"
export * as AgentId from "./core/AgentId.ts"
export * as AgentRuntime from "./core/AgentRuntime.ts"
export * as DeadLetter from "./core/DeadLetter.ts"
export * as Intervention from "./core/Intervention.ts"
export * as Message from "./core/Message.ts"
export * as RuntimeConfig from "./core/RuntimeConfig.ts"
export * as Subscription from "./core/Subscription.ts"
export * as TopicId from "./core/TopicId.ts"
export * as StandaloneRuntime from "./standalone/StandaloneRuntime.ts"
export * as TestRuntime from "./testing/TestRuntime.ts"
export * as Credentials from "./distributed/Credentials.ts"
export * as Protocol from "./distributed/Protocol.ts"
export * as HostServicer from "./node/HostServicer.ts"
export * as WorkerRuntime from "./node/WorkerRuntime.ts"
export * as StateStore from "./core/StateStore.ts"
export * as SqliteStateStore from "./node/SqliteStateStore.ts"
export * as NodeSqliteClient from "./node/NodeSqliteClient.ts"
export * as Admin from "./node/Admin.ts"
export * as AdminStatus from "./distributed/AdminStatus.ts"

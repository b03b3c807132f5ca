/**
 * effect-agents: an agent runtime environment on Effect.
 *
 * Identity and addressing: `AgentId`, `TopicId`, `Subscription`, `Message`.
 * Defining agents: `Agent`. The service: `AgentRuntime`, its errors
 * `AgentError`, its middleware `Intervention` and `AccessPolicy`.
 * Runtimes: `StandaloneRuntime` (one process); `HostServicer` and
 * `WorkerRuntime` (distributed), which speak `Protocol` through a `Gateway`.
 */
export * as AccessPolicy from "./AccessPolicy.ts"
export * as Agent from "./Agent.ts"
export * as AgentError from "./AgentError.ts"
export * as AgentId from "./AgentId.ts"
export * as AgentRuntime from "./AgentRuntime.ts"
export * as Gateway from "./Gateway.ts"
export * as HostServicer from "./HostServicer.ts"
export * as Intervention from "./Intervention.ts"
export * as Message from "./Message.ts"
export * as Protocol from "./Protocol.ts"
export * as StandaloneRuntime from "./StandaloneRuntime.ts"
export * as Subscription from "./Subscription.ts"
export * as TopicId from "./TopicId.ts"
export * as WorkerRuntime from "./WorkerRuntime.ts"

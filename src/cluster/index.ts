/**
 * `effect-agents/cluster`: the cluster runtime, the same agents on
 * effect/cluster (see `ClusterRuntime`). `ClusterRuntime.layerMemory()` is a
 * one-process cluster with nothing to install; `ClusterRunner.layer` is a
 * runner process on Node with PostgreSQL (`@effect/sql-pg`, an optional peer
 * dependency loaded only when a runner starts); `ClusterPostgres.throwaway`
 * starts a throwaway PostgreSQL for trying it.
 */
export * as ClusterConfig from "./ClusterConfig.ts"
export * as ClusterRuntime from "./ClusterRuntime.ts"
export * as DeliveryMode from "./DeliveryMode.ts"
export * as Directory from "./Directory.ts"
export * as SqlDirectory from "./SqlDirectory.ts"
// the Node runner (sockets and PostgreSQL), as the package root exports the Node host and worker
export * as ClusterPostgres from "../node/ClusterPostgres.ts"
export * as ClusterRunner from "../node/ClusterRunner.ts"

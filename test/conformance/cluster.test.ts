/**
 * The conformance suite on the cluster runtime, in one process: every agent
 * layer registered with one `ClusterRuntime` runner on effect/cluster's
 * in-memory sharding, message storage and directory. Each send is an entity
 * call through `Sharding` (serialized as it would be between runners), each
 * publish a fan-out of entity deliveries.
 */
import { Layer } from "effect"
import { ClusterRuntime } from "../../src/cluster/index.ts"
import { conformance } from "./suite.ts"

conformance("cluster (one in-memory runner)", (agents, options) =>
  Layer.mergeAll(Layer.empty, ...agents).pipe(Layer.provideMerge(ClusterRuntime.layerMemory(options))))

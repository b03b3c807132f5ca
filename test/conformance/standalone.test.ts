/**
 * The conformance suite on the standalone runtime: every agent layer
 * registered with one in-process `StandaloneRuntime`.
 */
import { Layer } from "effect"
import { StandaloneRuntime } from "../../src/index.ts"
import { conformance } from "./suite.ts"

conformance("standalone", (agents, options) =>
  Layer.mergeAll(Layer.empty, ...agents).pipe(Layer.provideMerge(StandaloneRuntime.layer(options))))

/**
 * The sandbox the coder's code runs in: the local executor on Node, with
 * resource limits (512 MiB of memory, 10 s of CPU, 10 MiB files) by
 * default; `ASSISTANTS_ISOLATION=jail` adds a bubblewrap jail and no
 * network (Linux with bubblewrap), `none` runs the code unconfined.
 */
import * as Isolation from "../../src/ai/code/Isolation.ts"
import * as NodeCodeExecutor from "../../src/node/NodeCodeExecutor.ts"

export { Isolation }

const levels = (): ReadonlyArray<Isolation.Level> => {
  const limits = Isolation.resourceLimits({ memoryBytes: 512 * 1024 * 1024, cpuSeconds: 10, fileSizeBytes: 10 * 1024 * 1024 })
  switch (process.env.ASSISTANTS_ISOLATION) {
    case "none":
      return []
    case "jail":
      return [limits, Isolation.jail(), Isolation.noNetwork]
    default:
      return [limits]
  }
}

/** The coder's executor, for the life of the layer (its work directory is removed when it closes). */
export const NodeCodeExecutorLayer = () => NodeCodeExecutor.layer({ timeout: "20 seconds", isolation: levels() })

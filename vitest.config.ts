import { defineConfig } from "vitest/config"

// Two groups, one after the other: everything else in parallel, then the fault suite (real host
// processes, a fuzzer, timing bounds on silent links) one file at a time, on a machine it has to itself.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: "main", include: ["test/**/*.test.ts"], exclude: ["test/faults/**"], sequence: { groupOrder: 0 } }
      },
      {
        extends: true,
        test: { name: "faults", include: ["test/faults/**/*.test.ts"], fileParallelism: false, sequence: { groupOrder: 1 } }
      }
    ]
  }
})

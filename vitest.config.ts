import { defineConfig } from "vitest/config"

// Two groups, one after the other: everything else in parallel, then the suites with timing bounds (the
// fault suite: real host processes, a fuzzer, silent links; the cross-language tests: heartbeats, a stopped
// host; the packed package's install, which builds; cluster runners as processes on PostgreSQL) one file at a time, on a machine they have to themselves.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: "main", include: ["test/**/*.test.ts"], exclude: ["test/faults/**", "test/polyglot/**", "test/package/**", "test/cluster/**/*.processes.test.ts"], sequence: { groupOrder: 0 } }
      },
      {
        extends: true,
        test: { name: "faults", include: ["test/faults/**/*.test.ts", "test/polyglot/**/*.test.ts", "test/package/**/*.test.ts", "test/cluster/**/*.processes.test.ts"], fileParallelism: false, sequence: { groupOrder: 1 } }
      }
    ]
  }
})

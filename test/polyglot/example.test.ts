/**
 * The polyglot example (examples/polyglot/run.ts), run as a user runs it:
 * its launcher starts a host, a Python worker and a TypeScript worker, and
 * must exit 0 having printed what crossed between the languages.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Python from "./python.ts"

describe("examples/polyglot", () => {
  it.live("a TypeScript writer and a Python analyst in one conversation, through a host", () =>
    Effect.gen(function*() {
      const launcher = yield* Python.start(process.execPath, [Python.root("examples/polyglot/run.ts")], {}, /python worker ready/)
      const code = yield* Effect.callback<number | null>((resume) => {
        if (launcher.child.exitCode !== null) return resume(Effect.succeed(launcher.child.exitCode))
        launcher.child.once("exit", (c) => resume(Effect.succeed(c)))
      })
      const output = launcher.output()
      assert.strictEqual(code, 0, output)
      assert.include(output, "Python refused it: TooShort(words=1, minimum=5)")
      assert.include(output, "Python counted 7 words, the longest \"mailboxes\"")
      assert.include(output, "heard Python's review: 7 words on 'mailboxes'")
      assert.include(output, "the Python analyst's state {\"reviewed\":1}")
    }).pipe(Effect.scoped), 90_000)
})

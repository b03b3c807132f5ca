import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Effect } from "effect"
import * as WorkDir from "../../../src/ai/code/WorkDir.ts"
import * as NodeCodeExecutor from "../../../src/node/NodeCodeExecutor.ts"

describe("WorkDir", () => {
  it("keeps the components of a name that stays inside, and says why another does not", () => {
    assert.deepStrictEqual(WorkDir.components("a/./b//c.py"), ["a", "b", "c.py"])
    assert.deepStrictEqual(WorkDir.components("..hidden/x..y"), ["..hidden", "x..y"])
    for (const [name, reason] of [
      ["../x", "'..'"],
      ["a/../../x", "'..'"],
      ["/etc/passwd", "absolute"],
      ["", "no file"],
      ["./.", "no file"],
      ["a\0b", "NUL"],
      [Array.from({ length: 20 }, () => "d").join("/"), "deep"]
    ] as const) {
      const result = WorkDir.components(name)
      assert.isFalse(Array.isArray(result), name)
      assert.include((result as { refused: string }).refused, reason, name)
    }
  })

  it.live("writes files under its real path, refuses links and directories, and is removed with its scope", () =>
    Effect.gen(function*() {
      let root = ""
      yield* Effect.scoped(Effect.gen(function*() {
        const dir = yield* WorkDir.make()
        root = dir.path
        assert.strictEqual(Fs.realpathSync(root), root)
        const file = yield* dir.write("pkg/main.py", "print(1)")
        assert.strictEqual(file, Path.join(root, "pkg", "main.py"))
        assert.strictEqual(Fs.readFileSync(file, "utf8"), "print(1)")
        // replacing a file writes a new one
        yield* dir.write("pkg/main.py", "print(2)")
        assert.strictEqual(Fs.readFileSync(file, "utf8"), "print(2)")
        const directory = yield* Effect.flip(dir.write("pkg", "x"))
        assert.strictEqual(directory._tag, "InvalidFilenameError")
        Fs.symlinkSync(root, Path.join(root, "loop"))
        const link = yield* Effect.flip(dir.write("loop/x.py", "x"))
        assert.strictEqual(link._tag, "InvalidFilenameError")
        Fs.writeFileSync(Path.join(root, "plain"), "")
        const notDirectory = yield* Effect.flip(dir.write("plain/x.py", "x"))
        assert.include((notDirectory as { reason: string }).reason, "not a directory")
      }))
      assert.isFalse(Fs.existsSync(root))
    }).pipe(Effect.provide(NodeCodeExecutor.services)))
})

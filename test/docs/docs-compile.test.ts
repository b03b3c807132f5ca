/**
 * Docs that compile: every ```ts / ```typescript block of README.md and of
 * every markdown file under docs/ is typechecked, as a complete program
 * importing from "effect-agents", with the project's compiler and options.
 * Blocks fenced ```ts fragment are skipped. A failure names the file, the
 * line and the compiler's error.
 */
import { assert, describe, it } from "vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { blocksOf, format, markdownFiles, root, typecheck } from "./DocBlocks.ts"

const files = markdownFiles()
const blocks = files.flatMap((file) => blocksOf(file, Fs.readFileSync(Path.join(root, file), "utf8")))

// one compiler run for every block of every file (a second per run), shared by the tests below
let checked: ReturnType<typeof typecheck> | undefined
const errors = () => (checked ??= typecheck(blocks))

describe("docs compile", () => {
  it("finds the TypeScript blocks: the README has its complete example among them", () => {
    const readme = blocks.filter((b) => b.file === "README.md")
    assert.isAbove(readme.length, 0)
    assert.isTrue(readme.some((b) => b.code.includes("NodeRuntime.runMain")), "the README's complete example was not extracted")
  })

  for (const file of files) {
    it(`every TypeScript block of ${file} compiles`, { timeout: 120_000 }, () => {
      const mine = errors().filter((e) => e.block.file === file)
      assert.strictEqual(mine.length, 0, `\n${mine.map(format).join("\n")}\n`)
    })
  }

  it("a block that does not compile is reported with its file, line and error; a fragment is skipped", { timeout: 120_000 }, () => {
    const markdown = [
      "# A page",
      "",
      "```ts",
      "import { Agent } from \"effect-agents\"",
      "const n: number = Agent.make",
      "```",
      "",
      "```ts fragment",
      "this is not TypeScript",
      "```",
      "",
      "  ```typescript",
      "  import { Effect } from \"effect\"",
      "  export const ok = Effect.succeed(1)",
      "  ```"
    ].join("\n")
    const found = blocksOf("docs/page.md", markdown)
    assert.deepStrictEqual(found.map((b) => b.line), [4, 13])
    const reported = typecheck(found)
    assert.strictEqual(reported.length, 1, reported.map(format).join("\n"))
    assert.match(format(reported[0]!), /^docs\/page\.md:5:7 \(block at line 4\): TS2322: /)
  })
})

/**
 * TypeScript blocks of markdown files, and the project's own compiler run
 * over them as if they were files of a user's project that depends on
 * effect-agents: `"effect-agents"` and its subpaths resolve to the sources
 * they are built from (read from package.json "exports", so a new subpath
 * is checked as soon as it is exported), everything else as the project
 * resolves it.
 *
 * A block fenced ```ts or ```typescript is a complete program; one fenced
 * ```ts fragment is skipped.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** The checkout this file is in. */
export const root = Path.resolve(import.meta.dirname, "../..")

/** One TypeScript block: where it is and what it says. */
export interface Block {
  /** The markdown file, relative to the checkout. */
  readonly file: string
  /** The line of the block's first line of code (1-based), in `file`. */
  readonly line: number
  /** The heading it is under (`A complete example`), `""` before any. */
  readonly section: string
  readonly code: string
}

/** A compile error of a block, placed in its markdown file. */
export interface BlockError {
  readonly block: Block
  /** The line in the markdown file. */
  readonly line: number
  readonly column: number
  /** `TS2379: Argument of type ...` */
  readonly text: string
}

const fence = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/

/** The TypeScript blocks of one markdown text, without those marked `fragment`. */
export const blocksOf = (file: string, text: string): ReadonlyArray<Block> => {
  const lines = text.split("\n")
  const blocks: Array<Block> = []
  let section = ""
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(lines[i]!)
    if (heading !== null) section = heading[1]!
    const open = fence.exec(lines[i]!)
    if (open === null) continue
    const [, indent, marker, language, info] = open
    // the block ends at a fence of the same character, at least as long, with no info string
    const close = new RegExp(`^\\s*${marker![0] === "`" ? "`" : "~"}{${marker!.length},}\\s*$`)
    let end = i + 1
    while (end < lines.length && !close.test(lines[end]!)) end++
    const isTs = language === "ts" || language === "typescript"
    if (isTs && !/\bfragment\b/.test(info!)) {
      const body = lines.slice(i + 1, end).map((line) => line.startsWith(indent!) ? line.slice(indent!.length) : line.trimStart())
      blocks.push({ file, line: i + 2, section, code: body.join("\n") })
    }
    i = end
  }
  return blocks
}

/** README.md and every markdown file under docs/, relative to the checkout. */
export const markdownFiles = (): ReadonlyArray<string> => {
  const found: Array<string> = []
  const walk = (dir: string) => {
    if (!Fs.existsSync(Path.join(root, dir))) return
    for (const entry of Fs.readdirSync(Path.join(root, dir), { withFileTypes: true })) {
      const relative = Path.join(dir, entry.name)
      if (entry.isDirectory()) walk(relative)
      else if (entry.name.endsWith(".md")) found.push(relative)
    }
  }
  walk("docs")
  return ["README.md", ...found.sort()]
}

/** `"effect-agents/ai"` → the source of what that subpath exports, from package.json "exports" (`./dist/x.d.ts` → `src/x.ts`). */
export const sourcePaths = (): Record<string, Array<string>> => {
  const pkg = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as { name: string; exports?: Record<string, unknown> }
  const paths: Record<string, Array<string>> = {}
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    const types = typeof target === "string" ? target : (target as { types?: string; default?: string }).types ??
      (target as { default?: string }).default
    if (types === undefined) continue
    const source = types.replace(/^\.\/dist\//, "src/").replace(/\.d\.ts$|\.js$/, ".ts")
    paths[subpath === "." ? pkg.name : `${pkg.name}/${subpath.replace(/^\.\//, "")}`] = [Path.join(root, source)]
  }
  // a subpath not exported yet still resolves by convention, so that its docs can be written first
  paths[`${pkg.name}/*`] = [Path.join(root, "src/*/index.ts")]
  paths[pkg.name] ??= [Path.join(root, "src/index.ts")]
  return paths
}

/** A file name that says where its block came from: `README.md` line 120 → `README.md.L120.ts`. */
const fileNameOf = (block: Block) => `${block.file.replace(/[\\/]/g, "__")}.L${block.line}.ts`

/**
 * Typechecks `blocks` with the project's compiler and options, each as a
 * module of its own, in a directory under node_modules (so that packages
 * resolve as they do for the project) removed afterwards.
 */
export const typecheck = (blocks: ReadonlyArray<Block>): ReadonlyArray<BlockError> => {
  if (blocks.length === 0) return []
  const cache = Path.join(root, "node_modules", ".cache")
  Fs.mkdirSync(cache, { recursive: true })
  const dir = Fs.mkdtempSync(Path.join(cache, "effect-agents-docs-"))
  try {
    const byName = new Map<string, Block>()
    for (const block of blocks) {
      const name = fileNameOf(block)
      byName.set(name, block)
      // a block without imports would be a script sharing one global scope with the others
      Fs.writeFileSync(Path.join(dir, name), `${block.code}\nexport {}\n`)
    }
    Fs.writeFileSync(
      Path.join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: Path.join(root, "tsconfig.json"),
        compilerOptions: { noEmit: true, paths: sourcePaths(), noUnusedLocals: false, noUnusedParameters: false },
        include: ["*.ts"]
      })
    )
    const result = ChildProcess.spawnSync(Path.join(root, "node_modules", ".bin", "tsc"), ["-p", dir, "--pretty", "false"], {
      cwd: dir,
      encoding: "utf8"
    })
    if (result.error !== undefined) throw result.error
    const output = `${result.stdout}${result.stderr}`
    const errors: Array<BlockError> = []
    let last: BlockError | undefined
    let others = 0
    for (const line of output.split("\n")) {
      const match = /^(.*?)\((\d+),(\d+)\): error (TS\d+: .*)$/.exec(line)
      if (match !== null) {
        const block = byName.get(Path.basename(match[1]!))
        // an error in the project's own sources is the project typecheck's to report, not the docs'
        if (block === undefined) {
          last = undefined
          others++
          continue
        }
        last = { block, line: block.line + Number(match[2]) - 1, column: Number(match[3]), text: match[4]! }
        errors.push(last)
      } else if (last !== undefined && /^\s+\S/.test(line)) {
        // continuation lines of the last error's message
        errors[errors.length - 1] = last = { ...last, text: `${last.text}\n${line}` }
      } else {
        last = undefined
      }
    }
    if (result.status !== 0 && errors.length === 0 && others === 0) throw new Error(`tsc failed without errors in the blocks:\n${output}`)
    return errors
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** `README.md:123:7 (block at line 120): TS2379: ...` */
export const format = (error: BlockError): string =>
  `${error.block.file}:${error.line}:${error.column} (block at line ${error.block.line}): ${error.text}`

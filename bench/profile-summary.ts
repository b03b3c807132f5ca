/** Summarises a .cpuprofile: self time by function and by file (top N). */
import { readFileSync } from "node:fs"

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
const profile = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[] }
const top = Number(process.argv[3] ?? 40)
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map<number, number>()
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
const total = [...self.values()].reduce((a, b) => a + b, 0)
const short = (url: string) => url.replace(/^.*node_modules\//, "").replace(/^file:\/\/\/work\/main\//, "")
const byFn = new Map<string, number>()
const byFile = new Map<string, number>()
for (const [id, t] of self) {
  const f = byId.get(id)!.callFrame
  const key = `${f.functionName || "(anon)"} ${short(f.url)}:${f.lineNumber + 1}`
  byFn.set(key, (byFn.get(key) ?? 0) + t)
  const file = short(f.url) || f.functionName
  byFile.set(file, (byFile.get(file) ?? 0) + t)
}
const print = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`)
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((t / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
}
print("self time by file", byFile)
print("self time by function", byFn)

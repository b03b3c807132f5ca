/** Prints benchmark rows as an aligned text table. */
import type { Result } from "./harness.ts"

export interface Line {
  readonly result: Result
  readonly floor: Result | undefined
  readonly reference: number | undefined
  readonly referenceLabel: string | undefined
}

const fmt = (x: number | undefined) =>
  x === undefined ? "-" : x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e4 ? `${(x / 1e3).toFixed(0)}k` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0)

/** Spread of the samples: (max - min) / median, as a percentage. */
const spread = (r: Result) => `±${(((r.samples.at(-1)! - r.samples[0]!) / 2 / r.opsPerSec) * 100).toFixed(0)}%`

export const header = ["case", "unit", "ops/s", "spread", "floor", "floor ops/s", "ratio", "CPU µs/op (floor)", "reference", "ours/ref"] as const

/** CPU per operation across the case's processes, and the floor's, when measured. */
const cpu = (l: Line) =>
  l.result.cpuMicrosPerOp === undefined
    ? "-"
    : `${l.result.cpuMicrosPerOp.toFixed(0)}${l.floor?.cpuMicrosPerOp === undefined ? "" : ` (${l.floor.cpuMicrosPerOp.toFixed(0)})`}`

export const cells = (l: Line): ReadonlyArray<string> => [
  l.result.name,
  l.result.unit,
  fmt(l.result.opsPerSec),
  spread(l.result),
  l.floor?.name ?? "-",
  fmt(l.floor?.opsPerSec),
  l.floor ? `${((l.result.opsPerSec / l.floor.opsPerSec) * 100).toFixed(1)}%` : "-",
  cpu(l),
  l.reference === undefined ? "-" : `${fmt(l.reference)}${l.referenceLabel ? ` (${l.referenceLabel})` : ""}`,
  l.reference === undefined ? "-" : `${(l.result.opsPerSec / l.reference).toFixed(1)}x`
]

export const table = (title: string, lines: ReadonlyArray<Line>): string => {
  const rows = [header as ReadonlyArray<string>, ...lines.map(cells)]
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const render = (r: ReadonlyArray<string>) => `| ${r.map((c, i) => (i === 0 || i === 1 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`
  const rule = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`
  return [`\n## ${title}\n`, render(rows[0]!), rule, ...rows.slice(1).map(render)].join("\n")
}

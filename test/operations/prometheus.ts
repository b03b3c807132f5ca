/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for the
 * tests of `/metrics`: it throws on any line that is not a comment, a
 * `# HELP`/`# TYPE` line or a well-formed sample, on a sample whose family
 * was not declared with `# TYPE` before it, on a family declared twice, and
 * on histogram buckets that are not cumulative.
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly type: string
  help: string | undefined
  readonly samples: Array<Sample>
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/
const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/

const parseValue = (text: string): number => {
  if (text === "+Inf") return Infinity
  if (text === "-Inf") return -Infinity
  if (text === "NaN") return NaN
  const value = Number(text)
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) || Number.isNaN(value)) throw new Error(`not a sample value: ${text}`)
  return value
}

const parseLabels = (text: string | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  let rest = text ?? ""
  while (rest.length > 0) {
    const match = label.exec(rest)
    if (match === null) throw new Error(`malformed labels: {${text}}`)
    if (match[1]! in out) throw new Error(`label ${match[1]} twice in {${text}}`)
    out[match[1]!] = match[2]!.replace(/\\n/g, "\n").replace(/\\"/g, "\"").replace(/\\\\/g, "\\")
    rest = rest.slice(match[0].length)
    if (rest.startsWith(",")) rest = rest.slice(1)
    else if (rest.length > 0) throw new Error(`malformed labels: {${text}}`)
  }
  return out
}

const familyOf = (families: ReadonlyMap<string, Family>, name: string): string | undefined => {
  if (families.has(name)) return name
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue
    const base = name.slice(0, -suffix.length)
    const type = families.get(base)?.type
    if (type === "histogram" || (type === "summary" && suffix !== "_bucket")) return base
  }
  return undefined
}

/** The families of an exposition, by name; throws on anything malformed. */
export const parse = (text: string): Map<string, Family> => {
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("the exposition does not end with a newline")
  const families = new Map<string, Family>()
  for (const line of text.split("\n")) {
    if (line === "") continue
    if (line.startsWith("# TYPE ")) {
      const [name, type, ...rest] = line.slice(7).split(" ")
      if (!metricName.test(name ?? "") || rest.length > 0) throw new Error(`malformed TYPE line: ${line}`)
      if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(type ?? "")) throw new Error(`unknown type: ${line}`)
      const existing = families.get(name!)
      if (existing !== undefined && (existing.type !== "untyped" || existing.samples.length > 0)) throw new Error(`family declared twice: ${name}`)
      families.set(name!, { type: type!, help: existing?.help, samples: [] })
      continue
    }
    if (line.startsWith("# HELP ")) {
      const space = line.indexOf(" ", 7)
      const name = space < 0 ? line.slice(7) : line.slice(7, space)
      if (!metricName.test(name)) throw new Error(`malformed HELP line: ${line}`)
      const family = families.get(name)
      if (family !== undefined) family.help = line.slice(space + 1)
      else families.set(name, { type: "untyped", help: line.slice(space + 1), samples: [] })
      continue
    }
    if (line.startsWith("#")) continue
    const match = sampleLine.exec(line)
    if (match === null) throw new Error(`malformed sample: ${line}`)
    const family = familyOf(families, match[1]!)
    if (family === undefined || families.get(family)!.type === "untyped") throw new Error(`a sample before its TYPE: ${line}`)
    families.get(family)!.samples.push({ name: match[1]!, labels: parseLabels(match[2]), value: parseValue(match[3]!) })
  }
  for (const [name, family] of families) {
    if (family.type !== "histogram") continue
    // per label set, buckets are cumulative and end at +Inf, which equals _count
    const series = new Map<string, Array<Sample>>()
    for (const sample of family.samples.filter((s) => s.name === `${name}_bucket`)) {
      const { le, ...rest } = sample.labels
      if (le === undefined) throw new Error(`a bucket without le: ${name}`)
      const key = JSON.stringify(rest)
      series.set(key, [...(series.get(key) ?? []), sample])
    }
    for (const [key, buckets] of series) {
      for (let i = 1; i < buckets.length; i++) {
        if (buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`buckets of ${name}${key} are not cumulative`)
      }
      const last = buckets[buckets.length - 1]!
      if (last.labels["le"] !== "+Inf") throw new Error(`the buckets of ${name}${key} do not end at +Inf`)
      const count = family.samples.find((s) => s.name === `${name}_count` && JSON.stringify(s.labels) === key)
      if (count?.value !== last.value) throw new Error(`${name}_count${key} is not the +Inf bucket`)
    }
  }
  return families
}

/** The value of the sample `name` with exactly these labels, if there is one. */
export const value = (families: ReadonlyMap<string, Family>, family: string, name: string, labels: Readonly<Record<string, string>> = {}) =>
  families.get(family)?.samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value

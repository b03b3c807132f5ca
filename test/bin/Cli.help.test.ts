/**
 * `effect-agents host --help` shows every default: each flag's, and each
 * setting read from the environment, in a form the environment takes back.
 */
import { assert, describe, it } from "vitest"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as RuntimeConfig from "../../src/core/RuntimeConfig.ts"

const root = Path.resolve(import.meta.dirname, "../..")

describe("effect-agents host --help", () => {
  it("shows the default of every flag and of every setting from the environment", { timeout: 60_000 }, () => {
    const help = ChildProcess.execFileSync(process.execPath, [Path.join(root, "src/node/cli.ts"), "host", "--help"], { encoding: "utf8" })
    const flags = help.slice(help.indexOf("FLAGS"), help.indexOf("GLOBAL FLAGS")).split("\n").filter((line) => /^\s+--/.test(line))
    assert.isAbove(flags.length, 5, help)
    for (const line of flags) assert.match(line, /default/, `a flag without its default: ${line.trim()}`)
    const env: Record<string, string> = {}
    for (const key of Object.keys(RuntimeConfig.defaults).filter((k) => k !== "maxMessageBytes")) {
      const name = `EFFECT_AGENTS_${key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`
      const shown = new RegExp(`${name}=("[^"]+"|\\d+)`).exec(help)
      assert.isNotNull(shown, `${name} is not in the help:\n${help}`)
      env[name] = shown![1]!.replace(/"/g, "")
    }
    // what the help shows as the defaults, given back through the environment, reads as the defaults
    const read = ChildProcess.execFileSync(process.execPath, ["--input-type=module", "-e", `
      import * as RuntimeConfig from ${JSON.stringify(Path.join(root, "src/core/RuntimeConfig.ts"))}
      import { Effect } from "effect"
      const config = await Effect.runPromise(RuntimeConfig.configFromEnv)
      const differ = Object.keys(RuntimeConfig.defaults).filter((k) => JSON.stringify(config[k]) !== JSON.stringify(RuntimeConfig.defaults[k]))
      console.log(JSON.stringify(differ))
    `], { encoding: "utf8", cwd: root, env: { ...process.env, ...env } })
    assert.deepStrictEqual(JSON.parse(read), [], `these do not read back as their defaults: ${read}`)
  })
})

import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { CodeResult } from "../../../src/ai/code/CodeResult.ts"

describe("CodeResult", () => {
  it("survives a round trip through its schema, as agent state or a message does", () => {
    const result = new CodeResult({
      language: "sh", filename: "a.sh", exitCode: 137, signal: "SIGKILL", output: "x\n[timed out]\n", stdout: "x\n", stderr: "",
      timedOut: true, truncated: false, outputBytes: 2
    })
    const json = JSON.parse(JSON.stringify(Schema.encodeSync(CodeResult)(result)))
    const back = Schema.decodeUnknownSync(CodeResult)(json)
    assert.deepStrictEqual(back, result)
    assert.isFalse(back.succeeded)
  })
})

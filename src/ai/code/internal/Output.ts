/**
 * A block's output as it is read: stdout and stderr chunks in arrival
 * order, kept up to a byte cap and counted past it. Memory stays at the
 * cap however much the code prints; text is decoded per stream as it
 * arrives, so a character split across two reads is not mangled.
 */

/** Which pipe a chunk came from. */
export type Channel = "stdout" | "stderr"

/** The collector of one block's output. */
export interface Output {
  /** Records a chunk; returns `true` once the cap has been passed. */
  readonly push: (channel: Channel, bytes: Uint8Array) => boolean
  /** Bytes seen so far, kept or not. */
  readonly seen: () => number
  /** Whether bytes past the cap were dropped. */
  readonly truncated: () => boolean
  /** The text kept: both streams interleaved, and each alone. */
  readonly text: () => { readonly output: string; readonly stdout: string; readonly stderr: string }
}

/** A collector that keeps at most `maxBytes` bytes. */
export const make = (maxBytes: number): Output => {
  const decoders: Record<Channel, InstanceType<typeof TextDecoder>> = { stdout: new TextDecoder(), stderr: new TextDecoder() }
  const parts: Array<readonly [Channel, string]> = []
  let kept = 0
  let seen = 0
  let truncated = false
  return {
    push: (channel, bytes) => {
      seen += bytes.length
      const room = maxBytes - kept
      const slice = bytes.length > room ? bytes.subarray(0, Math.max(room, 0)) : bytes
      if (slice.length < bytes.length) truncated = true
      if (slice.length > 0) {
        kept += slice.length
        parts.push([channel, decoders[channel].decode(slice, { stream: true })])
      }
      return truncated
    },
    seen: () => seen,
    truncated: () => truncated,
    text: () => {
      for (const channel of ["stdout", "stderr"] as const) {
        const rest = decoders[channel].decode()
        if (rest !== "") parts.push([channel, rest])
      }
      return {
        output: parts.map(([, text]) => text).join(""),
        stdout: parts.filter(([channel]) => channel === "stdout").map(([, text]) => text).join(""),
        stderr: parts.filter(([channel]) => channel === "stderr").map(([, text]) => text).join("")
      }
    }
  }
}

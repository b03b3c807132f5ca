/**
 * Unguessable tokens from the platform's cryptographic source (Web Crypto:
 * Node, Deno, browsers), drawn from a pool so that a token costs a few array
 * reads, not a system call. Used where knowing one value must not reveal the
 * next: the host's request ids and ping nonces (a worker that does not read
 * what it is sent cannot answer it), resume secrets.
 */
const pool = new Uint8Array(4096)
let offset = pool.length

const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/** `bytes` random bytes as hex. */
export const token = (bytes: number): string => {
  if (offset + bytes > pool.length) {
    globalThis.crypto.getRandomValues(pool)
    offset = 0
  }
  let out = ""
  for (let i = 0; i < bytes; i++) out += hex[pool[offset++]!]
  return out
}

/** A random unsigned 32-bit integer. */
export const uint32 = (): number => Number.parseInt(token(4), 16)

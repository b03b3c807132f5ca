/**
 * Headless Chromium for the dashboard test: Debian's `chromium`, driven by
 * `playwright-core`, with a fresh profile and everything that would reach
 * for the network turned off (the machine has none), closed when the scope
 * closes.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect, type Scope } from "effect"
import { type BrowserContext, chromium } from "playwright-core"

export const executablePath = process.env["CHROMIUM"] ?? "/usr/bin/chromium"

const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** A browser with a fresh profile for the life of the scope. */
export const launch: Effect.Effect<BrowserContext, Error, Scope.Scope> = Effect.gen(function*() {
  if (!Fs.existsSync(executablePath)) {
    return yield* Effect.fail(new Error(`no Chromium at ${executablePath}: install Debian's chromium (apt-get install chromium) or set CHROMIUM`))
  }
  const profile = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-agents-chromium-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  return yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () => chromium.launchPersistentContext(profile, { executablePath, headless: true, args, viewport: { width: 1400, height: 1000 } }),
      catch: (cause) => new Error(`Chromium did not start: ${String(cause)}`)
    }),
    (context) => Effect.promise(() => context.close().catch(() => undefined))
  )
})

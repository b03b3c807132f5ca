/**
 * A throwaway PostgreSQL for trying the cluster (the example, the tests):
 * `initdb` in a temporary directory, `pg_ctl start` on a free loopback port
 * (its unix socket in the same directory), stopped (`pg_ctl stop -m
 * immediate`) and removed when the scope closes, also when the program
 * fails. It needs PostgreSQL's server programs installed (Debian:
 * `apt-get install postgresql`), not a running server. Run as root, the
 * server runs as the `postgres` OS user (PostgreSQL refuses root).
 *
 * ```ts
 * import { Console, Effect } from "effect"
 * import { ClusterPostgres } from "effect-agents/cluster"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pg = yield* ClusterPostgres.throwaway
 *   yield* Console.log(pg.url) // postgres://postgres@127.0.0.1:<port>/postgres
 * }))
 * ```
 */
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect, Schema, type Scope } from "effect"

/** Where Debian puts PostgreSQL's server programs (`.ci/run` installs `postgresql` when missing): $PG_BIN, else the newest installed. */
export const binDir = process.env.PG_BIN ?? (() => {
  const versions = Fs.existsSync("/usr/lib/postgresql") ? Fs.readdirSync("/usr/lib/postgresql").filter((v) => /^\d+$/.test(v)) : []
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0] ?? "15"
  return `/usr/lib/postgresql/${newest}/bin`
})()

/** A step of starting the throwaway server failed (programs missing, initdb or pg_ctl refused). */
export class ThrowawayPostgresError extends Schema.TaggedError<ThrowawayPostgresError>()("ThrowawayPostgresError", {
  step: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot start a throwaway PostgreSQL (${this.step}): ${this.detail}`
  }
}

export interface Postgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication, loopback only). */
  readonly url: string
  readonly port: number
  readonly dataDir: string
}

/** Whether the server programs are installed here. */
export const available = (): boolean => Fs.existsSync(Path.join(binDir, "initdb"))

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0

/** Runs a server program (as `postgres` when this process is root). */
const run = (program: string, args: ReadonlyArray<string>) =>
  Effect.callback<string, ThrowawayPostgresError>((resume) => {
    const file = Path.join(binDir, program)
    const [command, argv] = isRoot() ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, [...args]]
    const child = execFile(command, argv, { timeout: 60_000 }, (error, stdout, stderr) =>
      resume(error ? Effect.fail(new ThrowawayPostgresError({ step: program, detail: `${error.message}\n${stdout}\n${stderr}` })) : Effect.succeed(stdout)))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** A free loopback port (the OS picks it; it is free again for the server a moment later). */
export const freePort = Effect.callback<number, ThrowawayPostgresError>((resume) => {
  const server = Net.createServer()
  server.once("error", (e) => resume(Effect.fail(new ThrowawayPostgresError({ step: "free port", detail: e.message }))))
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Starts a throwaway PostgreSQL for the life of the scope (trust authentication, loopback only: for trying and testing, not for data you keep). */
export const throwaway: Effect.Effect<Postgres, ThrowawayPostgresError, Scope.Scope> = Effect.acquireRelease(
  Effect.gen(function*() {
    if (!available()) return yield* new ThrowawayPostgresError({ step: "find the server programs", detail: `no initdb in ${binDir} (install PostgreSQL's server package, or set $PG_BIN)` })
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-agents-pg-"))
    if (isRoot()) {
      const { gid, uid } = Fs.statSync("/var/lib/postgresql", { throwIfNoEntry: false }) ?? { uid: 101, gid: 104 }
      Fs.chownSync(dir, uid, gid)
    }
    const dataDir = Path.join(dir, "data")
    yield* run("initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync"])
    const port = yield* freePort
    yield* run("pg_ctl", [
      "-D", dataDir, "-l", Path.join(dir, "log"), "-w", "-t", "60",
      "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      "start"
    ])
    return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, dataDir, dir }
  }),
  ({ dataDir, dir }) =>
    run("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]).pipe(
      Effect.ignore,
      Effect.andThen(Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
    )
)

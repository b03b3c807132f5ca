/**
 * Certificates for the TLS tests, made by `openssl` for each test in a
 * temporary directory removed with the test's scope: a CA, a server
 * certificate it signs for 127.0.0.1 and localhost, and an unrelated CA (one
 * that signed nothing the host has, for the refusals).
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const opensslConfig = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = effect-agents test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
`

/** The PEM texts a TLS test hands to a host and its workers. */
export interface Pki {
  /** The CA that signed the host's certificate. */
  readonly ca: string
  /** A CA that signed nothing the host has. */
  readonly otherCa: string
  /** The host's certificate (127.0.0.1, localhost), signed by `ca`. */
  readonly cert: string
  /** The host certificate's private key. */
  readonly key: string
}

/** A fresh CA, a server certificate it signs (127.0.0.1, localhost) and an unrelated CA, in a directory removed with the scope. */
export const certificates = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-agents-tls-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
).pipe(
  Effect.map((dir): Pki => {
    const file = (name: string) => Path.join(dir, name)
    const openssl = (...args: Array<string>) => ChildProcess.execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    Fs.writeFileSync(file("openssl.cnf"), opensslConfig)
    for (const ca of ["ca", "other-ca"]) {
      openssl("req", "-x509", "-config", "openssl.cnf", "-extensions", "ca", ...ec, "-keyout", `${ca}.key`, "-out", `${ca}.pem`, "-days", "1", "-subj", `/CN=${ca}`)
    }
    openssl("req", "-new", "-config", "openssl.cnf", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    openssl(
      "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
      "-out", "server.pem", "-days", "1", "-extfile", "openssl.cnf", "-extensions", "server"
    )
    const read = (name: string) => Fs.readFileSync(file(name), "utf8")
    return { ca: read("ca.pem"), otherCa: read("other-ca.pem"), cert: read("server.pem"), key: read("server.key") }
  })
)

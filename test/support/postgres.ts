/**
 * A throwaway PostgreSQL for the cluster tests: `ClusterPostgres.throwaway`
 * (initdb + pg_ctl in a temporary directory, on a free port, stopped and
 * removed when the test's scope closes).
 */
import * as ClusterPostgres from "../../src/node/ClusterPostgres.ts"

export { available, binDir, freePort, type Postgres } from "../../src/node/ClusterPostgres.ts"

/** Starts a throwaway PostgreSQL for the life of the scope. */
export const start = ClusterPostgres.throwaway

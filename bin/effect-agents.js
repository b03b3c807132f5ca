#!/usr/bin/env node
// An installed package (inside node_modules) runs the compiled CLI: Node does not strip types there.
// A checkout runs the TypeScript source (Node >= 22.18 strips types), so a stale dist/ left by a build is never used.
import { fileURLToPath } from "node:url"

const installed = fileURLToPath(import.meta.url).split(/[\\/]/).includes("node_modules")
await import(new URL(installed ? "../dist/node/cli.js" : "../src/node/cli.ts", import.meta.url).href)

#!/usr/bin/env node
// The published package runs the compiled CLI; a checkout runs the TypeScript source (Node >= 22.18 strips types).
import { existsSync } from "node:fs"

const compiled = new URL("../dist/node/cli.js", import.meta.url)
await import(existsSync(compiled) ? compiled.href : new URL("../src/node/cli.ts", import.meta.url).href)

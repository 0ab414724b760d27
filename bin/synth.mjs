#!/usr/bin/env node
/**
 * `npm run synth`: bundles main.ts (esbuild, ~50 ms, no type check — `npm test` runs tsc)
 * into one CommonJS file under .synth/ and runs it in this process.
 *
 * Why a bundle and not `tsx main.ts` (docs/adr/0007): Node's ESM loader runs cjs-module-lexer
 * over every CommonJS file it imports, and the provider bindings are large CommonJS files;
 * requiring them from CommonJS halves both the synth time and its peak memory.
 * The bundle sits one directory below the repository root, like the sources, so the
 * `new URL("../config/", import.meta.url)` paths in the sources resolve the same way.
 */
import { buildSync } from "esbuild";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(root, ".synth", "main.cjs");
mkdirSync(dirname(outfile), { recursive: true });
buildSync({
  entryPoints: [join(root, "main.ts")],
  outfile,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  packages: "external",
  logLevel: "error",
  define: { "import.meta.url": "__plue_module_url", "import.meta.dirname": "__dirname" },
  banner: { js: 'const __plue_module_url = require("node:url").pathToFileURL(__filename).href;' },
});
createRequire(import.meta.url)(outfile);

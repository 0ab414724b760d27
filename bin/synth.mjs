#!/usr/bin/env node
/**
 * `npm run synth`: bundles main.ts with esbuild (~50 ms, no type check — `npm test` runs tsc)
 * into one CommonJS module, in memory, and runs it in this process. Nothing is written but the
 * plan itself.
 *
 * Why a bundle and not `tsx main.ts` (docs/adr/0007): Node's ESM loader runs cjs-module-lexer
 * over every CommonJS file it imports, and the provider bindings are large CommonJS files;
 * requiring them from CommonJS halves both the synth time and its peak memory.
 * The module is given a file name one directory below the repository root, like the sources, so
 * the `new URL("../config/", import.meta.url)` paths in the sources resolve the same way and
 * `require` finds the repository's node_modules.
 */
import { buildSync } from "esbuild";
import Module from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const filename = join(root, "bin", "main.bundle.cjs");
const { outputFiles } = buildSync({
  entryPoints: [join(root, "app", "main.ts")],
  outfile: filename,
  write: false,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  packages: "external",
  logLevel: "error",
  define: { "import.meta.url": "__plue_module_url", "import.meta.dirname": "__dirname" },
  banner: { js: 'const __plue_module_url = require("node:url").pathToFileURL(__filename).href;' },
});
const code = outputFiles?.[0]?.text;
if (code === undefined) throw new Error("synth: esbuild produced no output");

const bundle = new Module(filename);
bundle.filename = filename;
bundle.paths = Module._nodeModulePaths(dirname(filename));
bundle._compile(code, filename);

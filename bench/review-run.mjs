#!/usr/bin/env node
/**
 * The review as a fresh process, the way the former `bin/synth.mjs` ran the synth: bundles an
 * entry that calls runReview (esbuild, in memory, CommonJS) and runs it. Used by `bench/review-bench.ts`.
 * Usage: node bench/review-run.mjs <plan dir> <out dir> [<diagram cache dir>]   (prints phase timings as JSON)
 */
import { buildSync } from "esbuild";
import Module from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const filename = join(root, "bench", "review-run.bundle.cjs");
const entry = `
const t0 = performance.now();
const { loadConfig } = require("../config/load.ts");
const { runReview } = require("../review/run.ts");
const t1 = performance.now();
runReview({ synthDir: process.argv[2], outDir: process.argv[3], config: loadConfig("example"), today: "2026-12-01", ...(process.argv[4] ? { diagramCacheDir: process.argv[4] } : {}) }).then((r) => {
  process.stdout.write(JSON.stringify({ code: r.code, modulesMs: t1 - t0, reviewMs: performance.now() - t1 }) + "\\n");
});
`;
const { outputFiles } = buildSync({
  stdin: { contents: entry, resolveDir: join(root, "bench"), sourcefile: "review-entry.cjs", loader: "js" },
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
const bundle = new Module(filename);
bundle.filename = filename;
bundle.paths = Module._nodeModulePaths(dirname(filename));
bundle._compile(outputFiles[0].text, filename);

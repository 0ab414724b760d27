/**
 * GitHub's own workflow parser (`@actions/workflow-parser`, the schema the Actions service uses),
 * loaded for tests. The package imports its schema JSON without an import attribute, which Node's
 * ESM loader refuses on every version; esbuild bundles it (JSON included) into one module in a
 * temp file, which is then imported. Offline, about 0.1 s.
 */
import { buildSync } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { REPO_ROOT } from "../../lib/paths.ts";
import type * as Parser from "@actions/workflow-parser";

/** The parser's exports. */
export type WorkflowParser = typeof Parser;

let loaded: Promise<WorkflowParser> | undefined;

/** Loads the parser once per test file. */
export function workflowParser(): Promise<WorkflowParser> {
  loaded ??= (async () => {
    const { outputFiles } = buildSync({
      stdin: { contents: 'export * from "@actions/workflow-parser";', resolveDir: REPO_ROOT, loader: "js" },
      bundle: true,
      write: false,
      format: "cjs",
      platform: "node",
      logLevel: "error",
    });
    const code = outputFiles?.[0]?.text;
    if (code === undefined) throw new Error("workflow parser: esbuild produced no output");
    const dir = mkdtempSync(join(tmpdir(), "plue-workflow-parser-"));
    try {
      const file = join(dir, "workflow-parser.cjs");
      writeFileSync(file, code);
      // Node's own require: the bundle needs no transform.
      return createRequire(import.meta.url)(file) as WorkflowParser;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return loaded;
}

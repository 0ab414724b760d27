/** Global setup: synthesizes the example environment once, through the real entry point. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Directory holding the synthesized example plan (`stacks/`, `k8s/`). */
    planDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const root = mkdtempSync(join(tmpdir(), "plue-plan-"));
  const planDir = join(root, "cdktf.out");
  // Exactly what `npm run synth` runs (see package.json), into a temp directory.
  const run = spawnSync(process.execPath, ["--max-semi-space-size=2", "bin/synth.mjs", "--out", planDir], { encoding: "utf8" });
  if (run.status !== 0) {
    throw new Error(`npm run synth failed (exit ${run.status}):\n${run.stderr}${run.stdout}`);
  }
  project.provide("planDir", planDir);
  return () => rmSync(root, { recursive: true, force: true });
}

/** Global setup: synthesizes the example environment once, exactly as `npm run synth` does. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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
  // Exactly what `npm run synth` runs (package.json's script, read here), into a temp directory.
  const script = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: { synth: string } }).scripts.synth;
  const [node, ...args] = script.split(" ");
  if (node !== "node") throw new Error(`scripts.synth must start with node (got ${script})`);
  const run = spawnSync(process.execPath, [...args, "--out", planDir], { encoding: "utf8" });
  if (run.status !== 0) {
    throw new Error(`npm run synth failed (exit ${run.status}):\n${run.stderr}${run.stdout}`);
  }
  project.provide("planDir", planDir);
  return () => rmSync(root, { recursive: true, force: true });
}

/**
 * The one way tests build the plan for a config other than the example (the global setup
 * synthesizes the example through the real synth command): through the same composition root
 * and the same config-to-props mapping `npm run synth` uses, so no test builds a chart or a
 * stack in a way the product does not.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { App, LocalBackend, TerraformStack } from "cdktf";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCharts, type SchemaInputs } from "../../app/charts.ts";
import { buildPlan, CDKTF_CONTEXT, readSchemaInputs, synthPlan } from "../../app/plan.ts";
import type { PublicCerts } from "../../config/public-certs.ts";
import { loadPublicCerts } from "../../config/public-certs.ts";
import type { PlueConfig } from "../../config/schema.ts";
import type { K8sObject, TfJson } from "./plan.ts";

/** Every chart's objects for `config`, by chart id (the schema Job packages `schema`, default: db/migrations). */
export function chartObjects(config: PlueConfig, schema: SchemaInputs = readSchemaInputs()): Record<string, K8sObject[]> {
  const { charts } = buildCharts(config, schema);
  return Object.fromEntries(charts.map((c) => [c.node.id, c.toJson() as K8sObject[]]));
}

/** The objects of one chart for `config`; fails when the chart does not exist. */
export function chartFor(config: PlueConfig, id: string, schema?: SchemaInputs): K8sObject[] {
  const all = chartObjects(config, schema);
  const found = all[id];
  if (!found) throw new Error(`no chart ${id} (charts: ${Object.keys(all).join(", ")})`);
  return found;
}

/**
 * Builds the whole plan for `config` and returns the named stack as `npm run synth` writes its
 * cdk.tf.json (the same object; only the key order of the file may differ — the plan test proves
 * it for every stack), without writing the other stacks. `certs` default to the environment's
 * committed public certificates.
 */
export function stackFor(config: PlueConfig, name: string, certs: PublicCerts = loadPublicCerts(config)): TfJson {
  const { stacks } = buildPlan(config, certs, join(tmpdir(), "plue-stack-unwritten"));
  const stack = stacks.find((s) => s.node.id === name);
  if (!stack) throw new Error(`no stack ${name} (stacks: ${stacks.map((s) => s.node.id).join(", ")})`);
  stack.prepareStack();
  return JSON.parse(JSON.stringify(stack.toTerraform())) as TfJson;
}

/**
 * Synthesizes the whole plan for `config` into `dir` as `npm run synth` writes it (`manifest.json`,
 * `stacks/`, `k8s/`) and returns `dir`; the caller removes it.
 */
export function synthesizeTo(config: PlueConfig, dir: string, certs: PublicCerts = loadPublicCerts(config)): string {
  synthPlan(config, certs, dir);
  return dir;
}

/**
 * Synthesizes what `build` adds to an empty stack (an app with the plan's cdktf context flags)
 * and returns the stack's cdk.tf.json: how construct tests exercise props the config cannot reach.
 */
export function synthConstruct(build: (scope: TerraformStack) => void): TfJson {
  const dir = mkdtempSync(join(tmpdir(), "plue-construct-"));
  try {
    const app = new App({ outdir: dir, stackTraces: false, context: CDKTF_CONTEXT });
    const stack = new TerraformStack(app, "test");
    new LocalBackend(stack, { path: "test.tfstate" });
    build(stack);
    app.synth();
    return JSON.parse(readFileSync(join(dir, "stacks", "test", "cdk.tf.json"), "utf8")) as TfJson;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

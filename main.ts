/**
 * plue-infra entry point: `npm run synth [-- --env <name>] [--out <dir>]`.
 * Loads and validates `config/<env>.yaml` once, then synthesizes every stack and chart.
 * Nothing is written unless the whole configuration is valid; the output directory is
 * replaced atomically, so a failed synth never leaves a half-written plan behind.
 */
import { existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./config/load.ts";
import { synthPlan } from "./lib/plan.ts";

const HELP = `Usage: npm run synth -- [--env <name>] [--out <dir>]

Synthesizes the whole plan for one environment:
  <out>/stacks/<stack>/cdk.tf.json   every cdktf stack
  <out>/k8s/<chart>.k8s.yaml         every cdk8s chart

Options:
  --env <name>   environment file config/<name>.yaml (default: example)
  --out <dir>    output directory (default: cdktf.out)
  -h, --help     show this help

Exit codes: 0 synthesized; 2 invalid arguments or configuration (nothing written);
1 internal failure (nothing written).`;

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function main(): void {
  let values: { env?: string; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { env: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
      allowPositionals: false,
    }));
  } catch (e) {
    fail(`synth: ${(e as Error).message}\n\n${HELP}`, 2);
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const env = values.env ?? "example";
  const out = resolve(values.out ?? "cdktf.out");

  let config;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      fail(`${e.problems.length} problem${e.problems.length === 1 ? "" : "s"} in the configuration; nothing was written:\n${e.message}`, 2);
    }
    throw e;
  }

  // Synthesize next to the target, then swap: `out` is either the old plan or the new one.
  const staging = mkdtempSync(resolve(dirname(out), `.${basename(out)}.staging-`));
  try {
    synthPlan(config, staging);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    fail(`synth: failed, nothing was written: ${(e as Error).message}`, 1);
  }
  const previous = `${staging}.previous`;
  if (existsSync(out)) renameSync(out, previous);
  renameSync(staging, out);
  rmSync(previous, { recursive: true, force: true });
  process.stdout.write(`synthesized environment '${env}' to ${values.out ?? "cdktf.out"}/\n`);
}

main();

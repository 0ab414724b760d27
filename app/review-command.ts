/**
 * `npm run review`: what an engineer reads before merging — the synthesized plan's stacks and
 * charts, the key-material scan, and the connectivity matrix evaluated over the real
 * NetworkPolicies. Exit 1 when a key is found or a flow differs from what the plan promises.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { CONFIG_DIR, ConfigError, loadConfig } from "../config/load.ts";
import type { PlueConfig } from "../config/schema.ts";
import { planMatrix } from "../review/connectivity.ts";
import { scanFiles } from "../review/key-scan.ts";
import { formatMatrix } from "../review/netpol/index.ts";
import type { CommandResult } from "./synth-command.ts";

/** Usage text of `npm run review`. */
export const REVIEW_HELP = `Usage: npm run review -- [--env <name>] [--plan <dir>] [--json]

Reviews a synthesized plan (run \`npm run synth\` first):
  stacks and their resource counts, charts and their objects,
  a scan for private keys and secret values, and the connectivity matrix
  (who may reach whom) evaluated over the synthesized NetworkPolicies.

Options:
  --env <name>   environment the plan was synthesized for (default: example)
  --plan <dir>   synthesized plan directory (default: cdktf.out)
  --json         print the review as JSON
  -h, --help     show this help

Exit codes: 0 clean; 1 key material found or a flow differs from the promise;
2 bad arguments, configuration, or no plan.`;

interface StackSummary {
  readonly name: string;
  readonly backend: string;
  readonly resources: number;
  readonly byType: Record<string, number>;
}

function stacks(plan: string): StackSummary[] {
  const dir = join(plan, "stacks");
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const tf = JSON.parse(readFileSync(join(dir, name, "cdk.tf.json"), "utf8")) as {
        terraform?: { backend?: Record<string, { prefix?: string; path?: string }> };
        resource?: Record<string, Record<string, unknown>>;
      };
      const byType = Object.fromEntries(Object.entries(tf.resource ?? {}).map(([t, r]) => [t, Object.keys(r).length]));
      const [kind, cfg] = Object.entries(tf.terraform?.backend ?? {})[0] ?? ["none", {}];
      return {
        name,
        backend: `${kind} ${cfg.prefix ?? cfg.path ?? ""}`.trim(),
        resources: Object.values(byType).reduce((a, b) => a + b, 0),
        byType,
      };
    });
}

function k8sObjects(plan: string): { chart: string; objects: unknown[] }[] {
  const dir = join(plan, "k8s");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".k8s.yaml"))
    .sort()
    .map((f) => ({
      chart: f.replace(/\.k8s\.yaml$/, ""),
      objects: parseAllDocuments(readFileSync(join(dir, f), "utf8"))
        .map((d) => d.toJS() as unknown)
        .filter((o) => o !== null),
    }));
}

/** Runs `review` with `argv`. Never throws for bad input. */
export function reviewCommand(argv: readonly string[], cwd: string = process.cwd()): CommandResult {
  let values: { env?: string | undefined; plan?: string | undefined; json?: boolean | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { env: { type: "string" }, plan: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: false,
    }));
  } catch (e) {
    return { code: 2, stdout: "", stderr: `review: ${(e as Error).message}\n\n${REVIEW_HELP}\n` };
  }
  if (values.help) return { code: 0, stdout: `${REVIEW_HELP}\n`, stderr: "" };
  const env = values.env ?? "example";
  const plan = resolve(cwd, values.plan ?? "cdktf.out");
  if (!existsSync(join(plan, "stacks")) || !existsSync(join(plan, "k8s"))) {
    return {
      code: 2,
      stdout: "",
      stderr: `review: '${values.plan ?? "cdktf.out"}' holds no synthesized plan. Run \`npm run synth -- --env ${env}\` first.\n`,
    };
  }
  let config: PlueConfig;
  try {
    config = loadConfig(env, CONFIG_DIR);
  } catch (e) {
    if (e instanceof ConfigError) return { code: 2, stdout: "", stderr: `${e.message}\n` };
    throw e;
  }

  const stackList = stacks(plan);
  const charts = k8sObjects(plan);
  const secrets = [process.env.PLUE_PKI_PASSPHRASE, process.env.DATABASE_URL].filter((s): s is string => !!s);
  const findings = scanFiles([plan], plan, secrets);
  const rows = planMatrix(
    charts.flatMap((c) => c.objects),
    config,
  );
  const deviations = rows.filter((r) => r.allowed !== (r.expect === "allow"));
  const clean = findings.length === 0 && deviations.length === 0;

  if (values.json) {
    const report = {
      environment: env,
      stacks: stackList,
      charts: charts.map((c) => ({ name: c.chart, objects: c.objects.length })),
      keyMaterial: findings,
      connectivity: rows,
      deviations,
      clean,
    };
    return { code: clean ? 0 : 1, stdout: `${JSON.stringify(report, null, 2)}\n`, stderr: "" };
  }
  const out: string[] = [`plan ${values.plan ?? "cdktf.out"} (environment ${env})`, "", "stacks:"];
  for (const s of stackList) out.push(`  ${s.name.padEnd(10)} ${String(s.resources).padStart(4)} resources   backend ${s.backend}`);
  out.push("", "charts:");
  for (const c of charts) out.push(`  ${c.chart.padEnd(18)} ${String(c.objects.length).padStart(3)} objects`);
  out.push("", findings.length === 0 ? "key material: none found" : `key material: ${findings.length} FOUND`);
  for (const f of findings) out.push(`  ${f.file}:${f.line}: ${f.what}`);
  out.push(
    "",
    `connectivity (${rows.length} flows; ${deviations.length === 0 ? "all as promised" : `${deviations.length} NOT AS PROMISED`}):`,
  );
  out.push(formatMatrix(rows));
  for (const d of deviations) out.push(`  expected ${d.expect}: ${d.from} -> ${d.to}:${d.port}/${d.protocol} (${d.reason})`);
  return { code: clean ? 0 : 1, stdout: `${out.join("\n")}\n`, stderr: "" };
}

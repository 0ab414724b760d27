/**
 * The work of `npm run review` (app/review-command.ts): reads a synthesized plan, scans it for
 * key material, evaluates the connectivity matrix over its NetworkPolicies, and prints the
 * report. Exit 1 when a key is found or a flow differs from what the plan promises.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { CONFIG_DIR, ConfigError, loadConfig } from "../config/load.ts";
import type { PlueConfig } from "../config/schema.ts";
import { planMatrix } from "../review/connectivity.ts";
import { scanFiles } from "../review/key-scan.ts";
import { formatMatrix } from "../review/netpol/index.ts";
import { type CliIo, UsageError } from "./cli/kit.ts";

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

/** Options of `npm run review`, as parsed. */
export interface ReviewOptions {
  readonly env?: string;
  readonly plan?: string;
  readonly json?: boolean;
}

/** Reviews; returns the exit code (0 clean, 1 key material or a deviation, 2 no plan or bad configuration). */
export function review(values: ReviewOptions, io: CliIo): number {
  const env = values.env ?? "example";
  const plan = resolve(io.cwd, values.plan ?? "cdktf.out");
  if (!existsSync(join(plan, "stacks")) || !existsSync(join(plan, "k8s"))) {
    throw new UsageError(
      `review: '--plan' holds no synthesized plan (got ${values.plan ?? "cdktf.out"}). Run \`npm run synth -- --env ${env}\` first.`,
    );
  }
  let config: PlueConfig;
  try {
    config = loadConfig(env, CONFIG_DIR);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }

  const stackList = stacks(plan);
  const charts = k8sObjects(plan);
  const secrets = [io.env.PLUE_PKI_PASSPHRASE, io.env.DATABASE_URL].filter((s): s is string => !!s);
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
    io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    return clean ? 0 : 1;
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
  io.stdout(`${out.join("\n")}\n`);
  return clean ? 0 : 1;
}

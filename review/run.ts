/**
 * The review as one function the `review` command calls: runs every rule over the synthesized
 * plan, applies the environment's suppressions, optionally compares with a base commit or reads
 * Terraform plans, renders the diagram, and writes review.md, review.html, review.json and
 * review.sarif. Exit code: 0 every rule passes, 1 a rule fails (or a suppression expired),
 * 2 usage error (nothing written).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { PlueConfig } from "../config/schema.ts";
import { planMatrix } from "./connectivity.ts";
import { BaseError, synthesizeBase } from "./diff/base.ts";
import { diffPlans, readTerraformPlans, type ResourceChange, statefulLosses } from "./diff/plan-diff.ts";
import { loadPlan, type PlanModel } from "./plan-model.ts";
import { objects } from "./rules/helpers.ts";
import { loadGraphviz, renderSvg, svgCachePath, systemDot } from "./report/diagram.ts";
import { formatHtml } from "./report/html.ts";
import type { ChangeSection, ReportedFinding, ReviewReport, RuleOutcome } from "./report/model.ts";
import { type Locate, toSarif } from "./report/sarif.ts";
import { formatMarkdown, formatText } from "./report/text.ts";
import { ALL_RULES } from "./rules/index.ts";
import type { Finding, PostureRule, ReviewContext } from "./rules/types.ts";
import { applySuppressions, resourceKey, type Suppression, type SuppressionOutcome } from "./suppressions.ts";

/** What to review and where to write. */
export interface ReviewOptions {
  /** The synthesized plan directory (`cdktf.out`): manifest.json, stacks/, k8s/. */
  readonly synthDir: string;
  /** The environment's validated configuration (suppressions, production flag, names). */
  readonly config: PlueConfig;
  /** Where the four files go. @default `<synthDir>/review` */
  readonly outDir?: string;
  /** Compare with this git ref, synthesized in a temporary worktree of `repoDir`. @default - no comparison */
  readonly base?: string;
  /** Repository holding `base`. @default the current directory */
  readonly repoDir?: string;
  /** Directory of `terraform show -json` plans, one `<stack>.json` each (instead of `base`). @default - none */
  readonly terraformPlanDir?: string;
  /** The day suppressions are checked against, YYYY-MM-DD. @default today (UTC) */
  readonly today?: string;
  /** Secret values to look for in the plan (key-material rule). @default - none */
  readonly knownSecrets?: readonly string[];
  /** How the plan directory is named in the outputs and SARIF URIs. @default synthDir relative to the current directory */
  readonly planLabel?: string;
  /**
   * Directory caching rendered diagrams by the hash of their DOT, so an unchanged plan skips
   * Graphviz (the command passes node_modules/.cache/plue-review). @default - no cache: always render
   */
  readonly diagramCacheDir?: string;
  /** Rules to run. @default every rule */
  readonly rules?: readonly PostureRule[];
}

/** What the command prints and returns. */
export interface ReviewResult {
  /** 0 passed, 1 a rule failed or a suppression expired, 2 usage error. */
  readonly code: 0 | 1 | 2;
  /** Terminal text (stdout for code 0/1, the error for code 2). */
  readonly text: string;
  /** Files written (absolute), in a stable order; none for code 2. */
  readonly outputs: readonly string[];
  readonly report?: ReviewReport;
}

/** A failure for bad input: message and code 2, nothing written. */
function usage(message: string): ReviewResult {
  return { code: 2, text: `review: ${message}\n`, outputs: [] };
}

/** Locates findings in the synthesized files: the line of a resource's block, or of an object's name. */
function locator(plan: PlanModel): Locate {
  const cache = new Map<string, string[]>();
  const lines = (file: string) => {
    if (!cache.has(file)) cache.set(file, existsSync(join(plan.dir, file)) ? readFileSync(join(plan.dir, file), "utf8").split("\n") : []);
    return cache.get(file) as string[];
  };
  return (stack, address) => {
    if (stack) {
      const file = `stacks/${stack}/cdk.tf.json`;
      const name = address
        .replace(/^data\./, "")
        .split(".")
        .slice(1)
        .join(".");
      const idx = name ? lines(file).findIndex((l) => l.trimStart().startsWith(`${JSON.stringify(name)}: {`)) : -1;
      return { file, line: idx >= 0 ? idx + 1 : 1 };
    }
    const m = /^k8s\/([^:]+): \S+ (?:[^/\s]+\/)?(\S+)$/.exec(address);
    if (!m) return undefined;
    const file = `k8s/${m[1]}`;
    const idx = lines(file).findIndex((l) => l.trim() === `name: ${m[2]}`);
    return { file, line: idx >= 0 ? idx + 1 : 1 };
  };
}

function counts(changes: readonly ResourceChange[]): ChangeSection["counts"] {
  const n = (a: ResourceChange["action"]) => changes.filter((c) => c.action === a).length;
  return { create: n("create"), update: n("update"), replace: n("replace"), delete: n("delete") };
}

/** Writes `files` into `dir` atomically (a staging directory renamed over the old one). */
function writeAll(dir: string, files: Readonly<Record<string, string>>): string[] {
  mkdirSync(dirname(dir), { recursive: true });
  const staging = `${dir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(staging, name), text);
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return Object.keys(files).map((f) => join(dir, f));
}

/** The findings of `rules` over a plan, with the environment's suppressions applied. */
export interface RuleEvaluation {
  readonly findings: readonly ReportedFinding[];
  readonly outcome: SuppressionOutcome;
  /** No finding fails and no suppression has expired. */
  readonly passed: boolean;
}

/**
 * Runs `rules` over `ctx` and applies `suppressions` as of `today` (YYYY-MM-DD): the posture
 * verdict the review prints and the preflight checklist gates on.
 */
export function evaluateRules(
  ctx: ReviewContext,
  rules: readonly PostureRule[],
  suppressions: readonly Suppression[],
  today: string,
): RuleEvaluation {
  const raw: Finding[] = rules.flatMap((r) => r.check(ctx));
  const outcome = applySuppressions(raw, suppressions, today);
  const suppressedBy = new Map(outcome.suppressed.map((s) => [s.finding, s.suppression]));
  const findings: ReportedFinding[] = raw.map((f) => {
    const s = suppressedBy.get(f);
    return {
      ...f,
      resource: resourceKey(f),
      failing: !s && f.severity !== "info",
      ...(s ? { suppressed: { reason: s.reason, expires: s.expires } } : {}),
    };
  });
  return { findings, outcome, passed: !findings.some((f) => f.failing) && outcome.expired.length === 0 };
}

/** Runs the review. Never throws for bad input (code 2 with the reason). */
export async function runReview(options: ReviewOptions): Promise<ReviewResult> {
  if (options.base !== undefined && options.terraformPlanDir !== undefined) return usage("--base and --plan exclude each other. Pass one.");
  if (!existsSync(join(options.synthDir, "manifest.json"))) {
    return usage(
      `'${options.synthDir}' holds no synthesized plan (got no manifest.json). Run \`npm run synth -- --env ${options.config.environment}\` first.`,
    );
  }
  const plan = loadPlan(options.synthDir);
  const today = options.today ?? new Date().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(today)) return usage(`'today' is not a date (got ${today}). Write it as YYYY-MM-DD.`);

  // What the change does.
  let changes: ChangeSection | undefined;
  if (options.terraformPlanDir !== undefined) {
    if (!existsSync(options.terraformPlanDir))
      return usage(`--plan: '${options.terraformPlanDir}' does not exist. Pass the directory holding <stack>.json plans.`);
    let resources: ResourceChange[];
    try {
      resources = readTerraformPlans(options.terraformPlanDir);
    } catch (e) {
      return usage(`--plan: ${(e as Error).message}`);
    }
    changes = {
      source: "terraform-plan",
      against: options.terraformPlanDir,
      resources,
      statefulLosses: statefulLosses(resources),
      counts: counts(resources),
    };
  } else if (options.base !== undefined) {
    let base: ReturnType<typeof synthesizeBase>;
    try {
      base = synthesizeBase(options.base, options.repoDir ?? process.cwd(), options.config.environment);
    } catch (e) {
      if (e instanceof BaseError) return usage(e.message.replace(/^--base: /, "--base: "));
      throw e;
    }
    try {
      const resources = diffPlans(loadPlan(base.planDir), plan);
      changes = {
        source: "base",
        against: options.base,
        commit: base.commit,
        resources,
        statefulLosses: statefulLosses(resources),
        counts: counts(resources),
      };
    } finally {
      base.cleanup();
    }
  }

  // The diagram first: when it is not cached, Graphviz loads (WASM compile) while the rules run.
  const ctx = { plan, config: options.config, knownSecrets: options.knownSecrets ?? [] };
  const rows = planMatrix(
    objects(ctx).map((a) => a.object),
    options.config,
  );
  const dot = systemDot(plan, rows);
  if (!options.diagramCacheDir || !existsSync(svgCachePath(options.diagramCacheDir, dot))) loadGraphviz().catch(() => undefined);

  // The rules.
  const rules = options.rules ?? ALL_RULES;
  const { findings, outcome, passed } = evaluateRules(ctx, rules, options.config.review.suppressions, today);
  const ruleOutcomes: RuleOutcome[] = rules.map((r) => {
    const mine = findings.filter((f) => f.rule === r.id);
    const status = mine.some((f) => f.failing) ? "fail" : mine.some((f) => f.suppressed) ? "suppressed" : mine.length > 0 ? "note" : "pass";
    return {
      id: r.id,
      title: r.title,
      severity: r.severity,
      rationale: r.rationale,
      references: r.references,
      status,
      findings: mine.length,
    };
  });
  const failing = findings.filter((f) => f.failing).length;
  const planLabel = options.planLabel ?? (relative(process.cwd(), options.synthDir) || ".");
  const report: ReviewReport = {
    format: "plue-review/1",
    environment: options.config.environment,
    production: options.config.production,
    plan: planLabel,
    date: today,
    passed,
    summary: {
      rules: rules.length,
      rulesFailed: ruleOutcomes.filter((r) => r.status === "fail").length,
      findings: findings.length,
      failing,
      notes: findings.filter((f) => !f.failing && !f.suppressed).length,
      suppressed: outcome.suppressed.length,
      expiredSuppressions: outcome.expired.length,
      unmatchedSuppressions: outcome.unmatched.length,
    },
    rules: ruleOutcomes,
    findings,
    suppressions: { expired: outcome.expired, unmatched: outcome.unmatched },
    ...(changes ? { changes } : {}),
    connectivity: rows,
  };

  // The outputs.
  const svg = (await renderSvg(dot, options.diagramCacheDir)).replace(/^<\?xml[^>]*>\s*/, "").replace(/^<!DOCTYPE[^>]*>\s*/, "");
  const outDir = options.outDir ?? join(options.synthDir, "review");
  const outputs = writeAll(outDir, {
    "review.md": formatMarkdown(report),
    "review.html": formatHtml(report, svg),
    "review.json": `${JSON.stringify(report, null, 2)}\n`,
    "review.sarif": `${JSON.stringify(toSarif(report, locator(plan), planLabel), null, 2)}\n`,
  });
  const text = `${formatText(report)}wrote ${outputs.map((o) => relative(process.cwd(), o) || o).join(", ")}\n`;
  return { code: passed ? 0 : 1, text, outputs, report };
}

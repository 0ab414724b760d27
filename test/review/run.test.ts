/**
 * runReview over the real synthesized plan: exit codes, suppressions (valid, expired, unmatched),
 * the four outputs, and the SARIF log validated against the OASIS SARIF 2.1.0 schema (vendored:
 * test/review/fixtures/sarif-schema-2.1.0.json, see its README).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv from "ajv-draft-04";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlueConfig } from "../../config/schema.ts";
import { checkReadiness } from "../../review/readiness/index.ts";
import { renderSvg, svgCachePath } from "../../review/report/diagram.ts";
import type { ReportedFinding, ReviewReport } from "../../review/report/model.ts";
import { ALL_RULES } from "../../review/rules/index.ts";
import { runReview, type ReviewResult } from "../../review/run.ts";
import { exampleConfig } from "../support/config.ts";
import { planDir } from "../support/plan.ts";

const work = mkdtempSync(join(tmpdir(), "plue-review-run-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const out = () => join(work, `out-${++n}`);

const config = exampleConfig();
const withSuppressions = (suppressions: PlueConfig["review"]["suppressions"]): PlueConfig => ({ ...config, review: { suppressions } });

/** Today's failing findings of the real plan: the apply-time traps of issue 11 (DR rules, error and warning). */
const readinessFailures = () => checkReadiness(planDir()).filter((f) => f.severity !== "info");

let first: ReviewResult;
let report: ReviewReport;
beforeAll(async () => {
  first = await runReview({ synthDir: planDir(), config, outDir: out(), today: "2026-12-01" });
  report = first.report as ReviewReport;
});

describe("runReview on the real plan", () => {
  it("passes the real plan: every rule passes, or its findings are the example environment's suppressions", () => {
    expect(readinessFailures()).toEqual([]);
    expect(report.rules.filter((r) => r.status === "fail")).toEqual([]);
    expect(first.code).toBe(0);
    expect(report.findings.filter((f) => f.suppressed).map((f) => [f.rule, f.resource])).toEqual(
      config.review.suppressions.map((s) => [s.rule, s.resource]).sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
    );
    expect(report.suppressions).toEqual({ expired: [], unmatched: [] });
    expect(report.rules.map((r) => r.id)).toEqual(ALL_RULES.map((r) => r.id));
  });

  it("lists the suppressed findings with their reasons on the terminal, and the verdict", () => {
    for (const s of config.review.suppressions) expect(first.text).toContain(`  ${s.rule} ${s.resource}: until ${s.expires}: ${s.reason}`);
    expect(first.text).toMatch(/\n\d+ rules: \d+ passed, 0 failed; 0 failing findings, \d+ notes, 2 suppressed\nreview passed\n/);
  });

  it("writes review.md, review.html, review.json and review.sarif", () => {
    expect(first.outputs.map((o) => o.split("/").pop())).toEqual(["review.md", "review.html", "review.json", "review.sarif"]);
    for (const o of first.outputs) expect(existsSync(o)).toBe(true);
    const json = JSON.parse(readFileSync(first.outputs[2] as string, "utf8")) as ReviewReport;
    expect(json.format).toBe("plue-review/1");
    expect(json.summary.rules).toBe(ALL_RULES.length);
    expect(json.findings.length).toBe(report.findings.length);
    const md = readFileSync(first.outputs[0] as string, "utf8");
    expect(md).toMatch(/^## Plue review: (passed|FAILED)\n/);
    expect(md).toContain("| rule | severity | resource | finding | fix |");
  });

  it("is the same review twice (no clock, no absolute path in the outputs)", async () => {
    const again = await runReview({ synthDir: planDir(), config, outDir: out(), today: "2026-12-01" });
    for (const [i, o] of again.outputs.entries()) expect(readFileSync(o, "utf8")).toBe(readFileSync(first.outputs[i] as string, "utf8"));
    for (const o of again.outputs) expect(readFileSync(o, "utf8")).not.toContain(work);
  });

  it("writes SARIF 2.1.0 that validates against the OASIS schema, one result per finding with file and line", () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "sarif-schema-2.1.0.json"), "utf8")));
    const sarif = JSON.parse(readFileSync(first.outputs[3] as string, "utf8"));
    expect(validate(sarif), JSON.stringify(validate.errors)).toBe(true);
    expect(sarif.runs[0].tool.driver.rules).toHaveLength(ALL_RULES.length);
    expect(sarif.runs[0].results).toHaveLength(report.findings.length);
    const note = sarif.runs[0].results.find(
      (r: any) => r.ruleId === "DR010" && r.message.text.startsWith("secrets google_secret_manager_secret.secrets_anthropic-api-key"),
    );
    expect(note.level).toBe("note");
    expect(note.locations[0].physicalLocation.artifactLocation).toEqual({ uri: "stacks/secrets/cdk.tf.json", uriBaseId: "PLAN" });
    expect(note.locations[0].logicalLocations[0].fullyQualifiedName).toMatch(
      /^secrets google_secret_manager_secret\.secrets_anthropic-api-key_[0-9A-F]{8}$/,
    );
    const line = readFileSync(join(planDir(), "stacks", "secrets", "cdk.tf.json"), "utf8").split("\n")[
      note.locations[0].physicalLocation.region.startLine - 1
    ];
    expect(line?.trim()).toMatch(/^"secrets_anthropic-api-key_[0-9A-F]{8}": \{$/);
  });

  it("fails the schema check on a broken SARIF log (the validation can fail)", () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "sarif-schema-2.1.0.json"), "utf8")));
    const sarif = JSON.parse(readFileSync(first.outputs[3] as string, "utf8"));
    sarif.runs[0].results[0].level = "fatal";
    expect(validate(sarif)).toBe(false);
  });
});

describe("suppressions from the environment file", () => {
  /** A copy of the real plan whose cluster lost deletion protection (GKE16 fails on it). */
  let broken: string;
  let failing: ReportedFinding[];
  beforeAll(async () => {
    broken = join(work, "broken-plan");
    cpSync(planDir(), broken, { recursive: true });
    const file = join(broken, "stacks", "cluster", "cdk.tf.json");
    const tf = JSON.parse(readFileSync(file, "utf8"));
    for (const c of Object.values(tf.resource.google_container_cluster) as Record<string, unknown>[]) c.deletion_protection = false;
    writeFileSync(file, JSON.stringify(tf, null, 2));
    const r = await runReview({ synthDir: broken, config: withSuppressions([]), outDir: out(), today: "2026-12-01" });
    failing = (r.report?.findings ?? []).filter((f) => f.failing);
    expect(r.code).toBe(1);
    expect(failing.map((f) => f.rule)).toContain("GKE16");
  });
  const suppress = (expires: string) =>
    failing.map((f) => ({ rule: f.rule, resource: f.resource, reason: "accepted for the test until the fix lands", expires }));

  it("suppress every failing finding until their date: exit 0, each listed with its reason", async () => {
    const sup = suppress("2026-12-31");
    const r = await runReview({ synthDir: broken, config: withSuppressions(sup), outDir: out(), today: "2026-12-31" });
    expect(r.code).toBe(0);
    expect(r.report?.summary.suppressed).toBe(sup.length);
    expect(r.text).toContain("review passed");
    expect(r.text).toContain(`suppressed (${sup.length}):`);
    const sarif = JSON.parse(readFileSync(r.outputs[3] as string, "utf8"));
    expect(sarif.runs[0].results.filter((x: any) => x.suppressions).length).toBe(sup.length);
  });

  it("fail the review once expired, naming the suppression, and stop covering the finding", async () => {
    const sup = suppress("2026-11-30");
    const r = await runReview({ synthDir: broken, config: withSuppressions(sup), outDir: out(), today: "2026-12-01" });
    expect(r.code).toBe(1);
    expect(r.text).toContain(`EXPIRED suppression GKE16 ${failing.find((f) => f.rule === "GKE16")?.resource} (expired 2026-11-30)`);
    expect(r.report?.summary.suppressed).toBe(0);
    expect(r.report?.summary.expiredSuppressions).toBe(sup.length);
  });

  it("report a suppression that matches nothing, without failing for it", async () => {
    const stale = {
      rule: "GKE01",
      resource: "cluster google_container_cluster.gone",
      reason: "a cluster that no longer exists",
      expires: "2027-01-01",
    };
    const r = await runReview({
      synthDir: broken,
      config: withSuppressions([...suppress("2027-01-01"), stale]),
      outDir: out(),
      today: "2026-12-01",
    });
    expect(r.code).toBe(0);
    expect(r.text).toContain("unmatched suppression GKE01 cluster google_container_cluster.gone: matches no finding");
    expect(r.report?.suppressions.unmatched).toEqual([stale]);
  });
});

describe("the diagram cache", () => {
  it("renders into the cache on a miss and reuses the SVG of the same DOT on a hit", async () => {
    const cacheDir = join(work, "diagram-cache");
    const dot = 'digraph { "a" -> "b"; }\n';
    const svg = await renderSvg(dot, cacheDir);
    expect(svg).toContain("<svg");
    expect(readFileSync(svgCachePath(cacheDir, dot), "utf8")).toBe(svg);
    writeFileSync(svgCachePath(cacheDir, dot), "<svg><!-- from the cache --></svg>");
    expect(await renderSvg(dot, cacheDir)).toBe("<svg><!-- from the cache --></svg>");
    expect(await renderSvg('digraph { "a" -> "c"; }\n', cacheDir)).toContain("<svg");
    expect(readdirSync(cacheDir)).toHaveLength(2);
  });

  it("gives runReview the same page with and without the cache", async () => {
    const cacheDir = join(work, "review-cache");
    const a = await runReview({ synthDir: planDir(), config, outDir: out(), today: "2026-12-01", diagramCacheDir: cacheDir });
    const b = await runReview({ synthDir: planDir(), config, outDir: out(), today: "2026-12-01", diagramCacheDir: cacheDir });
    expect(readdirSync(cacheDir)).toHaveLength(1);
    expect(readFileSync(b.outputs[1] as string, "utf8")).toBe(readFileSync(a.outputs[1] as string, "utf8"));
    expect(readFileSync(a.outputs[1] as string, "utf8")).toBe(readFileSync(first.outputs[1] as string, "utf8"));
  });
});

describe("usage errors (exit 2, nothing written)", () => {
  it("no synthesized plan", async () => {
    const dir = out();
    const r = await runReview({ synthDir: join(work, "nothing"), config, outDir: dir });
    expect(r).toEqual({
      code: 2,
      text: expect.stringContaining("holds no synthesized plan (got no manifest.json). Run `npm run synth -- --env example` first."),
      outputs: [],
    });
    expect(existsSync(dir)).toBe(false);
  });

  it("--base and --plan together", async () => {
    const r = await runReview({ synthDir: planDir(), config, base: "HEAD", terraformPlanDir: work, outDir: out() });
    expect(r.code).toBe(2);
    expect(r.text).toContain("--base and --plan exclude each other");
  });

  it("--base that is not a commit", async () => {
    const r = await runReview({ synthDir: planDir(), config, base: "no-such-ref-anywhere", outDir: out() });
    expect(r.code).toBe(2);
    expect(r.text).toContain("--base: 'no-such-ref-anywhere' is not a commit of");
  });

  it("--plan directory without plans, and with a file that is not a Terraform plan", async () => {
    const empty = join(work, "plans-empty");
    mkdirSync(empty);
    expect((await runReview({ synthDir: planDir(), config, terraformPlanDir: empty, outDir: out() })).text).toContain(
      "holds no <stack>.json (got no file)",
    );
    const bad = join(work, "plans-bad");
    mkdirSync(bad);
    writeFileSync(join(bad, "cluster.json"), JSON.stringify({ format_version: "1.2" }));
    const r = await runReview({ synthDir: planDir(), config, terraformPlanDir: bad, outDir: out() });
    expect(r.code).toBe(2);
    expect(r.text).toContain("cluster.json: has no 'resource_changes' (got format_version)");
  });
});

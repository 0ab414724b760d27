/** The review as terminal text and as Markdown (a CI job summary or a pull-request comment). */
import type { ResourceChange } from "../diff/plan-diff.ts";
import type { ChangeSection, ReportedFinding, ReviewReport } from "./model.ts";

function changeLine(c: ResourceChange): string {
  const why = c.action === "replace" ? ` (ForceNew: ${c.replaceBecause.join(", ")})` : "";
  const may = c.mayReplaceBecause.length > 0 ? ` (may replace: ${c.mayReplaceBecause.join(", ")})` : "";
  const attrs = c.action === "update" || c.action === "replace" ? `: ${c.attributes.join(", ")}` : "";
  return `${c.action.padEnd(7)} ${c.stack} ${c.address}${attrs}${why}${may}${c.unknownType ? " (type not in the ForceNew table)" : ""}`;
}

function countsLine(c: ChangeSection): string {
  return `${c.counts.create} to add, ${c.counts.update} to change, ${c.counts.replace} to replace, ${c.counts.delete} to destroy`;
}

/** Terminal text: failures first, then notes, suppressions, changes and the verdict. */
export function formatText(r: ReviewReport): string {
  const out: string[] = [`review of ${r.plan} (environment ${r.environment}${r.production ? ", production" : ""})`, ""];
  if (r.changes && r.changes.statefulLosses.length > 0) {
    out.push(`STATEFUL RESOURCES DESTROYED OR REPLACED (${r.changes.statefulLosses.length}):`);
    for (const c of r.changes.statefulLosses) out.push(`  ${changeLine(c)}`);
    out.push("");
  }
  const failing = r.findings.filter((f) => f.failing);
  out.push(failing.length === 0 ? "failing findings: none" : `failing findings (${failing.length}):`);
  for (const f of failing)
    out.push(`  ${f.severity === "error" ? "FAIL" : "WARN"} ${f.rule} ${f.resource}: ${f.message}`, `       fix: ${f.fix}`);
  const notes = r.findings.filter((f) => !f.failing && !f.suppressed);
  if (notes.length > 0) {
    out.push("", `notes (${notes.length}, not failures):`);
    for (const f of notes) out.push(`  ${f.rule} ${f.resource}: ${f.message}`);
  }
  const suppressed = r.findings.filter((f) => f.suppressed);
  if (suppressed.length > 0) {
    out.push("", `suppressed (${suppressed.length}):`);
    for (const f of suppressed) out.push(`  ${f.rule} ${f.resource}: until ${f.suppressed?.expires}: ${f.suppressed?.reason}`);
  }
  for (const s of r.suppressions.expired)
    out.push(`  EXPIRED suppression ${s.rule} ${s.resource} (expired ${s.expires}): renew it with a reason, or fix the finding`);
  for (const s of r.suppressions.unmatched)
    out.push(`  unmatched suppression ${s.rule} ${s.resource}: matches no finding; remove it from review.suppressions`);
  if (r.changes) {
    out.push(
      "",
      `changes against ${r.changes.against}${r.changes.commit ? ` (${r.changes.commit.slice(0, 12)})` : ""}: ${countsLine(r.changes)}`,
    );
    for (const c of r.changes.resources) out.push(`  ${changeLine(c)}`);
  }
  out.push(
    "",
    `${r.summary.rules} rules: ${r.summary.rules - r.summary.rulesFailed} passed, ${r.summary.rulesFailed} failed; ${r.summary.failing} failing findings, ${r.summary.notes} notes, ${r.summary.suppressed} suppressed`,
    r.passed ? "review passed" : "review FAILED",
  );
  return `${out.join("\n")}\n`;
}

/** Escapes text for a Markdown table cell. */
function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function findingRows(fs: readonly ReportedFinding[]): string[] {
  return [
    "| rule | severity | resource | finding | fix |",
    "| --- | --- | --- | --- | --- |",
    ...fs.map((f) => `| ${f.rule} | ${f.severity} | \`${cell(f.resource)}\` | ${cell(f.message)} | ${cell(f.fix)} |`),
  ];
}

/** Markdown for a CI job summary or a pull-request comment. */
export function formatMarkdown(r: ReviewReport): string {
  const out: string[] = [`## Plue review: ${r.passed ? "passed" : "FAILED"}`, ""];
  out.push(
    `Environment \`${r.environment}\`${r.production ? " (production)" : ""}. ${r.summary.rules} rules: ${r.summary.rules - r.summary.rulesFailed} passed, **${r.summary.rulesFailed} failed**; ${r.summary.failing} failing findings, ${r.summary.notes} notes, ${r.summary.suppressed} suppressed.`,
    "",
  );
  if (r.changes) {
    if (r.changes.statefulLosses.length > 0) {
      out.push(`> [!CAUTION]`, `> This change destroys or replaces ${r.changes.statefulLosses.length} stateful resource(s):`);
      for (const c of r.changes.statefulLosses)
        out.push(
          `> - **${c.action}** \`${c.stack} ${c.address}\`${c.replaceBecause.length > 0 ? ` (ForceNew: ${c.replaceBecause.join(", ")})` : ""}`,
        );
      out.push("");
    }
    out.push(`### What the change does (against \`${r.changes.against}\`)`, "", countsLine(r.changes), "");
    if (r.changes.resources.length > 0) {
      out.push("| action | stack | resource | attributes | replaced because |", "| --- | --- | --- | --- | --- |");
      for (const c of r.changes.resources) {
        out.push(
          `| ${c.action} | ${c.stack} | \`${cell(c.address)}\` | ${cell(c.attributes.join(", "))} | ${cell([...c.replaceBecause, ...c.mayReplaceBecause.map((m) => `${m} (maybe)`)].join(", "))} |`,
        );
      }
      out.push("");
    }
  }
  const failing = r.findings.filter((f) => f.failing);
  out.push("### Failing findings", "", ...(failing.length === 0 ? ["None."] : findingRows(failing)), "");
  if (r.suppressions.expired.length + r.suppressions.unmatched.length > 0) {
    out.push("### Suppressions to look at", "");
    for (const s of r.suppressions.expired) out.push(`- **expired** ${s.rule} \`${s.resource}\` (${s.expires}): ${s.reason}`);
    for (const s of r.suppressions.unmatched) out.push(`- unmatched ${s.rule} \`${s.resource}\`: matches no finding`);
    out.push("");
  }
  const notes = r.findings.filter((f) => !f.failing && !f.suppressed);
  const suppressed = r.findings.filter((f) => f.suppressed);
  if (notes.length > 0) out.push(`<details><summary>Notes (${notes.length})</summary>`, "", ...findingRows(notes), "", "</details>", "");
  if (suppressed.length > 0) {
    out.push(
      `<details><summary>Suppressed (${suppressed.length})</summary>`,
      "",
      "| rule | resource | until | reason |",
      "| --- | --- | --- | --- |",
    );
    for (const f of suppressed)
      out.push(`| ${f.rule} | \`${cell(f.resource)}\` | ${f.suppressed?.expires} | ${cell(f.suppressed?.reason ?? "")} |`);
    out.push("", "</details>", "");
  }
  out.push(`<details><summary>Rules (${r.rules.length})</summary>`, "", "| rule | status | title |", "| --- | --- | --- |");
  for (const x of r.rules) out.push(`| ${x.id} | ${x.status} | ${cell(x.title)} |`);
  out.push("", "</details>", "");
  return out.join("\n");
}

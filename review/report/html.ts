/** The review as one self-contained HTML page: the diagram (inline SVG), the findings, the changes. */
import type { ReportedFinding, ReviewReport } from "./model.ts";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function findingTable(fs: readonly ReportedFinding[]): string {
  if (fs.length === 0) return "<p>None.</p>";
  return `<table><thead><tr><th>rule</th><th>severity</th><th>resource</th><th>finding</th><th>fix</th></tr></thead><tbody>${fs
    .map(
      (f) =>
        `<tr class="${esc(f.severity)}"><td>${esc(f.rule)}</td><td>${esc(f.severity)}</td><td><code>${esc(f.resource)}</code></td><td>${esc(f.message)}</td><td>${esc(f.fix)}</td></tr>`,
    )
    .join("")}</tbody></table>`;
}

/** The page; `svg` is the rendered diagram (no external resource is referenced). */
export function formatHtml(r: ReviewReport, svg: string): string {
  const failing = r.findings.filter((f) => f.failing);
  const notes = r.findings.filter((f) => !f.failing && !f.suppressed);
  const changes = r.changes
    ? `<h2>What the change does (against ${esc(r.changes.against)})</h2>${
        r.changes.statefulLosses.length > 0
          ? `<p class="caution">Destroys or replaces stateful resources: ${r.changes.statefulLosses.map((c) => `<code>${esc(`${c.stack} ${c.address}`)}</code> (${esc(c.action)})`).join(", ")}</p>`
          : ""
      }<table><thead><tr><th>action</th><th>stack</th><th>resource</th><th>attributes</th><th>replaced because</th></tr></thead><tbody>${r.changes.resources
        .map(
          (c) =>
            `<tr><td>${esc(c.action)}</td><td>${esc(c.stack)}</td><td><code>${esc(c.address)}</code></td><td>${esc(c.attributes.join(", "))}</td><td>${esc(c.replaceBecause.join(", "))}</td></tr>`,
        )
        .join("")}</tbody></table>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Plue review: ${r.passed ? "passed" : "FAILED"} (${esc(r.environment)})</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 Helvetica,Arial,sans-serif;margin:24px;color:#1d2733;background:#fff}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
.verdict{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff;background:${r.passed ? "#2e7d32" : "#c62828"}}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border:1px solid #d5dbe3;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef3fb}tr.error td:nth-child(2){color:#c62828}tr.warning td:nth-child(2){color:#b26a00}
code{font-size:12px}.caution{border-left:4px solid #c62828;padding:6px 10px;background:#fdecea}
#diagram svg{max-width:100%;height:auto}
</style></head><body>
<h1>Plue review <span class="verdict">${r.passed ? "passed" : "FAILED"}</span></h1>
<p>Environment <code>${esc(r.environment)}</code>${r.production ? " (production)" : ""}; plan <code>${esc(r.plan)}</code>; ${r.summary.rules} rules, ${r.summary.rulesFailed} failed; ${r.summary.failing} failing findings, ${r.summary.notes} notes, ${r.summary.suppressed} suppressed.</p>
<h2>The system</h2>
<div id="diagram">${svg}</div>
${changes}
<h2>Failing findings</h2>${findingTable(failing)}
<h2>Notes</h2>${findingTable(notes)}
<h2>Rules</h2><table><thead><tr><th>rule</th><th>status</th><th>title</th><th>why</th></tr></thead><tbody>${r.rules
    .map((x) => `<tr><td>${esc(x.id)}</td><td>${esc(x.status)}</td><td>${esc(x.title)}</td><td>${esc(x.rationale)}</td></tr>`)
    .join("")}</tbody></table>
</body></html>
`;
}

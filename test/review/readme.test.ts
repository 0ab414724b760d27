/** The README's rule table is generated from the rules: it must match them exactly. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../lib/paths.ts";
import { RULES_TABLE_END, RULES_TABLE_START, rulesTable, withRulesTable } from "../../review/report/rules-table.ts";
import { ALL_RULES } from "../../review/rules/index.ts";

const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");

describe("README rule table", () => {
  it("is the table of every rule, as generated (run `npm run docs:rules` after changing a rule)", () => {
    expect(withRulesTable(readme, ALL_RULES)).toBe(readme);
    for (const r of ALL_RULES) expect(readme).toContain(`| ${r.id} | ${r.severity} | `);
  });

  it("differs as soon as a rule changes (the check can fail)", () => {
    const changed = ALL_RULES.map((r, i) => (i === 0 ? { ...r, title: `${r.title} (changed)` } : r));
    expect(withRulesTable(readme, changed)).not.toBe(readme);
    expect(rulesTable(changed)).toContain("(changed)");
  });

  it("refuses a README without the markers, naming them", () => {
    expect(() => withRulesTable("# no table here\n", ALL_RULES)).toThrow(
      `README.md: the markers ${RULES_TABLE_START} ... ${RULES_TABLE_END} are missing`,
    );
  });
});

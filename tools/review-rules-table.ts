/** `npm run docs:rules`: rewrites the review's rule table in README.md from the rules themselves. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { withRulesTable } from "../review/report/rules-table.ts";
import { ALL_RULES } from "../review/rules/index.ts";

const readme = join(import.meta.dirname, "..", "README.md");
writeFileSync(readme, withRulesTable(readFileSync(readme, "utf8"), ALL_RULES));
process.stdout.write(`README.md: rule table rewritten (${ALL_RULES.length} rules)\n`);

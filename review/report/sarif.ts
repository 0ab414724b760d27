/**
 * The review as SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/), so code scanning
 * shows the findings: one run, every rule in the driver, one result per finding with its file
 * (the synthesized cdk.tf.json or chart YAML), line and Terraform address; suppressed findings
 * carry a SARIF suppression with the config's reason.
 */
import type { Severity } from "../rules/types.ts";
import type { ReviewReport } from "./model.ts";

/** Where a finding is in the synthesized files: the file (relative to the plan directory) and the line. */
export type Locate = (stack: string | undefined, address: string) => { readonly file: string; readonly line: number } | undefined;

const LEVEL: Readonly<Record<Severity, "error" | "warning" | "note">> = { error: "error", warning: "warning", info: "note" };

/** Builds the SARIF log; `planUri` is the plan directory as a URI relative to the repository (e.g. `cdktf.out`). */
export function toSarif(r: ReviewReport, locate: Locate, planUri: string): object {
  const ruleIndex = new Map(r.rules.map((x, i) => [x.id, i]));
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "plue-review",
            rules: r.rules.map((x) => ({
              id: x.id,
              name: x.title.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : "")),
              shortDescription: { text: x.title },
              fullDescription: { text: x.rationale },
              defaultConfiguration: { level: LEVEL[x.severity] },
              properties: {
                tags: ["security", "iac", ...Object.keys(x.references)],
                references: x.references,
              },
            })),
          },
        },
        originalUriBaseIds: { PLAN: { uri: `${planUri.replace(/\/$/, "")}/` } },
        results: r.findings.map((f) => {
          const where = locate(f.stack, f.address);
          return {
            ruleId: f.rule,
            ruleIndex: ruleIndex.get(f.rule) ?? 0,
            level: LEVEL[f.severity],
            message: { text: `${f.resource}: ${f.message}. Fix: ${f.fix}` },
            locations: [
              {
                ...(where
                  ? { physicalLocation: { artifactLocation: { uri: where.file, uriBaseId: "PLAN" }, region: { startLine: where.line } } }
                  : {}),
                logicalLocations: [{ fullyQualifiedName: f.resource, kind: "resource" }],
              },
            ],
            partialFingerprints: { "plueResource/v1": `${f.rule}:${f.resource}` },
            ...(f.suppressed
              ? {
                  suppressions: [
                    { kind: "external", status: "accepted", justification: `${f.suppressed.reason} (until ${f.suppressed.expires})` },
                  ],
                }
              : {}),
          };
        }),
      },
    ],
  };
}

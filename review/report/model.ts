/** The review as data: what every output (terminal, Markdown, HTML, JSON, SARIF) is rendered from. */
import type { ResourceChange } from "../diff/plan-diff.ts";
import type { MatrixRow } from "../netpol/index.ts";
import type { Finding, References, Severity } from "../rules/types.ts";
import type { Suppression } from "../suppressions.ts";

/** How a rule came out. */
export type RuleStatus = "pass" | "fail" | "note" | "suppressed";

/** One rule and its outcome. */
export interface RuleOutcome {
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  readonly rationale: string;
  readonly references: References;
  readonly status: RuleStatus;
  /** Findings of the rule, suppressed ones included. */
  readonly findings: number;
}

/** A finding as reported: with its printed resource, and its suppression when one covers it. */
export interface ReportedFinding extends Finding {
  /** `<stack> <address>`: what a suppression's `resource` names. */
  readonly resource: string;
  /** True when the finding fails the review (error or warning, not suppressed). */
  readonly failing: boolean;
  readonly suppressed?: { readonly reason: string; readonly expires: string };
}

/** What the change does (present with --base or --plan). */
export interface ChangeSection {
  readonly source: "base" | "terraform-plan";
  /** The base ref and the commit it resolved to (source "base"), or the plan directory. */
  readonly against: string;
  readonly commit?: string;
  readonly resources: readonly ResourceChange[];
  /** Stateful resources destroyed or replaced: called out on top. */
  readonly statefulLosses: readonly ResourceChange[];
  readonly counts: Readonly<Record<"create" | "update" | "replace" | "delete", number>>;
}

/** The whole review. */
export interface ReviewReport {
  readonly format: "plue-review/1";
  readonly environment: string;
  readonly production: boolean;
  /** The synthesized plan directory, as given. */
  readonly plan: string;
  /** The day suppressions were checked against (YYYY-MM-DD, UTC). */
  readonly date: string;
  readonly passed: boolean;
  readonly summary: {
    readonly rules: number;
    readonly rulesFailed: number;
    readonly findings: number;
    readonly failing: number;
    readonly notes: number;
    readonly suppressed: number;
    readonly expiredSuppressions: number;
    readonly unmatchedSuppressions: number;
  };
  readonly rules: readonly RuleOutcome[];
  readonly findings: readonly ReportedFinding[];
  readonly suppressions: { readonly expired: readonly Suppression[]; readonly unmatched: readonly Suppression[] };
  readonly changes?: ChangeSection;
  readonly connectivity: readonly (MatrixRow & { readonly expect: "allow" | "deny" })[];
}

/** Types of the posture review: rules over the synthesized plan, with their references. */
import type { PlueConfig } from "../../config/schema.ts";
import type { PlanModel } from "../plan-model.ts";
import type { Finding, Severity } from "../readiness/types.ts";

export type { Finding, Severity } from "../readiness/types.ts";

/** Where a rule comes from, or what covers the same ground elsewhere. */
export interface References {
  /** CIS GKE Benchmark item (v1.9.0 numbering, as in aquasecurity/kube-bench cfg/gke-1.9.0). */
  readonly cis?: string;
  /** Pod Security Standards control (https://kubernetes.io/docs/concepts/security/pod-security-standards/). */
  readonly pss?: string;
  /** checkov check id(s), when checkov has one. */
  readonly checkov?: string;
  /** kube-linter check name(s), when kube-linter has one. */
  readonly kubeLinter?: string;
  /** Section of the platform's security documents (/work/shared/seeds 000 = Plue Security, 004 = IaC security). */
  readonly seed?: string;
  /** Other source: provider docs, Google docs, an ADR. */
  readonly docs?: string;
}

/** What a rule reads: the synthesized plan and the environment's configuration. */
export interface ReviewContext {
  readonly plan: PlanModel;
  readonly config: PlueConfig;
  /** Secret values to look for in the plan (e.g. a passphrase from the environment). @default - none */
  readonly knownSecrets?: readonly string[];
}

/** One posture rule. */
export interface PostureRule {
  /** Stable id (`GKE01`, `SQL02`, `DR004`, ...): suppressions and SARIF name it. */
  readonly id: string;
  /** What the rule requires, in a few words. */
  readonly title: string;
  readonly severity: Severity;
  /** Why, in one line. */
  readonly rationale: string;
  readonly references: References;
  /** Pure: reads only the context. */
  readonly check: (ctx: ReviewContext) => Finding[];
}

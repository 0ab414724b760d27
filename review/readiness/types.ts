/** Types of the deploy-readiness check: findings and rules. */
import type { PlanModel } from "../plan-model.ts";

/**
 * How bad a finding is:
 * - `error`: the first apply (or the next one) fails, or a resource is lost; fix before deploying.
 * - `warning`: likely to fail or degrade at runtime (propagation delays, capacity), or hides a failure.
 * - `info`: an ordering or out-of-band step the deploy depends on; documented, not a defect.
 */
export type Severity = "error" | "warning" | "info";

/** One trap found in the plan. */
export interface Finding {
  /** Rule id, e.g. `DR001`. */
  readonly rule: string;
  readonly severity: Severity;
  /** Stack the resource belongs to (`undefined` for a chart object outside every stack). */
  readonly stack: string | undefined;
  /** Terraform address within the stack (`type.name`, `data.type.name`) or `k8s/<file>: Kind ns/name`. */
  readonly address: string;
  /** What happens at plan or apply time. */
  readonly message: string;
  /** What the plan should change. */
  readonly fix: string;
}

/** One class of apply-time trap. */
export interface Rule {
  /** Stable id (`DR` + three digits). */
  readonly id: string;
  /** The class of trap, in a few words. */
  readonly title: string;
  /** Why it is a trap, in one line. */
  readonly rationale: string;
  /** Where that is documented or implemented (URL, or repository path at a tag). */
  readonly source: string;
  /** Severity of its findings (some rules also emit `info` for documented orderings). */
  readonly severity: Severity;
  /** Pure: reads only the model. */
  readonly check: (plan: PlanModel) => Finding[];
}

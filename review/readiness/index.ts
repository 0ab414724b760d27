/**
 * The deploy-readiness check: one rule per class of apply-time trap (docs/adr/0010), run over a
 * synthesized plan directory. Pure: it reads the plan's files and nothing else.
 */
import { apisEnabled, retiredValues } from "./rules/apis.ts";
import { capacityContradictions, perZoneLookups } from "./rules/capacity.ts";
import { grantPropagation, handBuiltIdentities, implicitDefaultIdentities } from "./rules/identity.ts";
import { controllerOwnedFields, serverManagedFields, unawaitedReadiness } from "./rules/kubernetes.ts";
import { outOfBandInputs, plannedAfterPredecessors, sameStackReads } from "./rules/ordering.ts";
import { noRenewalTrigger, replacedWhileInUse } from "./rules/replacement.ts";
import { loadPlan, type PlanModel } from "../plan-model.ts";
import type { Finding, Rule, Severity } from "./types.ts";

export type { Finding, Rule, Severity } from "./types.ts";
export { loadPlan, type PlanModel } from "../plan-model.ts";

/** Every rule, in id order. */
export const RULES: readonly Rule[] = [
  serverManagedFields,
  handBuiltIdentities,
  sameStackReads,
  replacedWhileInUse,
  apisEnabled,
  controllerOwnedFields,
  perZoneLookups,
  capacityContradictions,
  plannedAfterPredecessors,
  outOfBandInputs,
  grantPropagation,
  retiredValues,
  implicitDefaultIdentities,
  unawaitedReadiness,
  noRenewalTrigger,
];

const ORDER: Readonly<Record<Severity, number>> = { error: 0, warning: 1, info: 2 };

/** Runs `rules` over a loaded plan; findings sorted by rule, stack, address. */
export function checkPlan(plan: PlanModel, rules: readonly Rule[] = RULES): Finding[] {
  return rules
    .flatMap((r) => r.check(plan))
    .sort(
      (a, b) =>
        a.rule.localeCompare(b.rule) ||
        ORDER[a.severity] - ORDER[b.severity] ||
        (a.stack ?? "").localeCompare(b.stack ?? "") ||
        a.address.localeCompare(b.address) ||
        a.message.localeCompare(b.message),
    );
}

/** Reads the synthesized plan in `planDir` and returns every finding of every rule. */
export function checkReadiness(planDir: string): Finding[] {
  return checkPlan(loadPlan(planDir));
}

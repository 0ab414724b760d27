/** Admission: the policies that enforce the runner template, and Pod Security Admission. */
import { finding, get, list, namespaces, objectsOfKind } from "./helpers.ts";
import type { Finding, PostureRule } from "./types.ts";

export const admissionDeny: PostureRule = {
  id: "ADM01",
  title: "admission policies fail closed and are bound in Deny mode",
  severity: "error",
  rationale:
    "a ValidatingAdmissionPolicy enforces only through a binding with validationActions Deny, and only fails closed with failurePolicy Fail; Warn/Audit or Ignore let a drifting runner pod through",
  references: {
    docs: "https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/",
    seed: "000 Sandboxed Execution (gVisor): Defense in Depth",
  },
  check(ctx) {
    const policies = objectsOfKind(ctx, "ValidatingAdmissionPolicy");
    const bindings = objectsOfKind(ctx, "ValidatingAdmissionPolicyBinding");
    const out: Finding[] = [];
    for (const p of policies) {
      const fp = get(p.object, "spec.failurePolicy");
      if (fp !== undefined && fp !== "Fail")
        out.push(finding(admissionDeny, p, `failurePolicy is ${JSON.stringify(fp)}`, "failurePolicy: Fail"));
      const mine = bindings.filter((b) => get(b.object, "spec.policyName") === p.object.metadata.name);
      if (mine.length === 0)
        out.push(
          finding(
            admissionDeny,
            p,
            `no ValidatingAdmissionPolicyBinding names ${p.object.metadata.name}: it enforces nothing`,
            "bind it with validationActions [Deny]",
          ),
        );
    }
    for (const b of bindings) {
      const actions = list(b.object, "spec.validationActions");
      if (!actions.includes("Deny"))
        out.push(
          finding(admissionDeny, b, `validationActions ${JSON.stringify(actions)} does not include Deny`, "validationActions: [Deny]"),
        );
      if (!policies.some((p) => p.object.metadata.name === get(b.object, "spec.policyName"))) {
        out.push(
          finding(
            admissionDeny,
            b,
            `binds ${String(get(b.object, "spec.policyName"))}, which the plan does not define`,
            "name a policy of the plan",
          ),
        );
      }
    }
    return out;
  },
};

export const podSecurityAdmission: PostureRule = {
  id: "ADM02",
  title: "Pod Security Admission enforces restricted in every namespace the plan creates",
  severity: "error",
  rationale: "the API server itself refuses a pod that breaks the restricted profile, whatever created it (a chart, an operator, a person)",
  references: { cis: "4.2.1", pss: "Restricted (https://kubernetes.io/docs/concepts/security/pod-security-admission/)" },
  check: (ctx) =>
    namespaces(ctx).flatMap((ns) =>
      ns.labels["pod-security.kubernetes.io/enforce"] === "restricted"
        ? []
        : [
            finding(
              podSecurityAdmission,
              ns.target,
              `namespace ${ns.name}: pod-security.kubernetes.io/enforce is ${JSON.stringify(ns.labels["pod-security.kubernetes.io/enforce"])}`,
              "label it pod-security.kubernetes.io/enforce: restricted",
            ),
          ],
    ),
};

/** Every admission rule, in id order. */
export const ADMISSION_RULES: readonly PostureRule[] = [admissionDeny, podSecurityAdmission];

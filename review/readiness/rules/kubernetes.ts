/**
 * Rules about Kubernetes objects applied as `kubernetes_manifest` (hashicorp/kubernetes 2.38.0
 * `manifest/`): what the API server or a controller writes into fields the manifest also sets,
 * and what the apply waits for.
 */
import { type AppliedObject, appliedObjects, at, dependsOn, type Json, type K8sObject } from "../../plan-model.ts";
import { canonicalQuantity } from "../../../lib/quantity.ts";
import type { Finding, Rule } from "../types.ts";

/** `computed_fields` when the resource sets none (manifest/provider/plan.go: the default is replaced, not extended, when set). */
export const DEFAULT_COMPUTED_FIELDS = ["metadata.annotations", "metadata.labels"] as const;

/** A field the server writes, by kind, with why. */
interface ServerManaged {
  readonly path: string;
  readonly why: string;
  /** Only when the object matches (e.g. a Service with a NEG annotation). @default - always */
  readonly when?: (o: K8sObject) => boolean;
}

/** Fields the API server or a controller rewrites after the apply, when the manifest sets them. */
export const SERVER_MANAGED: Readonly<Record<string, readonly ServerManaged[]>> = {
  Job: [
    {
      path: "spec.template.metadata.labels",
      why: "the API server adds job-name, controller-uid and their batch.kubernetes.io/ forms (pkg/registry/batch/job/strategy.go generateSelector)",
    },
    { path: "spec.selector", why: "the API server generates the selector (generateSelector) unless manualSelector is set" },
  ],
  Namespace: [{ path: "metadata.labels", why: "the API server adds kubernetes.io/metadata.name" }],
  Service: [
    {
      path: "metadata.annotations",
      why: "the GKE NEG controller writes cloud.google.com/neg-status",
      when: (o) => o.metadata?.annotations?.["cloud.google.com/neg"] !== undefined,
    },
  ],
};

/** Map keys under which every string value is a resource quantity. */
const QUANTITY_MAPS = new Set([
  "limits",
  "requests",
  "hard",
  "default",
  "defaultRequest",
  "max",
  "min",
  "maxLimitRequestRatio",
  "overhead",
]);
/** Keys whose value is one quantity. */
const QUANTITY_KEYS = new Set(["sizeLimit"]);

/** Every (path, value) of a quantity field in `v`. */
function quantities(v: unknown, path = ""): { path: string; value: unknown }[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => quantities(x, `${path}[${i}]`));
  if (v === null || typeof v !== "object") return [];
  return Object.entries(v as Json).flatMap(([k, x]) => {
    const p = path === "" ? k : `${path}.${k}`;
    if (QUANTITY_KEYS.has(k) && (typeof x === "string" || typeof x === "number")) return [{ path: p, value: x }];
    if (QUANTITY_MAPS.has(k) && x !== null && typeof x === "object" && !Array.isArray(x)) {
      return Object.entries(x as Json).flatMap(([q, val]) =>
        typeof val === "string" || typeof val === "number" ? [{ path: `${p}.${q}`, value: val }] : quantities(val, `${p}.${q}`),
      );
    }
    return quantities(x, p);
  });
}

function manifests(plan: Parameters<Rule["check"]>[0]): AppliedObject[] {
  return appliedObjects(plan).filter((a) => a.block !== undefined);
}

/** DR001: fields the server rewrites are set in a `kubernetes_manifest` without being in `computed_fields`. */
export const serverManagedFields: Rule = {
  id: "DR001",
  title: "server-rewritten fields of kubernetes_manifest",
  rationale:
    "kubernetes_manifest plans every field it sets as known; when the API server adds to or rewrites one (a Job's template labels, a Namespace's labels, a NEG status annotation, a non-canonical quantity) the apply ends in 'Provider produced inconsistent result after apply' unless the path is in computed_fields, whose default (metadata.labels, metadata.annotations) is replaced, not extended, when set",
  source:
    "https://github.com/hashicorp/terraform-provider-kubernetes/blob/v2.38.0/manifest/provider/plan.go (computed_fields default, L206-238); https://github.com/hashicorp/terraform-provider-kubernetes/issues/2508",
  severity: "error",
  check(plan) {
    const findings: Finding[] = [];
    for (const a of manifests(plan)) {
      const block = a.block;
      if (!block) continue;
      const declared = block.body.computed_fields;
      const computed = new Set(Array.isArray(declared) ? (declared as string[]) : DEFAULT_COMPUTED_FIELDS);
      for (const f of SERVER_MANAGED[a.object.kind] ?? []) {
        if (at(a.object, f.path) === undefined || computed.has(f.path) || (f.when && !f.when(a.object))) continue;
        const wanted = [...new Set([...computed, f.path])].sort();
        findings.push({
          rule: "DR001",
          severity: "error",
          stack: a.stack,
          address: a.address,
          message: `${a.object.kind} ${a.object.metadata.name} sets ${f.path}, which ${f.why}; the apply reports an inconsistent result${Array.isArray(declared) ? "" : " (computed_fields is not set, so only the default applies)"}`,
          fix: `computed_fields = ${JSON.stringify(wanted)} on this kubernetes_manifest (list the defaults again: setting computed_fields replaces them)`,
        });
      }
      for (const q of quantities(a.object)) {
        const canonical = typeof q.value === "string" ? canonicalQuantity(q.value) : canonicalQuantity(String(q.value));
        if (typeof q.value === "string" && (canonical === undefined || canonical === q.value)) continue;
        findings.push({
          rule: "DR001",
          severity: "error",
          stack: a.stack,
          address: a.address,
          message: `${q.path} is ${JSON.stringify(q.value)}; the API server stores quantities in canonical form (${JSON.stringify(canonical)}), so the apply reports an inconsistent result`,
          fix: `write ${q.path} as the string ${JSON.stringify(canonical)}`,
        });
      }
    }
    return findings;
  },
};

/** Workload kinds whose `spec.replicas` an autoscaler owns. */
const SCALABLE = new Set(["Deployment", "StatefulSet", "ReplicaSet"]);

/** DR006: a manifest sets a field a controller owns (replicas under an HPA). */
export const controllerOwnedFields: Rule = {
  id: "DR006",
  title: "controller-owned fields set in manifests",
  rationale:
    "a HorizontalPodAutoscaler owns spec.replicas of its target (server-side apply records it as the field manager); a manifest that also sets it conflicts on the next apply after a scale, or resets the scale",
  source:
    "https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#migrating-deployments-and-statefulsets-to-horizontal-autoscaling",
  severity: "error",
  check(plan) {
    const objects = appliedObjects(plan);
    const targets = new Set(
      objects
        .filter((a) => a.object.kind === "HorizontalPodAutoscaler")
        .map((a) => {
          const ref = (a.object.spec as Json | undefined)?.scaleTargetRef as Json | undefined;
          return `${a.object.metadata.namespace ?? ""}/${String(ref?.kind)}/${String(ref?.name)}`;
        }),
    );
    return objects
      .filter(
        (a) =>
          SCALABLE.has(a.object.kind) && targets.has(`${a.object.metadata.namespace ?? ""}/${a.object.kind}/${a.object.metadata.name}`),
      )
      .filter((a) => at(a.object, "spec.replicas") !== undefined)
      .map((a) => ({
        rule: "DR006",
        severity: "error" as const,
        stack: a.stack,
        address: a.address,
        message: `${a.object.kind} ${a.object.metadata.name} sets spec.replicas (${String(at(a.object, "spec.replicas"))}) while a HorizontalPodAutoscaler owns it: the next apply after a scale conflicts with the autoscaler's field manager`,
        fix: "leave spec.replicas out of the manifest (the HPA's minReplicas sets the floor; wait.rollout reads the live replica count)",
      }));
  },
};

/** What the apply can wait for, by kind. */
export const READINESS: Readonly<Record<string, { readonly wait: string; readonly matches: (wait: Json) => boolean }>> = {
  Job: { wait: 'wait { condition { type = "Complete", status = "True" } }', matches: (w) => hasCondition(w, "Complete") },
  ExternalSecret: { wait: 'wait { condition { type = "Ready", status = "True" } }', matches: (w) => hasCondition(w, "Ready") },
  ClusterSecretStore: { wait: 'wait { condition { type = "Ready", status = "True" } }', matches: (w) => hasCondition(w, "Ready") },
  SecretStore: { wait: 'wait { condition { type = "Ready", status = "True" } }', matches: (w) => hasCondition(w, "Ready") },
  Deployment: { wait: "wait { rollout = true }", matches: (w) => w.rollout === true },
  StatefulSet: { wait: "wait { rollout = true }", matches: (w) => w.rollout === true },
  DaemonSet: { wait: "wait { rollout = true }", matches: (w) => w.rollout === true },
};

function hasCondition(wait: Json, type: string): boolean {
  const c = wait.condition;
  return Array.isArray(c) && c.some((x) => (x as Json).type === type && (x as Json).status === "True");
}

/** DR014: an object other manifests depend on is not waited for, so a failure surfaces later and elsewhere. */
export const unawaitedReadiness: Rule = {
  id: "DR014",
  title: "dependencies applied without waiting for readiness",
  rationale:
    "kubernetes_manifest returns as soon as the API server accepts an object unless a wait block names its readiness; whatever depends on it then starts against a store that cannot authenticate or a secret that never synced, and fails later, as a timeout of something else",
  source:
    "https://github.com/hashicorp/terraform-provider-kubernetes/blob/v2.38.0/manifest/provider/waiter.go (ConditionsWaiter, RolloutWaiter); https://external-secrets.io/latest/api/spec/ (condition Ready)",
  severity: "warning",
  check(plan) {
    const all = manifests(plan);
    const dependedOn = new Set(all.flatMap((a) => (a.block ? dependsOn(a.block).map((d) => `${a.stack}|${d}`) : [])));
    return all.flatMap((a) => {
      const readiness = READINESS[a.object.kind];
      if (!readiness || !a.block || !dependedOn.has(`${a.stack}|${a.address}`)) return [];
      const wait = a.block.body.wait as Json | undefined;
      if (wait && readiness.matches(wait)) return [];
      return [
        {
          rule: "DR014",
          severity: "warning" as const,
          stack: a.stack,
          address: a.address,
          message: `${a.object.kind} ${a.object.metadata.name} is depended on by other manifests but the apply does not wait for it to be ready`,
          fix: `${readiness.wait} with a timeouts { create, update } shorter than its dependents'`,
        },
      ];
    });
  },
};

/** What the posture rules share: reading blocks and objects, and making findings. */
import {
  type AppliedObject,
  appliedObjects,
  type Block,
  blocksOfType,
  isLiteral,
  type Json,
  type K8sObject,
  type PlanModel,
} from "../plan-model.ts";
import type { Finding, PostureRule, ReviewContext } from "./types.ts";

/** Something a finding can point at: a Terraform block or a Kubernetes object. */
export type Target = Block | AppliedObject;

function isBlock(t: Target): t is Block {
  return "mode" in t;
}

/** A finding of `rule` at `target`. */
export function finding(rule: Pick<PostureRule, "id" | "severity">, target: Target, message: string, fix: string): Finding {
  return {
    rule: rule.id,
    severity: rule.severity,
    stack: isBlock(target) ? target.stack : target.stack,
    address: target.address,
    message,
    fix,
  };
}

/**
 * Value at a dotted path, stepping into the first element of a list where the path names a
 * field (cdk.tf.json writes a single nested block as an object or as a one-element list).
 */
export function get(v: unknown, path: string): unknown {
  let cur: unknown = v;
  for (const step of path.split(".")) {
    if (/^\d+$/.test(step)) {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[Number(step)];
      continue;
    }
    if (Array.isArray(cur)) cur = cur[0];
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Json)[step];
  }
  return cur;
}

/** The list at `path` (a block written once as an object counts as a one-element list). */
export function list(v: unknown, path: string): unknown[] {
  const x = get(v, path);
  if (x === undefined || x === null) return [];
  return Array.isArray(x) ? x : [x];
}

/** Resources of one type across stacks. */
export function resourcesOf(ctx: ReviewContext, type: string): Block[] {
  return blocksOfType(ctx.plan, type);
}

/** The default Google project of a block's stack (its provider's literal `project`), or its own `project`. */
export function projectOf(plan: PlanModel, block: Block): string | undefined {
  if (isLiteral(block.body.project)) return block.body.project;
  const stack = plan.stacks.find((s) => s.name === block.stack);
  const providerName = typeof block.body.provider === "string" ? block.body.provider.split(".")[0] : "google";
  const p = stack?.tf.provider?.[providerName ?? "google"]?.[0]?.project ?? stack?.tf.provider?.google?.[0]?.project;
  return isLiteral(p) ? p : undefined;
}

/** `${type.name...}` → the block it references in the same stack (first reference only). */
export function referenced(plan: PlanModel, from: Block, value: unknown): Block | undefined {
  if (typeof value !== "string") return undefined;
  const m = /\$\{(data\.)?([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)/.exec(value);
  if (!m) return undefined;
  const stack = plan.stacks.find((s) => s.name === from.stack);
  return stack?.byAddress.get(`${m[1] ?? ""}${m[2]}.${m[3]}`);
}

/**
 * A value as text when it is a literal, or a reference to `metadata[0].name` / `name` /
 * `account_id` of a block whose value is itself literal; undefined when unknown until apply.
 */
export function literalOrResolved(plan: PlanModel, from: Block, value: unknown): string | undefined {
  if (isLiteral(value)) return value;
  const target = referenced(plan, from, value);
  if (!target || typeof value !== "string") return undefined;
  if (/\.metadata\[0\]\.name\}$/.test(value)) {
    const n = get(target.body, "metadata.name");
    return isLiteral(n) ? n : undefined;
  }
  const attr = /\.([a-z_]+)\}$/.exec(value)?.[1];
  const v = attr ? target.body[attr] : undefined;
  return isLiteral(v) ? v : undefined;
}

/** Every node configuration: each pool's `node_config`, and a cluster's own (its default pool). */
export function nodeConfigs(ctx: ReviewContext): { readonly block: Block; readonly path: string; readonly config: Json }[] {
  const out: { block: Block; path: string; config: Json }[] = [];
  for (const type of ["google_container_cluster", "google_container_node_pool"]) {
    for (const b of resourcesOf(ctx, type)) {
      const nc = get(b.body, "node_config");
      if (nc && typeof nc === "object") out.push({ block: b, path: "node_config", config: nc as Json });
      else if (type === "google_container_node_pool") out.push({ block: b, path: "node_config", config: {} });
    }
  }
  return out;
}

/** True for the gVisor pools. */
export function isGvisorPool(b: Block): boolean {
  return get(b.body, "node_config.sandbox_config.sandbox_type") === "gvisor";
}

// --- Kubernetes --------------------------------------------------------------------------------

/** Where the pod spec sits in each workload kind. */
const POD_SPEC_PATH: Readonly<Record<string, string>> = {
  Pod: "spec",
  PodTemplate: "template.spec",
  Deployment: "spec.template.spec",
  ReplicaSet: "spec.template.spec",
  StatefulSet: "spec.template.spec",
  DaemonSet: "spec.template.spec",
  Job: "spec.template.spec",
  CronJob: "spec.jobTemplate.spec.template.spec",
};

/** A pod spec inside an applied object. */
export interface PodSpecRef {
  readonly applied: AppliedObject;
  readonly spec: Json;
  readonly namespace: string | undefined;
  /** `Kind ns/name`. */
  readonly label: string;
}

const appliedCache = new WeakMap<PlanModel, AppliedObject[]>();

/** Every object the plan applies (see appliedObjects), computed once per plan. */
export function objects(ctx: ReviewContext): AppliedObject[] {
  let all = appliedCache.get(ctx.plan);
  if (!all) {
    all = appliedObjects(ctx.plan);
    appliedCache.set(ctx.plan, all);
  }
  return all;
}

/** Objects of some kinds. */
export function objectsOfKind(ctx: ReviewContext, ...kinds: string[]): AppliedObject[] {
  return objects(ctx).filter((a) => kinds.includes(a.object.kind));
}

/** `Kind ns/name` of an object. */
export function objectLabel(o: K8sObject): string {
  return `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name}`;
}

/** Every pod spec of every workload object. */
export function podSpecs(ctx: ReviewContext): PodSpecRef[] {
  return objects(ctx).flatMap((applied) => {
    const path = POD_SPEC_PATH[applied.object.kind];
    const spec = path ? get(applied.object, path) : undefined;
    return spec && typeof spec === "object"
      ? [{ applied, spec: spec as Json, namespace: applied.object.metadata?.namespace, label: objectLabel(applied.object) }]
      : [];
  });
}

/** A container of a pod spec, with its list (`containers`, `initContainers`, `ephemeralContainers`). */
export interface ContainerRef {
  readonly list: string;
  readonly container: Json;
  readonly name: string;
}

/** Every container of a pod spec, init and ephemeral ones included. */
export function containersOf(spec: Json): ContainerRef[] {
  return ["initContainers", "containers", "ephemeralContainers"].flatMap((listName) =>
    list(spec, listName).map((c) => ({ list: listName, container: c as Json, name: String((c as Json).name ?? "?") })),
  );
}

/** A namespace the plan creates: a Namespace object or a `kubernetes_namespace_v1`. */
export interface NamespaceRef {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly target: Target;
}

/** Every namespace the plan creates. */
export function namespaces(ctx: ReviewContext): NamespaceRef[] {
  const out: NamespaceRef[] = objectsOfKind(ctx, "Namespace").map((a) => ({
    name: a.object.metadata.name,
    labels: a.object.metadata.labels ?? {},
    target: a,
  }));
  for (const b of resourcesOf(ctx, "kubernetes_namespace_v1")) {
    const name = get(b.body, "metadata.name");
    if (isLiteral(name)) out.push({ name, labels: (get(b.body, "metadata.labels") as Record<string, string>) ?? {}, target: b });
  }
  return out;
}

/** The namespace of a Kubernetes object applied through `kubernetes_*_v1` (literal or resolved). */
export function blockNamespace(plan: PlanModel, b: Block): string | undefined {
  return literalOrResolved(plan, b, get(b.body, "metadata.namespace"));
}

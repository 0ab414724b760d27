/**
 * The synthesized plan as the review rules (deploy readiness and posture) see it: every stack's `cdk.tf.json` (resources and
 * data sources, with their references and `depends_on`), the stack order from `manifest.json`, and
 * every chart object from `k8s/*.k8s.yaml`. Read once from a plan directory; the rules are pure
 * functions of this model.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

/** A JSON object. */
export type Json = Record<string, unknown>;

/** A synthesized `cdk.tf.json`. */
export interface TfJson {
  readonly terraform?: Json;
  readonly provider?: Record<string, Json[]>;
  readonly resource?: Record<string, Record<string, Json>>;
  readonly data?: Record<string, Record<string, Json>>;
  readonly [key: string]: unknown;
}

/** One resource or data source of a stack. */
export interface Block {
  readonly stack: string;
  readonly mode: "resource" | "data";
  readonly type: string;
  readonly name: string;
  /** `type.name` for resources, `data.type.name` for data sources (Terraform's own addressing). */
  readonly address: string;
  readonly body: Json;
}

/** One stack of the plan. */
export interface StackPlan {
  readonly name: string;
  /** Stacks this one depends on directly (manifest.json). */
  readonly dependencies: readonly string[];
  readonly tf: TfJson;
  /** Resources then data sources, each sorted by address. */
  readonly blocks: readonly Block[];
  readonly byAddress: ReadonlyMap<string, Block>;
}

/** A Kubernetes object, loosely typed. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly [key: string]: unknown;
}

/** A Kubernetes object the plan applies: through a `kubernetes_manifest`, or only present in a chart file. */
export interface AppliedObject {
  readonly object: K8sObject;
  /** The stack of its `kubernetes_manifest` (`undefined` when it is in a chart file only). */
  readonly stack: string | undefined;
  /** Address of its `kubernetes_manifest`, or `k8s/<file>: <Kind> <namespace>/<name>`. */
  readonly address: string;
  /** Its `kubernetes_manifest` block, when it has one. */
  readonly block: Block | undefined;
}

/** The whole plan. */
export interface PlanModel {
  readonly dir: string;
  /** Stacks sorted by name. */
  readonly stacks: readonly StackPlan[];
  /** Chart objects by file (`<chart>.k8s.yaml`), files sorted. */
  readonly charts: readonly { readonly file: string; readonly objects: readonly K8sObject[] }[];
}

/** Reads a plan directory (`manifest.json`, `stacks/<s>/cdk.tf.json`, `k8s/*.k8s.yaml`). */
export function loadPlan(dir: string): PlanModel {
  const manifestPath = join(dir, "manifest.json");
  if (!existsSync(manifestPath)) {
    throw new Error(`${dir}: 'manifest.json' is missing (got no file). Run \`npm run synth\` and pass its output directory.`);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
    stacks?: Record<string, { dependencies?: string[]; synthesizedStackPath?: string }>;
  };
  const stacks = Object.entries(manifest.stacks ?? {})
    .map(([name, s]) => {
      const path = join(dir, s.synthesizedStackPath ?? join("stacks", name, "cdk.tf.json"));
      if (!existsSync(path)) throw new Error(`${dir}: stack '${name}' has no cdk.tf.json (got no file at ${path}). Synthesize again.`);
      return stackPlan(name, [...(s.dependencies ?? [])].sort(), JSON.parse(readFileSync(path, "utf8")) as TfJson);
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  const k8sDir = join(dir, "k8s");
  const charts = existsSync(k8sDir)
    ? readdirSync(k8sDir)
        .filter((f) => f.endsWith(".k8s.yaml"))
        .sort()
        .map((file) => ({
          file,
          objects: parseAllDocuments(readFileSync(join(k8sDir, file), "utf8"))
            .map((d) => d.toJS() as K8sObject | null)
            .filter((o): o is K8sObject => o !== null && typeof o === "object"),
        }))
    : [];
  return { dir, stacks, charts };
}

/** Builds a stack from its parts (also used by tests to build fragments in memory). */
export function stackPlan(name: string, dependencies: readonly string[], tf: TfJson): StackPlan {
  const blocks: Block[] = [];
  for (const mode of ["resource", "data"] as const) {
    const section = (mode === "resource" ? tf.resource : tf.data) ?? {};
    for (const type of Object.keys(section).sort()) {
      for (const blockName of Object.keys(section[type] ?? {}).sort()) {
        const address = `${mode === "data" ? "data." : ""}${type}.${blockName}`;
        blocks.push({ stack: name, mode, type, name: blockName, address, body: section[type]?.[blockName] ?? {} });
      }
    }
  }
  return { name, dependencies, tf, blocks, byAddress: new Map(blocks.map((b) => [b.address, b])) };
}

/** The stack called `name`; throws when there is none. */
export function stackNamed(plan: PlanModel, name: string): StackPlan {
  const s = plan.stacks.find((x) => x.name === name);
  if (!s) throw new Error(`plan: no stack '${name}' (stacks: ${plan.stacks.map((x) => x.name).join(", ")})`);
  return s;
}

/** Every stack `name` depends on, directly or through others. */
export function transitiveDependencies(plan: PlanModel, name: string): Set<string> {
  const seen = new Set<string>();
  const walk = (n: string) => {
    for (const d of plan.stacks.find((s) => s.name === n)?.dependencies ?? []) {
      if (!seen.has(d)) {
        seen.add(d);
        walk(d);
      }
    }
  };
  walk(name);
  return seen;
}

/** Every block of every stack. */
export function allBlocks(plan: PlanModel): Block[] {
  return plan.stacks.flatMap((s) => [...s.blocks]);
}

/** Blocks of one type (resources, or data sources with `mode: "data"`), across stacks. */
export function blocksOfType(plan: PlanModel, type: string, mode: "resource" | "data" = "resource"): Block[] {
  return allBlocks(plan).filter((b) => b.type === type && b.mode === mode);
}

/** True when `v` is a string with no Terraform expression in it. */
export function isLiteral(v: unknown): v is string {
  return typeof v === "string" && !v.includes("${");
}

/** Every string inside `v` (objects and arrays walked), with its dotted path; the `//` metadata is skipped. */
export function stringsIn(v: unknown, path = ""): { readonly path: string; readonly value: string }[] {
  if (typeof v === "string") return [{ path, value: v }];
  if (Array.isArray(v)) return v.flatMap((x, i) => stringsIn(x, `${path}[${i}]`));
  if (v !== null && typeof v === "object") {
    return Object.entries(v as Json)
      .filter(([k]) => k !== "//")
      .flatMap(([k, x]) => stringsIn(x, path === "" ? k : `${path}.${k}`));
  }
  return [];
}

/** Addresses referenced by Terraform expressions (`${type.name.attr}`, `${data.type.name.attr}`) anywhere in `v`. */
export function referencesIn(v: unknown): Set<string> {
  const found = new Set<string>();
  for (const { value } of stringsIn(v)) {
    for (const expr of value.matchAll(/\$\{([^}]*)\}/g)) {
      for (const m of (expr[1] ?? "").matchAll(/\b(data\.)?([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z0-9_-]+)(?=[.[\s,)]|$)/g)) {
        found.add(`${m[1] ?? ""}${m[2]}.${m[3]}`);
      }
    }
  }
  return found;
}

/** Direct dependencies of a block within its stack: its references and its `depends_on`. */
export function directDependencies(stack: StackPlan, block: Block): Set<string> {
  const deps = new Set<string>();
  for (const r of referencesIn({ ...block.body, depends_on: undefined })) if (stack.byAddress.has(r)) deps.add(r);
  for (const d of dependsOn(block)) if (stack.byAddress.has(d)) deps.add(d);
  deps.delete(block.address);
  return deps;
}

/** The `depends_on` entries of a block. */
export function dependsOn(block: Block): string[] {
  const d = block.body.depends_on;
  return Array.isArray(d) ? d.filter((x): x is string => typeof x === "string") : [];
}

/** True when `from` depends on `to` (directly or transitively) within the stack. */
export function dependsTransitively(stack: StackPlan, from: Block, to: string): boolean {
  const seen = new Set<string>();
  const queue = [...directDependencies(stack, from)];
  while (queue.length > 0) {
    const next = queue.shift() as string;
    if (next === to) return true;
    if (seen.has(next)) continue;
    seen.add(next);
    const b = stack.byAddress.get(next);
    if (b) queue.push(...directDependencies(stack, b));
  }
  return false;
}

/** Blocks of the stack that reference `address` in an argument (not through `depends_on` alone). */
export function referrers(stack: StackPlan, address: string): Block[] {
  return stack.blocks.filter((b) => b.address !== address && referencesIn({ ...b.body, depends_on: undefined }).has(address));
}

/** Value at a dotted path (`a.b[0].c`); `undefined` when any step is missing. */
export function at(v: unknown, path: string): unknown {
  let cur: unknown = v;
  for (const step of path.split(".").flatMap((p) => p.split(/\[(\d+)\]/).filter((s) => s !== ""))) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = /^\d+$/.test(step) && Array.isArray(cur) ? cur[Number(step)] : (cur as Json)[step];
  }
  return cur;
}

/** The `lifecycle` block of a resource. */
export function lifecycle(block: Block): { createBeforeDestroy: boolean; ignoreChanges: string[]; replaceTriggeredBy: string[] } {
  const l = (block.body.lifecycle ?? {}) as Json;
  const list = (x: unknown) => (Array.isArray(x) ? x.filter((s): s is string => typeof s === "string") : []);
  return {
    createBeforeDestroy: l.create_before_destroy === true,
    ignoreChanges: l.ignore_changes === "all" ? ["all"] : list(l.ignore_changes),
    replaceTriggeredBy: list(l.replace_triggered_by),
  };
}

/**
 * Every Kubernetes object the plan applies: each `kubernetes_manifest` (any stack), then each chart
 * object that no `kubernetes_manifest` applies (same apiVersion, kind, namespace and name).
 */
export function appliedObjects(plan: PlanModel): AppliedObject[] {
  const key = (o: K8sObject) => [o.apiVersion, o.kind, o.metadata?.namespace ?? "", o.metadata?.name ?? ""].join("|");
  const applied: AppliedObject[] = blocksOfType(plan, "kubernetes_manifest").flatMap((block) => {
    const object = block.body.manifest as K8sObject | undefined;
    return object && typeof object === "object" ? [{ object, stack: block.stack, address: block.address, block }] : [];
  });
  const seen = new Set(applied.map((a) => key(a.object)));
  for (const { file, objects } of plan.charts) {
    for (const object of objects) {
      if (seen.has(key(object))) continue;
      const ns = object.metadata?.namespace;
      applied.push({
        object,
        stack: undefined,
        address: `k8s/${file}: ${object.kind} ${ns ? `${ns}/` : ""}${object.metadata?.name}`,
        block: undefined,
      });
    }
  }
  return applied;
}

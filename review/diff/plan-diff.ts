/**
 * What a change does to the deployment: the resources each stack adds, removes, changes in place
 * and replaces, computed from two synthesized plans (the base commit's and this one) with the
 * providers' ForceNew table, or read from `terraform show -json` plans where CI has them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Block, Json, PlanModel } from "../plan-model.ts";
import { FORCE_NEW, type ForceNewEntry } from "./force-new-table.ts";

/** What Terraform does to one resource. */
export type Action = "create" | "delete" | "update" | "replace";

/** One changed resource. */
export interface ResourceChange {
  readonly stack: string;
  readonly address: string;
  readonly type: string;
  readonly action: Action;
  /** Changed attribute paths (list indexes dropped), sorted. */
  readonly attributes: readonly string[];
  /** ForceNew attributes whose change replaces the resource. */
  readonly replaceBecause: readonly string[];
  /** Attributes that replace it only for some changes (RequiresReplaceIf, ForceNewIfChange). */
  readonly mayReplaceBecause: readonly string[];
  /** True when the resource holds state that a destroy loses (database, bucket, key, cluster, secret). */
  readonly stateful: boolean;
  /** True when the table does not know the type (its replacement cannot be predicted). */
  readonly unknownType: boolean;
}

/** Types whose destroy or replace loses data or breaks everything that depends on them. */
export const STATEFUL_TYPES: readonly string[] = [
  "google_container_cluster",
  "google_kms_crypto_key",
  "google_kms_key_ring",
  "google_secret_manager_secret",
  "google_secret_manager_secret_version",
  "google_sql_database",
  "google_sql_database_instance",
  "google_storage_bucket",
];

/** Meta-arguments: not attributes of the resource (a change to them replaces nothing). */
const META = new Set(["//", "depends_on", "lifecycle", "provider", "count", "for_each", "provisioner", "connection"]);

/** Flattens a body into `path -> JSON text` of its leaves (lists indexed, empty containers kept as leaves). */
export function leaves(v: unknown, path = "", out = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(v)) {
    if (v.length === 0) out.set(path, "[]");
    v.forEach((x, i) => {
      leaves(x, `${path}[${i}]`, out);
    });
  } else if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Json).filter(([k]) => !(path === "" && META.has(k)));
    if (entries.length === 0) out.set(path, "{}");
    for (const [k, x] of entries) leaves(x, path === "" ? k : `${path}.${k}`, out);
  } else out.set(path, JSON.stringify(v));
  return out;
}

/** Attribute paths whose leaves differ between two bodies, indexes dropped, sorted. */
export function changedAttributes(before: unknown, after: unknown): string[] {
  const a = leaves(before);
  const b = leaves(after);
  const changed = new Set<string>();
  for (const k of new Set([...a.keys(), ...b.keys()])) if (a.get(k) !== b.get(k)) changed.add(k.replace(/\[\d+\]/g, ""));
  return [...changed].sort();
}

/** Every value at a dotted path (lists are walked). */
function valuesAt(v: unknown, path: string): unknown[] {
  let cur: unknown[] = [v];
  for (const step of path.split(".")) {
    cur = cur
      .flatMap((x) => (Array.isArray(x) ? x : [x]))
      .flatMap((x) => (x !== null && typeof x === "object" && step in (x as Json) ? [(x as Json)[step]] : []));
  }
  return cur;
}

/** The table entry of a block (google-beta resources have their own). */
function entryOf(type: string, provider: unknown): ForceNewEntry | undefined {
  if (typeof provider === "string" && provider.startsWith("google-beta")) return FORCE_NEW[`google-beta/${type}`] ?? FORCE_NEW[type];
  return FORCE_NEW[type];
}

/**
 * The ForceNew paths of `entry` whose value differs between two bodies. A path with ForceNew
 * children in the table is a block: it replaces only when it is added or removed (element count);
 * any other path replaces when its value differs (maps and lists as a whole).
 */
export function replacingPaths(paths: readonly string[], all: readonly string[], before: Json, after: Json): string[] {
  return paths.filter((p) => {
    const a = valuesAt(before, p);
    const b = valuesAt(after, p);
    const isBlock = all.some((q) => q.startsWith(`${p}.`));
    if (isBlock) {
      const count = (xs: unknown[]) => xs.flatMap((x) => (Array.isArray(x) ? x : [x])).length;
      return count(a) !== count(b);
    }
    return JSON.stringify(a) !== JSON.stringify(b);
  });
}

/** The change to one resource present in both plans, or undefined when nothing changed. */
export function compareBlocks(stack: string, before: Block, after: Block): ResourceChange | undefined {
  const attributes = changedAttributes(before.body, after.body);
  if (attributes.length === 0) return undefined;
  const entry = entryOf(after.type, after.body.provider);
  const replaceBecause = entry ? replacingPaths(entry.forceNew, entry.forceNew, before.body, after.body) : [];
  const mayReplaceBecause = entry
    ? replacingPaths(entry.conditional, [...entry.forceNew, ...entry.conditional], before.body, after.body)
    : [];
  return {
    stack,
    address: after.address,
    type: after.type,
    action: replaceBecause.length > 0 ? "replace" : "update",
    attributes,
    replaceBecause,
    mayReplaceBecause,
    stateful: STATEFUL_TYPES.includes(after.type),
    unknownType: entry === undefined,
  };
}

/** Per stack: resources added, removed, changed and replaced from `base` to `head` (data sources are reads: left out). */
export function diffPlans(base: PlanModel, head: PlanModel): ResourceChange[] {
  const out: ResourceChange[] = [];
  const names = [...new Set([...base.stacks.map((s) => s.name), ...head.stacks.map((s) => s.name)])].sort();
  for (const name of names) {
    const b = new Map(
      (base.stacks.find((s) => s.name === name)?.blocks ?? []).filter((x) => x.mode === "resource").map((x) => [x.address, x]),
    );
    const h = new Map(
      (head.stacks.find((s) => s.name === name)?.blocks ?? []).filter((x) => x.mode === "resource").map((x) => [x.address, x]),
    );
    const whole = (x: Block, action: "create" | "delete"): ResourceChange => ({
      stack: name,
      address: x.address,
      type: x.type,
      action,
      attributes: [],
      replaceBecause: [],
      mayReplaceBecause: [],
      stateful: STATEFUL_TYPES.includes(x.type),
      unknownType: entryOf(x.type, x.body.provider) === undefined,
    });
    for (const [address, x] of [...h].sort()) {
      const before = b.get(address);
      if (!before) out.push(whole(x, "create"));
      else {
        const c = compareBlocks(name, before, x);
        if (c) out.push(c);
      }
    }
    for (const [address, x] of [...b].sort()) if (!h.has(address)) out.push(whole(x, "delete"));
  }
  return out;
}

/** Stateful resources the change destroys or replaces: called out on top of the review. */
export function statefulLosses(changes: readonly ResourceChange[]): ResourceChange[] {
  return changes.filter((c) => c.stateful && (c.action === "delete" || c.action === "replace"));
}

/** A `terraform show -json` document (the fields the review reads). */
interface TerraformPlanJson {
  readonly resource_changes?: readonly {
    readonly address: string;
    readonly mode?: string;
    readonly type: string;
    readonly change: {
      readonly actions: readonly string[];
      readonly before?: unknown;
      readonly after?: unknown;
      readonly replace_paths?: readonly (readonly (string | number)[])[];
    };
  }[];
}

/** Maps Terraform's `change.actions` to one action (undefined for no-op and read). */
function actionOf(actions: readonly string[]): Action | undefined {
  const key = actions.join(",");
  if (key === "create") return "create";
  if (key === "delete") return "delete";
  if (key === "update") return "update";
  if (key === "delete,create" || key === "create,delete") return "replace";
  return undefined;
}

/**
 * Reads every `<stack>.json` in `dir` (`terraform show -json <planfile> > <stack>.json`, run in
 * `cdktf.out/stacks/<stack>`) and returns its resource changes in the same shape as {@link diffPlans}.
 * @throws Error naming the file when it is not a Terraform plan in JSON
 */
export function readTerraformPlans(dir: string): ResourceChange[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort();
  if (files.length === 0)
    throw new Error(
      `${dir}: holds no <stack>.json (got no file). Write each stack's plan with \`terraform show -json <planfile> > ${dir}/<stack>.json\`.`,
    );
  return files.flatMap((file) => {
    let doc: TerraformPlanJson;
    try {
      doc = JSON.parse(readFileSync(join(dir, file), "utf8")) as TerraformPlanJson;
    } catch (e) {
      throw new Error(`${join(dir, file)}: is not JSON (${(e as Error).message}). Write it with \`terraform show -json <planfile>\`.`);
    }
    if (!Array.isArray(doc.resource_changes))
      throw new Error(
        `${join(dir, file)}: has no 'resource_changes' (got ${Object.keys(doc).slice(0, 5).join(", ") || "nothing"}). Write it with \`terraform show -json <planfile>\`.`,
      );
    const stack = basename(file, ".json");
    return doc.resource_changes.flatMap((rc) => {
      const action = rc.mode === "data" ? undefined : actionOf(rc.change.actions);
      if (!action) return [];
      const replaceBecause = (rc.change.replace_paths ?? [])
        .map((p: readonly (string | number)[]) => p.filter((s) => typeof s === "string").join("."))
        .sort();
      return [
        {
          stack,
          address: rc.address,
          type: rc.type,
          action,
          attributes: action === "update" || action === "replace" ? changedAttributes(rc.change.before ?? {}, rc.change.after ?? {}) : [],
          replaceBecause,
          mayReplaceBecause: [],
          stateful: STATEFUL_TYPES.includes(rc.type),
          unknownType: false,
        },
      ];
    });
  });
}

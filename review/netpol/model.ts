/**
 * Parsing: NetworkPolicy, FQDNNetworkPolicy and Namespace objects (parsed YAML, read defensively:
 * unknown fields are errors) into the model the evaluator works on.
 */
import { cidrContains, parseCidr, type Cidr } from "../../lib/cidr.ts";
import type { Labels, NamespaceLabels, Protocol } from "./types.ts";

export const PROTOCOLS: readonly Protocol[] = ["TCP", "UDP", "SCTP"];
const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;
type Operator = (typeof OPERATORS)[number];
const METADATA_NAME = "kubernetes.io/metadata.name";
const NETPOL_API = "networking.k8s.io/v1";
const FQDN_GROUP = "networking.gke.io/";

interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  readonly values: readonly string[];
}

export interface Selector {
  readonly matchLabels: readonly (readonly [string, string])[];
  readonly requirements: readonly Requirement[];
}

export type Peer =
  | { readonly kind: "pods"; readonly pods?: Selector; readonly namespaces?: Selector }
  | { readonly kind: "ipBlock"; readonly cidr: Cidr; readonly except: readonly Cidr[] };

export interface PortSpec {
  readonly protocol: Protocol;
  /** Undefined: every port of the protocol. */
  readonly port?: number | string;
  readonly endPort?: number;
}

interface Rule {
  /** Undefined: every peer. */
  readonly peers?: readonly Peer[];
  /** Undefined: every port. */
  readonly ports?: readonly PortSpec[];
}

interface Policy {
  readonly id: string;
  readonly namespace: string;
  readonly podSelector: Selector;
  readonly ingress?: readonly Rule[];
  readonly egress?: readonly Rule[];
}

interface FqdnRule {
  readonly names: readonly string[];
  readonly ports?: readonly PortSpec[];
}

interface FqdnPolicy {
  readonly id: string;
  readonly namespace: string;
  readonly podSelector: Selector;
  readonly rules: readonly FqdnRule[];
}

export interface Model {
  readonly policies: readonly Policy[];
  readonly fqdnPolicies: readonly FqdnPolicy[];
  readonly namespaceLabels: (name: string) => Labels;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Validation helper that names the object and field path in every error. */
class Reader {
  constructor(private readonly subject: string) {}

  fail(path: string, message: string): never {
    throw new Error(`${this.subject}: ${path ? `${path}: ` : ""}${message}`);
  }

  record(value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
    if (!isRecord(value)) this.fail(path, `expected an object, got ${describe(value)}`);
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) this.fail(path, `unknown field "${key}" (expected one of ${keys.join(", ")})`);
    }
    return value;
  }

  /** A list, or undefined when absent or null. */
  list(value: unknown, path: string): readonly unknown[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) this.fail(path, `expected a list, got ${describe(value)}`);
    return value as readonly unknown[];
  }

  string(value: unknown, path: string): string {
    if (typeof value !== "string" || value === "") this.fail(path, `expected a non-empty string, got ${describe(value)}`);
    return value;
  }

  labels(value: unknown, path: string): [string, string][] {
    if (value === undefined || value === null) return [];
    if (!isRecord(value)) this.fail(path, `expected a map of labels, got ${describe(value)}`);
    return Object.entries(value).map(([k, v]) => {
      if (k === "") this.fail(path, "empty label key");
      if (typeof v !== "string") this.fail(`${path}.${k}`, `label value must be a string, got ${describe(v)}`);
      return [k, v];
    });
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value;
}

function parseSelector(r: Reader, value: unknown, path: string): Selector {
  const rec = r.record(value, path, ["matchLabels", "matchExpressions"]);
  const matchLabels = r.labels(rec.matchLabels, `${path}.matchLabels`);
  const requirements = (r.list(rec.matchExpressions, `${path}.matchExpressions`) ?? []).map((item, i): Requirement => {
    const at = `${path}.matchExpressions[${i}]`;
    const e = r.record(item, at, ["key", "operator", "values"]);
    const key = r.string(e.key, `${at}.key`);
    const op = e.operator;
    if (typeof op !== "string" || !(OPERATORS as readonly string[]).includes(op)) {
      r.fail(`${at}.operator`, `${describe(op)} is not one of ${OPERATORS.join(", ")}`);
    }
    const operator = op as Operator;
    const values = (r.list(e.values, `${at}.values`) ?? []).map((v, j) => {
      if (typeof v !== "string") r.fail(`${at}.values[${j}]`, `expected a string, got ${describe(v)}`);
      return v;
    });
    if ((operator === "In" || operator === "NotIn") && values.length === 0)
      r.fail(`${at}.values`, `operator ${operator} needs at least one value`);
    if ((operator === "Exists" || operator === "DoesNotExist") && values.length > 0)
      r.fail(`${at}.values`, `operator ${operator} takes no values`);
    return { key, operator, values };
  });
  return { matchLabels, requirements };
}

export function selectorMatches(selector: Selector, labels: Labels): boolean {
  for (const [k, v] of selector.matchLabels) if (labels[k] !== v) return false;
  for (const { key, operator, values } of selector.requirements) {
    const has = Object.hasOwn(labels, key);
    const value = has ? labels[key] : undefined;
    switch (operator) {
      case "In":
        if (value === undefined || !values.includes(value)) return false;
        break;
      case "NotIn":
        // Matches when the label is absent, as in Kubernetes.
        if (value !== undefined && values.includes(value)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}

function parseCidrField(r: Reader, value: unknown, path: string): Cidr {
  const text = r.string(value, path);
  const cidr = parseCidr(text);
  if (!cidr) r.fail(path, `${JSON.stringify(text)} is not a CIDR block (or has host bits set)`);
  return cidr;
}

function parsePeer(r: Reader, value: unknown, path: string): Peer {
  const rec = r.record(value, path, ["podSelector", "namespaceSelector", "ipBlock"]);
  const has = (k: string): boolean => rec[k] !== undefined && rec[k] !== null;
  if (has("ipBlock")) {
    if (has("podSelector") || has("namespaceSelector")) r.fail(path, "ipBlock may not be combined with podSelector or namespaceSelector");
    const at = `${path}.ipBlock`;
    const block = r.record(rec.ipBlock, at, ["cidr", "except"]);
    const cidr = parseCidrField(r, block.cidr, `${at}.cidr`);
    const except = (r.list(block.except, `${at}.except`) ?? []).map((e, i) => {
      const inner = parseCidrField(r, e, `${at}.except[${i}]`);
      const contained = inner.family === cidr.family && inner.prefix > cidr.prefix && cidrContains(cidr, ipText(inner));
      if (!contained) r.fail(`${at}.except[${i}]`, `${inner.text} is not a strict subset of ${cidr.text}`);
      return inner;
    });
    return { kind: "ipBlock", cidr, except };
  }
  if (!has("podSelector") && !has("namespaceSelector")) r.fail(path, "a peer needs podSelector, namespaceSelector or ipBlock");
  return {
    kind: "pods",
    ...(has("podSelector") ? { pods: parseSelector(r, rec.podSelector, `${path}.podSelector`) } : {}),
    ...(has("namespaceSelector") ? { namespaces: parseSelector(r, rec.namespaceSelector, `${path}.namespaceSelector`) } : {}),
  };
}

/** The network address of a block as text, for containment checks through `cidrContains`. */
function ipText(c: Cidr): string {
  if (c.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((c.network >> s) & 255n)).join(".");
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((c.network >> s) & 0xffffn).toString(16));
  return groups.join(":");
}

const IANA_SVC_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$/;

function parsePortNumber(r: Reader, value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535)
    r.fail(path, `expected a port number 1-65535, got ${describe(value)}`);
  return value;
}

function parsePortSpec(r: Reader, value: unknown, path: string): PortSpec {
  const rec = r.record(value, path, ["protocol", "port", "endPort"]);
  let protocol: Protocol = "TCP";
  if (rec.protocol !== undefined && rec.protocol !== null) {
    if (typeof rec.protocol !== "string" || !(PROTOCOLS as readonly string[]).includes(rec.protocol))
      r.fail(`${path}.protocol`, `${describe(rec.protocol)} is not one of ${PROTOCOLS.join(", ")}`);
    protocol = rec.protocol as Protocol;
  }
  let port: number | string | undefined;
  if (typeof rec.port === "string") {
    if (!IANA_SVC_NAME.test(rec.port))
      r.fail(`${path}.port`, `${JSON.stringify(rec.port)} is neither a number nor a valid port name (IANA_SVC_NAME)`);
    port = rec.port;
  } else if (rec.port !== undefined && rec.port !== null) {
    port = parsePortNumber(r, rec.port, `${path}.port`);
  }
  if (rec.endPort === undefined || rec.endPort === null) return { protocol, ...(port === undefined ? {} : { port }) };
  const endPort = parsePortNumber(r, rec.endPort, `${path}.endPort`);
  if (typeof port !== "number") r.fail(`${path}.endPort`, "endPort needs a numeric port");
  if (endPort < port) r.fail(`${path}.endPort`, `endPort ${endPort} is below port ${port}`);
  return { protocol, port, endPort };
}

function parsePorts(r: Reader, value: unknown, path: string): readonly PortSpec[] | undefined {
  const list = r.list(value, path);
  return list && list.length > 0 ? list.map((p, i) => parsePortSpec(r, p, `${path}[${i}]`)) : undefined;
}

function parseRules(r: Reader, value: unknown, path: string, peerKey: "from" | "to"): Rule[] {
  return (r.list(value, path) ?? []).map((item, i): Rule => {
    const at = `${path}[${i}]`;
    const rec = r.record(item, at, [peerKey, "ports"]);
    const peerList = r.list(rec[peerKey], `${at}.${peerKey}`);
    const peers = peerList && peerList.length > 0 ? peerList.map((p, j) => parsePeer(r, p, `${at}.${peerKey}[${j}]`)) : undefined;
    const ports = parsePorts(r, rec.ports, `${at}.ports`);
    return { ...(peers ? { peers } : {}), ...(ports ? { ports } : {}) };
  });
}

function objectIdentity(kind: string, obj: Record<string, unknown>, index: number): { r: Reader; name: string; namespace: string } {
  const meta = obj.metadata;
  const name = isRecord(meta) && typeof meta.name === "string" && meta.name !== "" ? meta.name : undefined;
  const namespace = isRecord(meta) && typeof meta.namespace === "string" && meta.namespace !== "" ? meta.namespace : undefined;
  const label = `${kind} ${namespace ?? "?"}/${name ?? `#${index}`}`;
  const r: Reader = new Reader(label);
  if (name === undefined) r.fail("metadata.name", "missing");
  if (namespace === undefined) r.fail("metadata.namespace", "missing (the policy's namespace must be explicit)");
  return { r, name, namespace };
}

function parsePolicy(obj: Record<string, unknown>, index: number): Policy {
  const { r, name, namespace } = objectIdentity("NetworkPolicy", obj, index);
  const spec = r.record(obj.spec, "spec", ["podSelector", "policyTypes", "ingress", "egress"]);
  if (spec.podSelector === undefined || spec.podSelector === null) r.fail("spec.podSelector", "missing (use {} to select every pod)");
  const podSelector = parseSelector(r, spec.podSelector, "spec.podSelector");
  const ingress = parseRules(r, spec.ingress, "spec.ingress", "from");
  const egress = parseRules(r, spec.egress, "spec.egress", "to");
  const declared = (r.list(spec.policyTypes, "spec.policyTypes") ?? []).map((t, i) => {
    if (t !== "Ingress" && t !== "Egress") r.fail(`spec.policyTypes[${i}]`, `${describe(t)} is not one of Ingress, Egress`);
    return t;
  });
  // API server defaulting: an absent or empty policyTypes means Ingress, plus Egress iff there
  // is at least one egress rule (len(spec.egress) != 0).
  const types = declared.length > 0 ? declared : egress.length > 0 ? ["Ingress", "Egress"] : ["Ingress"];
  return {
    id: `${namespace}/${name}`,
    namespace,
    podSelector,
    ...(types.includes("Ingress") ? { ingress } : {}),
    ...(types.includes("Egress") ? { egress } : {}),
  };
}

const DNS_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lower-cased name without the trailing dot, or undefined when not a DNS name. */
export function normalizeHost(text: string): string | undefined {
  const host = text.toLowerCase().replace(/\.$/, "");
  if (host.length === 0 || host.length > 253) return undefined;
  return host.split(".").every((l) => DNS_LABEL.test(l)) ? host : undefined;
}

function parseFqdnPolicy(obj: Record<string, unknown>, index: number): FqdnPolicy {
  const { r, name, namespace } = objectIdentity("FQDNNetworkPolicy", obj, index);
  const spec = r.record(obj.spec, "spec", ["podSelector", "policyTypes", "egress"]);
  if (spec.podSelector === undefined || spec.podSelector === null) r.fail("spec.podSelector", "missing (use {} to select every pod)");
  const podSelector = parseSelector(r, spec.podSelector, "spec.podSelector");
  (r.list(spec.policyTypes, "spec.policyTypes") ?? []).forEach((t, i) => {
    if (t !== "Egress") r.fail(`spec.policyTypes[${i}]`, `${describe(t)}: an FQDNNetworkPolicy only has Egress`);
  });
  const rules = (r.list(spec.egress, "spec.egress") ?? []).map((item, i): FqdnRule => {
    const at = `spec.egress[${i}]`;
    const rec = r.record(item, at, ["matches", "ports"]);
    const names = (r.list(rec.matches, `${at}.matches`) ?? []).map((m, j) => {
      const mAt = `${at}.matches[${j}]`;
      const match = r.record(m, mAt, ["name", "pattern"]);
      if ((match.name === undefined) === (match.pattern === undefined)) return r.fail(mAt, "give exactly one of name or pattern");
      const text = r.string(match.name ?? match.pattern, `${mAt}.${match.name !== undefined ? "name" : "pattern"}`);
      const wildcard = match.pattern !== undefined;
      if (wildcard && !text.startsWith("*.")) return r.fail(`${mAt}.pattern`, `${JSON.stringify(text)} is not a "*." wildcard`);
      const host = normalizeHost(wildcard ? text.slice(2) : text);
      if (!host) return r.fail(mAt, `${JSON.stringify(text)} is not a DNS name`);
      return wildcard ? `*.${host}` : host;
    });
    if (names.length === 0) r.fail(`${at}.matches`, "an FQDN rule must name at least one host in matches[]");
    const ports = parsePorts(r, rec.ports, `${at}.ports`);
    return { names, ...(ports ? { ports } : {}) };
  });
  return { id: `${namespace}/${name}`, namespace, podSelector, rules };
}

function byId<T extends { readonly id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function buildModel(objects: readonly unknown[], extraNamespaces: NamespaceLabels): Model {
  if (!Array.isArray(objects)) throw new Error(`netpol: expected a list of Kubernetes objects, got ${describe(objects)}`);
  const policies: Policy[] = [];
  const fqdnPolicies: FqdnPolicy[] = [];
  const namespaces = new Map<string, Labels>();
  objects.forEach((obj, index) => {
    if (!isRecord(obj)) return;
    const { kind, apiVersion } = obj;
    if (kind === "NetworkPolicy" && apiVersion === NETPOL_API) policies.push(parsePolicy(obj, index));
    else if (kind === "FQDNNetworkPolicy" && typeof apiVersion === "string" && apiVersion.startsWith(FQDN_GROUP))
      fqdnPolicies.push(parseFqdnPolicy(obj, index));
    else if (kind === "Namespace" && apiVersion === "v1") {
      const meta = obj.metadata;
      const name = isRecord(meta) ? meta.name : undefined;
      const r = new Reader(`Namespace ${typeof name === "string" ? name : `#${index}`}`);
      const nsName = r.string(name, "metadata.name");
      namespaces.set(nsName, Object.fromEntries(r.labels(isRecord(meta) ? meta.labels : undefined, "metadata.labels")));
    }
  });
  for (const [kind, list] of [
    ["NetworkPolicy", policies],
    ["FQDNNetworkPolicy", fqdnPolicies],
  ] as const) {
    for (const id of duplicates(list.map((p) => p.id))) throw new Error(`netpol: ${kind} ${id} is defined more than once`);
  }
  return {
    policies: policies.sort(byId),
    fqdnPolicies: fqdnPolicies.sort(byId),
    // The API server always sets kubernetes.io/metadata.name to the namespace's name.
    namespaceLabels: (name) => ({ ...extraNamespaces[name], ...namespaces.get(name), [METADATA_NAME]: name }),
  };
}

function duplicates(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => {
    if (seen.has(id)) return true;
    seen.add(id);
    return false;
  });
}

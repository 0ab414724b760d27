/**
 * An exact, pure evaluator of Kubernetes NetworkPolicy semantics (`networking.k8s.io/v1`) over
 * the plan's synthesized objects: "may A reach B on port P/protocol?". The review command and
 * the tests print or assert a connectivity matrix from it.
 *
 * Semantics follow the API reference and the API server's defaulting and validation:
 * - A policy applies to the pods of its own namespace that its `spec.podSelector` selects.
 * - `policyTypes`, when absent or empty, defaults exactly as the API server does
 *   (`SetDefaults_NetworkPolicy`): `Ingress` always, and `Egress` iff `spec.egress` has at least
 *   one rule. Note: `egress: []` without `policyTypes` therefore does NOT isolate egress — the
 *   server cannot tell an empty list from an absent one. Write `policyTypes` to isolate egress.
 * - A pod is isolated for a direction iff some policy selecting it has that type; a
 *   non-isolated direction allows everything. Isolated: allowed iff some rule of some
 *   selecting policy of that direction matches (policies are a union; there is no deny rule).
 * - A rule with no (or an empty) `from`/`to` matches every peer; with no (or empty) `ports`,
 *   every port and protocol.
 *
 * Deliberate decisions (where the API leaves room):
 * - `ipBlock` is meant for cluster-external addresses. A pod endpoint matches an `ipBlock` only
 *   if it carries an `ip` inside `cidr` and outside every `except`; a pod without `ip` never
 *   matches one. Some dataplanes (e.g. Cilium-based ones) never match pod IPs against
 *   `ipBlock`; leave `ip` unset to model them.
 * - Named ports resolve against the destination pod (for ingress and egress alike, as in
 *   Kubernetes) through its optional `namedPorts`; an external destination, or a pod that does
 *   not declare the name, does not match, and the reason says so.
 * - Not modelled: the pod's own node always reaching it, host-network pods, Services (give the
 *   backend pod as the destination), NAT in front of external sources.
 * - Unknown fields in a policy are errors (as with `kubectl`'s default strict validation), so a
 *   typo such as `form:` cannot silently widen a rule to "all peers".
 * - Only `kind: NetworkPolicy` with `apiVersion: networking.k8s.io/v1` is a NetworkPolicy here;
 *   other kinds (and other API groups' `NetworkPolicy`, e.g. Calico's) are ignored, except
 *   `FQDNNetworkPolicy` (`networking.gke.io`), read by {@link fqdnAllows}.
 *
 * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/
 * @see https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/
 */
import { cidrContains, parseCidr, parseIp, type Cidr } from "./cidr.ts";

/** An L4 protocol a NetworkPolicy port can name. */
export type Protocol = "TCP" | "UDP" | "SCTP";

/** A label set (pod or namespace labels). */
export type Labels = Readonly<Record<string, string>>;

/**
 * A named container port of a pod: a number (protocol TCP, the containerPort default) or a
 * port with its protocol.
 */
export type NamedPort = number | { readonly port: number; readonly protocol?: Protocol };

/** A pod: its namespace and labels, optionally its IP (for `ipBlock`) and named ports. */
export interface PodEndpoint {
  readonly kind: "pod";
  readonly namespace: string;
  readonly labels: Labels;
  /** Pod IP; only used to match `ipBlock` peers (see the module notes). */
  readonly ip?: string;
  /** Container ports by name, to resolve named ports in policies (`port: http`). */
  readonly namedPorts?: Readonly<Record<string, NamedPort>>;
}

/** Anything outside the cluster's pods: metadata server, Cloud SQL private IP, internet. */
export interface ExternalEndpoint {
  readonly kind: "external";
  readonly ip: string;
  /** DNS name, used by the FQDNNetworkPolicy check in {@link evaluate}. */
  readonly name?: string;
}

/** A connection end. */
export type Endpoint = PodEndpoint | ExternalEndpoint;

/** A connection to decide. `protocol` defaults to TCP. */
export interface Connection {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly port: number;
  readonly protocol?: Protocol;
}

/** Outcome for one direction (egress of the source, or ingress of the destination). */
export interface Verdict {
  readonly allowed: boolean;
  /** True when some policy selects the pod for this direction. */
  readonly isolated: boolean;
  /** The deciding rule, e.g. `runners/allow-dns rule 0`, when a rule allowed it. */
  readonly matchedBy?: string;
  /** One sentence naming the deciding policy/rule. */
  readonly reason: string;
}

/** Outcome of {@link evaluate}: allowed iff both directions allow. */
export interface Decision {
  readonly allowed: boolean;
  readonly egress: Verdict;
  readonly ingress: Verdict;
  readonly reason: string;
}

/** Extra namespace labels by namespace name, for namespaces without a Namespace object. */
export type NamespaceLabels = Readonly<Record<string, Labels>>;

/** One check of {@link matrix}: endpoint names (keys of its `endpoints`) and a port. */
export interface MatrixCheck {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol?: Protocol;
}

/** One row of {@link matrix}. */
export interface MatrixRow {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly allowed: boolean;
  readonly reason: string;
}

// ---------------------------------------------------------------------------------------------
// Parsing (defensive: objects are parsed YAML)

const PROTOCOLS: readonly Protocol[] = ["TCP", "UDP", "SCTP"];
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

interface Selector {
  readonly matchLabels: readonly (readonly [string, string])[];
  readonly requirements: readonly Requirement[];
}

type Peer = { readonly kind: "pods"; readonly pods?: Selector; readonly namespaces?: Selector } | { readonly kind: "ipBlock"; readonly cidr: Cidr; readonly except: readonly Cidr[] };

interface PortSpec {
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

interface Model {
  readonly policies: readonly Policy[];
  readonly fqdnPolicies: readonly FqdnPolicy[];
  readonly namespaceLabels: (name: string) => Labels;
}

function isRecord(value: unknown): value is Record<string, unknown> {
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
    if ((operator === "In" || operator === "NotIn") && values.length === 0) r.fail(`${at}.values`, `operator ${operator} needs at least one value`);
    if ((operator === "Exists" || operator === "DoesNotExist") && values.length > 0) r.fail(`${at}.values`, `operator ${operator} takes no values`);
    return { key, operator, values };
  });
  return { matchLabels, requirements };
}

function selectorMatches(selector: Selector, labels: Labels): boolean {
  for (const [k, v] of selector.matchLabels) if (labels[k] !== v) return false;
  for (const { key, operator, values } of selector.requirements) {
    const has = Object.prototype.hasOwnProperty.call(labels, key);
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
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) r.fail(path, `expected a port number 1-65535, got ${describe(value)}`);
  return value;
}

function parsePortSpec(r: Reader, value: unknown, path: string): PortSpec {
  const rec = r.record(value, path, ["protocol", "port", "endPort"]);
  let protocol: Protocol = "TCP";
  if (rec.protocol !== undefined && rec.protocol !== null) {
    if (typeof rec.protocol !== "string" || !(PROTOCOLS as readonly string[]).includes(rec.protocol)) r.fail(`${path}.protocol`, `${describe(rec.protocol)} is not one of ${PROTOCOLS.join(", ")}`);
    protocol = rec.protocol as Protocol;
  }
  let port: number | string | undefined;
  if (typeof rec.port === "string") {
    if (!IANA_SVC_NAME.test(rec.port)) r.fail(`${path}.port`, `${JSON.stringify(rec.port)} is neither a number nor a valid port name (IANA_SVC_NAME)`);
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
function normalizeHost(text: string): string | undefined {
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

function buildModel(objects: readonly unknown[], extraNamespaces: NamespaceLabels): Model {
  if (!Array.isArray(objects)) throw new Error(`netpol: expected a list of Kubernetes objects, got ${describe(objects)}`);
  const policies: Policy[] = [];
  const fqdnPolicies: FqdnPolicy[] = [];
  const namespaces = new Map<string, Labels>();
  objects.forEach((obj, index) => {
    if (!isRecord(obj)) return;
    const { kind, apiVersion } = obj;
    if (kind === "NetworkPolicy" && apiVersion === NETPOL_API) policies.push(parsePolicy(obj, index));
    else if (kind === "FQDNNetworkPolicy" && typeof apiVersion === "string" && apiVersion.startsWith(FQDN_GROUP)) fqdnPolicies.push(parseFqdnPolicy(obj, index));
    else if (kind === "Namespace" && apiVersion === "v1") {
      const meta = obj.metadata;
      const name = isRecord(meta) ? meta.name : undefined;
      const r = new Reader(`Namespace ${typeof name === "string" ? name : `#${index}`}`);
      const nsName = r.string(name, "metadata.name");
      namespaces.set(nsName, Object.fromEntries(r.labels(isRecord(meta) ? meta.labels : undefined, "metadata.labels")));
    }
  });
  for (const [kind, list] of [["NetworkPolicy", policies], ["FQDNNetworkPolicy", fqdnPolicies]] as const) {
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
  return ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
}

// ---------------------------------------------------------------------------------------------
// Evaluation

interface Query {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly port: number;
  readonly protocol: Protocol;
}

function validateEndpoint(e: Endpoint, role: string): void {
  if (!isRecord(e)) throw new Error(`netpol: ${role} endpoint: expected an object`);
  if (e.kind === "pod") {
    if (typeof e.namespace !== "string" || e.namespace === "") throw new Error(`netpol: ${role} pod endpoint needs a namespace`);
    if (!isRecord(e.labels)) throw new Error(`netpol: ${role} pod endpoint needs labels (use {} for none)`);
    if (e.ip !== undefined && !parseIp(e.ip)) throw new Error(`netpol: ${role} pod endpoint: ${JSON.stringify(e.ip)} is not an IP address`);
  } else if (e.kind === "external") {
    if (typeof e.ip !== "string" || !parseIp(e.ip)) throw new Error(`netpol: ${role} external endpoint: ${JSON.stringify(e.ip)} is not an IP address`);
  } else {
    throw new Error(`netpol: ${role} endpoint: kind must be "pod" or "external"`);
  }
}

function normalizeQuery(c: Connection): Query {
  validateEndpoint(c.from, "source");
  validateEndpoint(c.to, "destination");
  if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535) throw new Error(`netpol: port ${String(c.port)} is not 1-65535`);
  const protocol = c.protocol ?? "TCP";
  if (!PROTOCOLS.includes(protocol)) throw new Error(`netpol: protocol ${String(protocol)} is not one of ${PROTOCOLS.join(", ")}`);
  return { from: c.from, to: c.to, port: c.port, protocol };
}

function describeEndpoint(e: Endpoint): string {
  return e.kind === "pod" ? `pod in ${e.namespace}` : `${e.name ?? e.ip}`;
}

function peerMatches(peer: Peer, policyNamespace: string, endpoint: Endpoint, model: Model): boolean {
  if (peer.kind === "ipBlock") {
    const ip = endpoint.ip;
    return ip !== undefined && cidrContains(peer.cidr, ip) && !peer.except.some((e) => cidrContains(e, ip));
  }
  if (endpoint.kind !== "pod") return false;
  if (peer.namespaces === undefined) {
    if (endpoint.namespace !== policyNamespace) return false;
  } else if (!selectorMatches(peer.namespaces, model.namespaceLabels(endpoint.namespace))) {
    return false;
  }
  return peer.pods === undefined || selectorMatches(peer.pods, endpoint.labels);
}

function resolveNamedPort(destination: Endpoint, name: string): { port: number; protocol: Protocol } | undefined {
  if (destination.kind !== "pod") return undefined;
  const named = destination.namedPorts?.[name];
  if (named === undefined) return undefined;
  return typeof named === "number" ? { port: named, protocol: "TCP" } : { port: named.port, protocol: named.protocol ?? "TCP" };
}

/** Whether a port entry admits the query; named-port misses are recorded in `notes`. */
function portMatches(spec: PortSpec, q: Query, where: string, notes: string[]): boolean {
  if (spec.protocol !== q.protocol) return false;
  if (spec.port === undefined) return true;
  if (typeof spec.port === "number") return spec.endPort === undefined ? q.port === spec.port : q.port >= spec.port && q.port <= spec.endPort;
  const resolved = resolveNamedPort(q.to, spec.port);
  if (resolved === undefined) {
    notes.push(`${where} names port "${spec.port}", which the destination (${describeEndpoint(q.to)}) does not declare in namedPorts, so it does not match port ${q.port}`);
    return false;
  }
  return resolved.protocol === spec.protocol && resolved.port === q.port;
}

function directionVerdict(direction: "ingress" | "egress", model: Model, q: Query): Verdict {
  const subject = direction === "egress" ? q.from : q.to;
  const peer = direction === "egress" ? q.to : q.from;
  if (subject.kind !== "pod") {
    return { allowed: true, isolated: false, reason: `${direction} not checked: the ${direction === "egress" ? "source" : "destination"} is external` };
  }
  const selecting = model.policies.filter((p) => p.namespace === subject.namespace && p[direction] !== undefined && selectorMatches(p.podSelector, subject.labels));
  if (selecting.length === 0) {
    return { allowed: true, isolated: false, reason: `${direction} allowed: no NetworkPolicy selects the pod for ${direction} (not isolated)` };
  }
  const notes: string[] = [];
  for (const policy of selecting) {
    const rules = policy[direction] ?? [];
    for (const [i, rule] of rules.entries()) {
      const where = `${policy.id} rule ${i}`;
      if (rule.peers !== undefined && !rule.peers.some((p) => peerMatches(p, policy.namespace, peer, model))) continue;
      if (rule.ports !== undefined && !rule.ports.some((s) => portMatches(s, q, where, notes))) continue;
      return { allowed: true, isolated: true, matchedBy: where, reason: `${direction} allowed by ${where}` };
    }
  }
  const ids = selecting.map((p) => p.id);
  const note = notes.length > 0 ? ` (note: ${[...new Set(notes)].join("; ")})` : "";
  return {
    allowed: false,
    isolated: true,
    reason: `${direction} denied: ${ids.join(", ")} ${ids.length === 1 ? "isolates" : "isolate"} the pod and no rule matches${note}`,
  };
}

function fqdnVerdict(model: Model, src: Endpoint, host: string, port: number, protocol: Protocol): Verdict {
  const name = normalizeHost(host);
  if (name === undefined) throw new Error(`netpol: ${JSON.stringify(host)} is not a DNS name`);
  if (src.kind !== "pod") return { allowed: false, isolated: false, reason: `FQDNNetworkPolicy does not apply: the source is external` };
  const selecting = model.fqdnPolicies.filter((p) => p.namespace === src.namespace && selectorMatches(p.podSelector, src.labels));
  if (selecting.length === 0) return { allowed: false, isolated: false, reason: `no FQDNNetworkPolicy selects the pod` };
  const q: Query = { from: src, to: { kind: "external", ip: "0.0.0.0", name }, port, protocol };
  for (const policy of selecting) {
    for (const [i, rule] of policy.rules.entries()) {
      const where = `${policy.id} rule ${i}`;
      if (!rule.names.some((n) => fqdnMatches(n, name))) continue;
      if (rule.ports !== undefined && !rule.ports.some((s) => portMatches(s, q, where, []))) continue;
      return { allowed: true, isolated: true, matchedBy: `FQDNNetworkPolicy ${where}`, reason: `egress to ${name} allowed by FQDNNetworkPolicy ${where}` };
    }
  }
  return { allowed: false, isolated: true, reason: `no rule of FQDNNetworkPolicy ${selecting.map((p) => p.id).join(", ")} allows ${name}:${port}/${protocol}` };
}

/** `*.example.com` matches exactly one more label (`a.example.com`, not `example.com` nor `a.b.example.com`). */
function fqdnMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith("*.")) return pattern === host;
  const suffix = pattern.slice(1);
  return host.endsWith(suffix) && !host.slice(0, -suffix.length).includes(".") && host.length > suffix.length;
}

function evaluateModel(model: Model, connection: Connection): Decision {
  const q = normalizeQuery(connection);
  let egress = directionVerdict("egress", model, q);
  if (!egress.allowed && q.from.kind === "pod" && q.to.kind === "external" && q.to.name !== undefined) {
    // FQDNNetworkPolicy is additive to NetworkPolicy egress when the destination is asked by name.
    const fqdn = fqdnVerdict(model, q.from, q.to.name, q.port, q.protocol);
    egress = fqdn.allowed
      ? { allowed: true, isolated: true, ...(fqdn.matchedBy ? { matchedBy: fqdn.matchedBy } : {}), reason: fqdn.reason }
      : fqdn.isolated
        ? { ...egress, reason: `${egress.reason}; ${fqdn.reason}` }
        : egress;
  }
  const ingress = directionVerdict("ingress", model, q);
  const allowed = egress.allowed && ingress.allowed;
  // Denied: every denying direction. Allowed: the rules that allowed it, else (nothing
  // isolated) why each checked direction is open.
  const both = [egress, ingress];
  const deciding = allowed ? both.filter((v) => v.matchedBy !== undefined) : both.filter((v) => !v.allowed);
  const fallback = [...(q.from.kind === "pod" ? [egress] : []), ...(q.to.kind === "pod" ? [ingress] : [])];
  const reason = (deciding.length > 0 ? deciding : fallback.length > 0 ? fallback : both).map((v) => v.reason).join("; ");
  return { allowed, egress, ingress, reason };
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Decides whether `connection.from` may reach `connection.to` on `port`/`protocol` (TCP by
 * default): allowed iff egress from the source is allowed (checked only when it is a pod) and
 * ingress to the destination is allowed (checked only when it is a pod). When the destination
 * is external and has a `name`, FQDNNetworkPolicy egress rules for the source pod are added to
 * NetworkPolicy egress (see {@link fqdnAllows}).
 *
 * @param objects - Parsed Kubernetes objects; NetworkPolicy, Namespace and FQDNNetworkPolicy are read, others ignored.
 * @param connection - The connection to decide.
 * @param namespaces - Labels of namespaces that have no Namespace object in `objects` (e.g. kube-system).
 * @throws Error naming the policy and field when a policy is malformed, or when the query is invalid.
 */
export function evaluate(objects: readonly unknown[], connection: Connection, namespaces: NamespaceLabels = {}): Decision {
  return evaluateModel(buildModel(objects, namespaces), connection);
}

/**
 * Whether some FQDNNetworkPolicy (`networking.gke.io`, `spec.egress[].matches[].name|pattern`) selecting the
 * source pod allows egress to `host` on `port`/`protocol`. `allowed` means "an FQDN rule allows
 * it", not "the connection is allowed"; `isolated` means some FQDNNetworkPolicy selects the pod.
 * Names compare case-insensitively without a trailing dot; `*.example.com` matches exactly one
 * further label. A rule without `ports` allows every port; named ports never match here.
 *
 * @throws Error naming the policy when an FQDNNetworkPolicy (or any NetworkPolicy) is malformed, or when `host` is not a DNS name.
 */
export function fqdnAllows(objects: readonly unknown[], src: Endpoint, host: string, port: number, protocol: Protocol = "TCP"): Verdict {
  const model = buildModel(objects, {});
  validateEndpoint(src, "source");
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`netpol: port ${String(port)} is not 1-65535`);
  return fqdnVerdict(model, src, host, port, protocol);
}

/**
 * Evaluates every check (endpoint names are keys of `endpoints`), in the given order.
 *
 * @throws Error when a check names an unknown endpoint, or as {@link evaluate}.
 */
export function matrix(objects: readonly unknown[], endpoints: Readonly<Record<string, Endpoint>>, checks: readonly MatrixCheck[], namespaces: NamespaceLabels = {}): MatrixRow[] {
  const model = buildModel(objects, namespaces);
  const endpoint = (name: string): Endpoint => {
    const e = Object.prototype.hasOwnProperty.call(endpoints, name) ? endpoints[name] : undefined;
    if (e === undefined) throw new Error(`netpol: unknown endpoint "${name}" (known: ${Object.keys(endpoints).join(", ")})`);
    return e;
  };
  return checks.map((c) => {
    const protocol = c.protocol ?? "TCP";
    const d = evaluateModel(model, { from: endpoint(c.from), to: endpoint(c.to), port: c.port, protocol });
    return { from: c.from, to: c.to, port: c.port, protocol, allowed: d.allowed, reason: d.reason };
  });
}

/**
 * Renders matrix rows as a plain-text table (columns FROM, TO, PORT, RESULT, REASON), one line
 * per row in the given order, columns padded, no trailing spaces, ending with a newline.
 */
export function formatMatrix(rows: readonly MatrixRow[]): string {
  const table = [["FROM", "TO", "PORT", "RESULT", "REASON"], ...rows.map((r) => [r.from, r.to, `${r.port}/${r.protocol}`, r.allowed ? "allow" : "DENY", r.reason])];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...table.map((row) => (row[i] ?? "").length)));
  return table.map((row) => row.map((cell, i) => (i < widths.length ? cell.padEnd(widths[i] ?? 0) : cell)).join("  ").trimEnd()).join("\n") + "\n";
}

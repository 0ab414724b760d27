/**
 * Evaluation: whether a connection is allowed, by NetworkPolicy semantics (each direction on its
 * own, policies a union) and GKE FQDNNetworkPolicy egress rules (see `index.ts` for the decisions).
 */
import { cidrContains, parseIp } from "../../lib/cidr.ts";
import { buildModel, isRecord, normalizeHost, PROTOCOLS, selectorMatches, type Model, type Peer, type PortSpec } from "./model.ts";
import type { Connection, Decision, Endpoint, NamespaceLabels, Protocol, Verdict } from "./types.ts";

interface Query {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly port: number;
  readonly protocol: Protocol;
}

export function validateEndpoint(e: Endpoint, role: string): void {
  if (!isRecord(e)) throw new Error(`netpol: ${role} endpoint: expected an object`);
  if (e.kind === "pod") {
    if (typeof e.namespace !== "string" || e.namespace === "") throw new Error(`netpol: ${role} pod endpoint needs a namespace`);
    if (!isRecord(e.labels)) throw new Error(`netpol: ${role} pod endpoint needs labels (use {} for none)`);
    if (e.ip !== undefined && !parseIp(e.ip)) throw new Error(`netpol: ${role} pod endpoint: ${JSON.stringify(e.ip)} is not an IP address`);
  } else if (e.kind === "external") {
    if (typeof e.ip !== "string" || !parseIp(e.ip))
      throw new Error(`netpol: ${role} external endpoint: ${JSON.stringify(e.ip)} is not an IP address`);
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
  if (typeof spec.port === "number")
    return spec.endPort === undefined ? q.port === spec.port : q.port >= spec.port && q.port <= spec.endPort;
  const resolved = resolveNamedPort(q.to, spec.port);
  if (resolved === undefined) {
    notes.push(
      `${where} names port "${spec.port}", which the destination (${describeEndpoint(q.to)}) does not declare in namedPorts, so it does not match port ${q.port}`,
    );
    return false;
  }
  return resolved.protocol === spec.protocol && resolved.port === q.port;
}

function directionVerdict(direction: "ingress" | "egress", model: Model, q: Query): Verdict {
  const subject = direction === "egress" ? q.from : q.to;
  const peer = direction === "egress" ? q.to : q.from;
  if (subject.kind !== "pod") {
    return {
      allowed: true,
      isolated: false,
      reason: `${direction} not checked: the ${direction === "egress" ? "source" : "destination"} is external`,
    };
  }
  const selecting = model.policies.filter(
    (p) => p.namespace === subject.namespace && p[direction] !== undefined && selectorMatches(p.podSelector, subject.labels),
  );
  if (selecting.length === 0) {
    return {
      allowed: true,
      isolated: false,
      reason: `${direction} allowed: no NetworkPolicy selects the pod for ${direction} (not isolated)`,
    };
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

export function fqdnVerdict(model: Model, src: Endpoint, host: string, port: number, protocol: Protocol): Verdict {
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
      return {
        allowed: true,
        isolated: true,
        matchedBy: `FQDNNetworkPolicy ${where}`,
        reason: `egress to ${name} allowed by FQDNNetworkPolicy ${where}`,
      };
    }
  }
  return {
    allowed: false,
    isolated: true,
    reason: `no rule of FQDNNetworkPolicy ${selecting.map((p) => p.id).join(", ")} allows ${name}:${port}/${protocol}`,
  };
}

/** `*.example.com` matches exactly one more label (`a.example.com`, not `example.com` nor `a.b.example.com`). */
function fqdnMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith("*.")) return pattern === host;
  const suffix = pattern.slice(1);
  return host.endsWith(suffix) && !host.slice(0, -suffix.length).includes(".") && host.length > suffix.length;
}

export function evaluateModel(model: Model, connection: Connection): Decision {
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

/** The evaluator's public types: endpoints, connections, verdicts and matrix rows (see `index.ts`). */

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

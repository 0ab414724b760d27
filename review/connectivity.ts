/**
 * The connectivity matrix the plan promises: who may reach whom, on which port. Evaluated
 * against the synthesized NetworkPolicies by `lib/netpol.ts`; the tests assert every row and
 * `npm run review` prints it.
 */
import type { PlueConfig } from "../config/schema.ts";
import { K8S } from "../lib/k8s-names.ts";
import { matrix, type Endpoint, type MatrixCheck, type MatrixRow, type NamespaceLabels } from "./netpol/index.ts";

/** One promised flow and whether it must be allowed. */
export interface ExpectedFlow extends MatrixCheck {
  readonly expect: "allow" | "deny";
}

/**
 * Endpoints of the matrix: sample pods by their real labels, sample external addresses. A runner
 * reaches the gateway and the API callback through Services on fixed cluster IPs; policy applies
 * after the Service is translated to a pod, so the matrix names the pods (on the Services' ports,
 * which equal their target ports).
 */
export function planEndpoints(config: PlueConfig): Record<string, Endpoint> {
  const sqlIp = config.network.privateServicesCidr.replace(/\.0\/\d+$/, ".5");
  /** A sample pod of one of the platform's apps, with the labels its chart gives it. */
  const pod = (namespace: string, app: string): Endpoint => ({
    kind: "pod",
    namespace,
    labels: { "app.kubernetes.io/name": app, "app.kubernetes.io/part-of": config.name },
  });
  return {
    runner: pod(K8S.namespaces.runners, K8S.apps.runner),
    "other-runner": pod(K8S.namespaces.runners, K8S.apps.runner),
    api: pod(K8S.namespaces.api, K8S.apps.api),
    "egress-gateway": pod(K8S.namespaces.egress, K8S.apps.egressGateway),
    "schema-migrate": pod(K8S.namespaces.api, K8S.apps.migrate),
    "external-secrets": {
      kind: "pod",
      namespace: config.externalSecrets.namespace,
      labels: { "app.kubernetes.io/name": "external-secrets", "app.kubernetes.io/instance": "external-secrets" },
    },
    "default pod": { kind: "pod", namespace: "default", labels: { app: "anything" } },
    "kube-dns": { kind: "pod", namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
    "api.anthropic.com": { kind: "external", ip: "160.79.104.10", name: "api.anthropic.com" },
    "api.anthropic.com (v6)": { kind: "external", ip: "2607:6bc0::10", name: "api.anthropic.com" },
    "metadata-server": { kind: "external", ip: "169.254.169.254", name: "metadata.google.internal" },
    "cloud-sql": { kind: "external", ip: sqlIp },
    "internet 8.8.8.8": { kind: "external", ip: "8.8.8.8" },
    "load-balancer": { kind: "external", ip: "35.191.10.10" },
    "internet client": { kind: "external", ip: "203.0.113.9" },
  };
}

/** The flows the plan promises, in review order. */
export function planFlows(config: PlueConfig): ExpectedFlow[] {
  const cb = config.api.callbackPort;
  const gw = config.egressGateway;
  return [
    // Runners: the gateway's proxy port and the API's callback port, nothing else. No DNS at all
    // (an exfiltration channel), and Anthropic only through the gateway.
    { from: "runner", to: "egress-gateway", port: gw.port, expect: "allow" },
    { from: "runner", to: "egress-gateway", port: gw.healthPort, expect: "deny" },
    { from: "runner", to: "api", port: cb, expect: "allow" },
    { from: "runner", to: "api", port: config.api.port, expect: "deny" },
    { from: "runner", to: "kube-dns", port: 53, protocol: "UDP", expect: "deny" },
    { from: "runner", to: "kube-dns", port: 53, protocol: "TCP", expect: "deny" },
    { from: "runner", to: "internet 8.8.8.8", port: 53, protocol: "UDP", expect: "deny" },
    { from: "runner", to: "internet 8.8.8.8", port: 53, protocol: "TCP", expect: "deny" },
    { from: "runner", to: "api.anthropic.com", port: 443, expect: "deny" },
    { from: "runner", to: "api.anthropic.com (v6)", port: 443, expect: "deny" },
    { from: "runner", to: "api.anthropic.com", port: 80, expect: "deny" },
    { from: "runner", to: "metadata-server", port: 80, expect: "deny" },
    { from: "runner", to: "metadata-server", port: 988, expect: "deny" },
    { from: "runner", to: "cloud-sql", port: 5432, expect: "deny" },
    { from: "runner", to: "other-runner", port: 8080, expect: "deny" },
    { from: "runner", to: "internet 8.8.8.8", port: 443, expect: "deny" },
    // The gateway: DNS, and Anthropic on 443; nothing else.
    { from: "egress-gateway", to: "api.anthropic.com", port: 443, expect: "allow" },
    { from: "egress-gateway", to: "api.anthropic.com (v6)", port: 443, expect: "allow" },
    { from: "egress-gateway", to: "api.anthropic.com", port: 80, expect: "deny" },
    { from: "egress-gateway", to: "kube-dns", port: 53, protocol: "UDP", expect: "allow" },
    { from: "egress-gateway", to: "kube-dns", port: 53, protocol: "TCP", expect: "allow" },
    { from: "egress-gateway", to: "internet 8.8.8.8", port: 53, protocol: "UDP", expect: "deny" },
    { from: "egress-gateway", to: "metadata-server", port: 80, expect: "deny" },
    { from: "egress-gateway", to: "cloud-sql", port: 5432, expect: "deny" },
    { from: "egress-gateway", to: "runner", port: 8080, expect: "deny" },
    { from: "egress-gateway", to: "api", port: cb, expect: "deny" },
    { from: "egress-gateway", to: "internet 8.8.8.8", port: 443, expect: "deny" },
    // Only runners reach the gateway.
    { from: "api", to: "egress-gateway", port: gw.port, expect: "deny" },
    { from: "schema-migrate", to: "egress-gateway", port: gw.port, expect: "deny" },
    { from: "external-secrets", to: "egress-gateway", port: gw.port, expect: "deny" },
    { from: "default pod", to: "egress-gateway", port: gw.port, expect: "deny" },
    { from: "kube-dns", to: "egress-gateway", port: gw.port, expect: "deny" },
    { from: "internet client", to: "egress-gateway", port: gw.port, expect: "deny" },
    { from: "api", to: "cloud-sql", port: 5432, expect: "allow" },
    { from: "api", to: "kube-dns", port: 53, protocol: "UDP", expect: "allow" },
    { from: "api", to: "runner", port: 8080, expect: "deny" },
    { from: "api", to: "internet 8.8.8.8", port: 443, expect: "deny" },
    { from: "load-balancer", to: "api", port: config.api.port, expect: "allow" },
    { from: "internet client", to: "api", port: config.api.port, expect: "deny" },
    { from: "internet client", to: "runner", port: 8080, expect: "deny" },
    { from: "kube-dns", to: "runner", port: 8080, expect: "deny" },
  ];
}

/** Namespaces the plan does not declare but policies select (labels as GKE sets them). */
export const SYSTEM_NAMESPACES: NamespaceLabels = { "kube-system": { "kubernetes.io/metadata.name": "kube-system" } };

/** Evaluates the promised flows against `objects` (every synthesized Kubernetes object). */
export function planMatrix(objects: readonly unknown[], config: PlueConfig): (MatrixRow & { readonly expect: "allow" | "deny" })[] {
  const flows = planFlows(config);
  return matrix(objects, planEndpoints(config), flows, SYSTEM_NAMESPACES).map((row, i) => ({
    ...row,
    expect: (flows[i] as ExpectedFlow).expect,
  }));
}

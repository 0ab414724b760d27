/**
 * Fixed in-cluster names (not derived from the environment): namespaces, pod labels, service
 * accounts, the Secrets External Secrets writes, the runners' fixed host names, the NEG and the
 * gVisor runtime. Charts, stacks and the review read them from here, so a rename is one edit.
 */

export const K8S = {
  namespaces: { api: "api", runners: "runners", egress: "egress" },
  /** `app.kubernetes.io/name` of each workload's pods. */
  apps: { api: "api", runner: "runner", migrate: "schema-migrate", egressGateway: "egress-gateway" },
  serviceAccounts: { api: "api", runner: "runner", migrate: "schema-migrate", egressGateway: "egress-gateway" },
  /** Secrets created by ExternalSecrets (target.creationPolicy: Owner). */
  secrets: { api: "api-env", migrate: "schema-migrate-env", egress: "egress-gateway-upstream-auth" },
  /** The API's Service for runner callbacks (fixed clusterIP, the callback port only). */
  apiCallbackService: "api-callback",
  /**
   * Host names runner pods reach the egress gateway and the API's callback by: runners have no
   * DNS, so these are `hostAliases` entries of the runner template, mapped to the Services' fixed
   * cluster IPs.
   */
  runnerHosts: { gateway: "egress-gateway", callback: "api-callback" },
  /** Name of the standalone NEG the edge load balancer uses (one per zone). */
  apiNeg: "api-neg",
  /** Label that GKE puts on gVisor nodes, and the RuntimeClass name. */
  sandboxNodeLabel: "sandbox.gke.io/runtime",
  runtimeClass: "gvisor",
} as const;

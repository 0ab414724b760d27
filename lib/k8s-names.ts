/**
 * Fixed in-cluster names (not derived from the environment): namespaces, pod labels, service
 * accounts, the Secrets External Secrets writes, the NEG and the gVisor runtime. Charts, stacks
 * and the review read them from here, so a rename is one edit.
 */

export const K8S = {
  namespaces: { api: "api", runners: "runners" },
  /** `app.kubernetes.io/name` of each workload's pods. */
  apps: { api: "api", runner: "runner", migrate: "schema-migrate" },
  serviceAccounts: { api: "api", runner: "runner", migrate: "schema-migrate" },
  /** Secrets created by ExternalSecrets (target.creationPolicy: Owner). */
  secrets: { api: "api-env", migrate: "schema-migrate-env" },
  /** Name of the standalone NEG the edge load balancer uses (one per zone). */
  apiNeg: "api-neg",
  /** Label that GKE puts on gVisor nodes, and the RuntimeClass name. */
  sandboxNodeLabel: "sandbox.gke.io/runtime",
  runtimeClass: "gvisor",
} as const;

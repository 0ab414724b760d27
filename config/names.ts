/**
 * Every resource name in the plan, derived from the config's `name` prefix. Stacks refer to
 * each other's resources through these names (and explicit stack dependencies), so a name is
 * written in one place only.
 */
import type { PlueConfig } from "./schema.ts";

/** Resource names for one environment. */
export interface Names {
  readonly network: string;
  readonly subnet: string;
  readonly router: string;
  readonly nat: string;
  readonly privateServicesRange: string;
  readonly keyRing: string;
  readonly stateKeyRing: string;
  readonly stateKey: string;
  readonly clusterSecretsKey: string;
  readonly ciServiceAccount: string;
  readonly cluster: string;
  readonly nodeServiceAccount: string;
  readonly sqlInstance: string;
  readonly podsRange: string;
  readonly servicesRange: string;
}

/** Names for `config`, all `prefix + name`. */
export function names(config: PlueConfig): Names {
  const p = config.name;
  return {
    network: `${p}-vpc`,
    subnet: `${p}-${config.project.region}`,
    router: `${p}-router`,
    nat: `${p}-nat`,
    privateServicesRange: `${p}-private-services`,
    keyRing: `${p}-keyring`,
    stateKeyRing: `${p}-tfstate-keyring`,
    stateKey: `${p}-tfstate`,
    clusterSecretsKey: `${p}-gke-secrets`,
    ciServiceAccount: `${p}-ci`,
    cluster: `${p}-gke`,
    nodeServiceAccount: `${p}-gke-nodes`,
    sqlInstance: `${p}-pg`,
    podsRange: "pods",
    servicesRange: "services",
  };
}

/** Full id of the environment's VPC network. */
export function networkId(config: PlueConfig): string {
  return `projects/${config.project.id}/global/networks/${names(config).network}`;
}

/** Full id of the environment's KMS key ring. */
export function keyRingId(config: PlueConfig): string {
  return `projects/${config.project.id}/locations/${config.project.region}/keyRings/${names(config).keyRing}`;
}

/** Secret Manager secret id of a configured secret: `<prefix>-<name>`. */
export function secretId(config: PlueConfig, name: string): string {
  return `${config.name}-${name}`;
}

/**
 * The in-cluster names every chart and stack agree on: namespaces, service accounts, pod
 * labels, and the Secrets that External Secrets writes. One place, so a rename is one edit.
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

/** The database user the API and the schema Job connect as (password in Secret Manager). */
export const DB_USER = "plue_app";

/** Secret Manager secret id holding the Cloud SQL private IP (written by the data stack, not a secret value). */
export function dbHostSecretId(config: PlueConfig): string {
  return `${config.name}-db-host`;
}

/** The configured secret that holds the database user's password. */
export const DB_PASSWORD_SECRET = "db-password";

/** Environment variable names the External Secrets template writes itself. */
export const RESERVED_SECRET_ENVS = ["DATABASE_HOST", "DATABASE_URL"] as const;

/**
 * Secrets the plan cannot do without, and the consumers each must list: the connection string
 * of the API and the schema Job, and the two private keys the edge stack reads at apply.
 */
export const REQUIRED_SECRETS: Readonly<Record<string, readonly string[]>> = {
  [DB_PASSWORD_SECRET]: ["api", "migrate", "data"],
  "origin-client-key": ["edge"],
  "origin-key": ["edge"],
};

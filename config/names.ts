/**
 * Every name the plan derives from the environment, made here and nowhere else: resource names
 * (`prefix + name`), full resource ids, service account ids and e-mails, Secret Manager secret ids.
 * Stacks refer to each other's resources through these names (and explicit stack dependencies);
 * the mapping from config to construct and chart props (`app/`) reads them from here too.
 */
import type { PlueConfig } from "./schema.ts";
import { HOST_SECRET } from "./secrets.ts";

/**
 * Consumers that read secrets in the cluster, each through its own External Secrets identity:
 * the API, the schema Job, and the runners' egress gateway (the Anthropic API key only).
 */
export const ESO_CONSUMERS = ["api", "migrate", "egress"] as const;

/** A consumer that reads secrets through External Secrets. */
export type EsoConsumer = (typeof ESO_CONSUMERS)[number];

/**
 * The identity External Secrets uses for one consumer: a Google service account (secrets stack),
 * the Kubernetes service account in the operator's namespace that impersonates it through
 * Workload Identity (platform stack), and the ClusterSecretStore that uses it (external-secrets chart).
 */
export interface EsoIdentity {
  /** Which consumer's secrets this identity reads. */
  readonly consumer: EsoConsumer;
  /** Google service account id, `<prefix>-eso-<consumer>`. */
  readonly accountId: string;
  /** Google service account e-mail. */
  readonly email: string;
  /** IAM member string of the Google service account. */
  readonly member: string;
  /** Kubernetes service account (in the operator's namespace) annotated with {@link email}. */
  readonly kubernetesServiceAccount: string;
  /** ClusterSecretStore that authenticates as {@link kubernetesServiceAccount}. */
  readonly store: string;
}

/** Resource names for one environment. */
export interface Names {
  readonly network: string;
  readonly subnet: string;
  readonly router: string;
  readonly nat: string;
  readonly privateServicesRange: string;
  /** Private DNS zone answering `*.googleapis.com` with private.googleapis.com. */
  readonly googleApisZone: string;
  /** Firewall rule denying all ingress at the lowest priority. */
  readonly denyAllIngressFirewall: string;
  /** Firewall rule letting the load balancer's proxies and health checks reach the API pods. */
  readonly lbToApiFirewall: string;
  readonly keyRing: string;
  readonly stateKeyRing: string;
  readonly stateKey: string;
  readonly clusterSecretsKey: string;
  readonly ciServiceAccount: string;
  /** Read-only service account of the pull-request plan job. */
  readonly ciPlanServiceAccount: string;
  /** Workload Identity pool and provider GitHub Actions federates through. */
  readonly githubPool: string;
  readonly githubProvider: string;
  /** Custom role id (letters, digits, `_`): Secret Manager without reading secret values. */
  readonly ciSecretManagerRole: string;
  readonly cluster: string;
  readonly nodeServiceAccount: string;
  /** Google service account of the API pods (Workload Identity). */
  readonly apiServiceAccount: string;
  /** Node pool names. */
  readonly systemPool: string;
  readonly sandboxPool: string;
  readonly sqlInstance: string;
  readonly podsRange: string;
  readonly servicesRange: string;
  /** Prefix of every edge resource (load balancer, Cloud Armor, address). */
  readonly edgePrefix: string;
}

/** Longest Google service account id (`account_id`). */
export const MAX_ACCOUNT_ID = 30;

/** Names for `config`, all `prefix + name`. */
export function names(config: PlueConfig): Names {
  const p = config.name;
  const network = `${p}-vpc`;
  return {
    network,
    subnet: `${p}-${config.project.region}`,
    router: `${p}-router`,
    nat: `${p}-nat`,
    privateServicesRange: `${p}-private-services`,
    googleApisZone: `${network}-googleapis`,
    denyAllIngressFirewall: `${network}-deny-all-ingress`,
    lbToApiFirewall: `${network}-allow-lb-to-api`,
    keyRing: `${p}-keyring`,
    stateKeyRing: `${p}-tfstate-keyring`,
    stateKey: `${p}-tfstate`,
    clusterSecretsKey: `${p}-gke-secrets`,
    ciServiceAccount: `${p}-ci`,
    ciPlanServiceAccount: `${p}-ci-plan`,
    githubPool: `${p}-github`,
    githubProvider: "github-actions",
    ciSecretManagerRole: `${p.replace(/-/g, "_")}_ci_secret_manager`,
    cluster: `${p}-gke`,
    nodeServiceAccount: `${p}-gke-nodes`,
    apiServiceAccount: `${p}-api`,
    systemPool: "system",
    sandboxPool: "sandbox",
    sqlInstance: `${p}-pg`,
    podsRange: "pods",
    servicesRange: "services",
    edgePrefix: `${p}-edge`,
  };
}

/** E-mail of a service account of the environment's project. */
export function serviceAccountEmail(config: PlueConfig, accountId: string): string {
  return `${accountId}@${config.project.id}.iam.gserviceaccount.com`;
}

/** GitHub environments whose jobs may obtain cloud credentials: deploy and drift jobs, and pull-request plan jobs. */
export function githubEnvironments(config: PlueConfig): { readonly deploy: string; readonly plan: string } {
  return { deploy: config.environment, plan: `${config.environment}-plan` };
}

/** IAM member of the read-only pull-request planner (reads the secrets Terraform reads at plan time). */
export function plannerMember(config: PlueConfig): string {
  return `serviceAccount:${serviceAccountEmail(config, names(config).ciPlanServiceAccount)}`;
}

/** Full id of the environment's VPC network. */
export function networkId(config: PlueConfig): string {
  return `projects/${config.project.id}/global/networks/${names(config).network}`;
}

/** Full id of the cluster's subnetwork. */
export function subnetworkId(config: PlueConfig): string {
  return `projects/${config.project.id}/regions/${config.project.region}/subnetworks/${names(config).subnet}`;
}

/** Full id of the environment's KMS key ring. */
export function keyRingId(config: PlueConfig): string {
  return `projects/${config.project.id}/locations/${config.project.region}/keyRings/${names(config).keyRing}`;
}

/** Workload Identity member of a Kubernetes service account: `serviceAccount:<project>.svc.id.goog[<ns>/<ksa>]`. */
export function workloadIdentityMember(config: PlueConfig, namespace: string, kubernetesServiceAccount: string): string {
  return `serviceAccount:${config.project.id}.svc.id.goog[${namespace}/${kubernetesServiceAccount}]`;
}

/** Secret Manager secret id of a configured secret: `<prefix>-<name>`. */
export function secretId(config: PlueConfig, name: string): string {
  return `${config.name}-${name}`;
}

/** Full resource name of a Secret Manager secret of the environment's project. */
export function secretName(config: PlueConfig, id: string): string {
  return `projects/${config.project.id}/secrets/${id}`;
}

/** Secret Manager secret id holding the Cloud SQL private IP (written by the data stack, not a secret value). */
export function dbHostSecretId(config: PlueConfig): string {
  return secretId(config, HOST_SECRET);
}

/**
 * The External Secrets identity of every in-cluster consumer, by consumer.
 * @throws Error when a service account id would exceed 30 characters (a long `name` prefix).
 */
export function esoIdentities(config: PlueConfig): Readonly<Record<EsoConsumer, EsoIdentity>> {
  const identity = (consumer: EsoConsumer): EsoIdentity => {
    const accountId = `${config.name}-eso-${consumer}`;
    if (accountId.length > MAX_ACCOUNT_ID) {
      throw new Error(
        `config: 'name' makes the service account id ${accountId} longer than ${MAX_ACCOUNT_ID} characters (got ${config.name}). Use a prefix of at most ${MAX_ACCOUNT_ID - `-eso-${consumer}`.length} characters.`,
      );
    }
    const email = serviceAccountEmail(config, accountId);
    return {
      consumer,
      accountId,
      email,
      member: `serviceAccount:${email}`,
      kubernetesServiceAccount: `eso-${consumer}`,
      store: `gcp-secret-manager-${consumer}`,
    };
  };
  return { api: identity("api"), migrate: identity("migrate"), egress: identity("egress") };
}

/** The database user the API and the schema Job connect as (password in Secret Manager). */
export const DB_USER = "plue_app";

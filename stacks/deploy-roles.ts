/**
 * What the CI identities may do, role by role, each with the stack resources that need it
 * (docs/adr/0014). The deployer applies every stack but `bootstrap` (which an administrator applies:
 * it holds these very grants, so CI never widens its own access) and plans every stack for drift;
 * the planner only plans, without refreshing, in pull requests. Stacks: bootstrap, network,
 * cluster, secrets, data, platform, workloads, edge (README). No basic role (Owner, Editor,
 * Viewer), no project-level Secret Manager accessor: secret values are read per secret (data stack).
 */
import type { CustomRole, IamGrant } from "../constructs/github-deploy-identity.ts";

/** Where the grants point. */
export interface GrantTargets {
  /** The Terraform state bucket. */
  readonly stateBucket: string;
  /** Full id of the region's key ring (the cluster's secrets key is created in it). */
  readonly keyRing: string;
  /** The only project roles the plan grants outside bootstrap (the node service account's). */
  readonly grantableProjectRoles: readonly string[];
  /** Key of the Secret Manager custom role in {@link secretManagerDeployerRole}. */
  readonly secretManagerRoleKey: string;
}

/**
 * Secret Manager without `secretmanager.versions.access`: create and delete secrets, set who reads
 * them, add the Cloud SQL host version — never read a value (the predefined admin role can).
 */
export function secretManagerDeployerRole(roleId: string): CustomRole {
  return {
    roleId,
    title: "plue-infra CI: Secret Manager without access to values",
    description: "Manage secrets, their IAM and versions; read no secret value (docs/adr/0014).",
    permissions: [
      "secretmanager.secrets.create",
      "secretmanager.secrets.delete",
      "secretmanager.secrets.get",
      "secretmanager.secrets.getIamPolicy",
      "secretmanager.secrets.list",
      "secretmanager.secrets.setIamPolicy",
      "secretmanager.secrets.update",
      "secretmanager.versions.add",
      "secretmanager.versions.destroy",
      "secretmanager.versions.disable",
      "secretmanager.versions.enable",
      "secretmanager.versions.get",
      "secretmanager.versions.list",
    ],
  };
}

/** The IAM condition that limits project IAM administration to granting and revoking `roles`. */
export function onlyGrants(roles: readonly string[]): { title: string; expression: string } {
  const list = [...roles]
    .sort()
    .map((r) => `'${r}'`)
    .join(", ");
  return {
    title: "only the node service account's roles",
    expression: `api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([${list}])`,
  };
}

/** Every grant of the deployer (`<prefix>-ci`), by a stable key. */
export function deployerGrants(t: GrantTargets): Record<string, IamGrant> {
  return {
    "compute-network-admin": {
      role: "roles/compute.networkAdmin",
      reason:
        "network: VPC, subnet, router, NAT, private services range; edge: global address, backend service, URL map, HTTPS proxy, forwarding rule, health check; reads the API's NEGs",
    },
    "compute-security-admin": {
      role: "roles/compute.securityAdmin",
      reason: "network and edge: firewall rules; edge: SSL policy and the Cloud Armor security policy (networkAdmin excludes them)",
    },
    "dns-admin": { role: "roles/dns.admin", reason: "network: the private googleapis.com zone and its records" },
    "service-networking": {
      role: "roles/servicenetworking.networksAdmin",
      reason: "network: the private services access peering Cloud SQL's private IP lives on",
    },
    "container-admin": {
      role: "roles/container.admin",
      reason:
        "cluster: the cluster and node pools; platform and workloads: every Kubernetes object and the Helm release, through the IAM-authenticated DNS endpoint",
    },
    "service-account-admin": {
      role: "roles/iam.serviceAccountAdmin",
      reason: "cluster: node and API service accounts; secrets: External Secrets accounts; platform: their Workload Identity bindings",
    },
    "service-account-user": {
      role: "roles/iam.serviceAccountUser",
      reason: "cluster: node pools run as the node service account (actAs); it is created in the same apply",
    },
    "cloudsql-admin": { role: "roles/cloudsql.admin", reason: "data: the Cloud SQL instance, database and user" },
    "secret-manager": {
      role: t.secretManagerRoleKey,
      reason: "secrets: the secrets and who reads each; data: the Cloud SQL host version; no secret value (values are read per secret)",
    },
    "certificate-manager": {
      role: "roles/certificatemanager.owner",
      reason: "edge: origin certificate, certificate map and entry, trust config (editor cannot delete a replaced certificate)",
    },
    "network-security": {
      role: "roles/networksecurity.admin",
      reason: "edge: the ServerTlsPolicy that requires Cloudflare's client certificate",
    },
    "project-iam": {
      role: "roles/resourcemanager.projectIamAdmin",
      reason:
        "cluster: the node service account's project roles, and nothing else (condition); drift: reads the project policy and audit configs",
      condition: onlyGrants(t.grantableProjectRoles),
    },
    "key-ring-admin": {
      role: "roles/cloudkms.admin",
      reason: "cluster: the GKE secrets key in the region's key ring and the GKE agent's use of it (this key ring only)",
      on: { keyRing: t.keyRing },
    },
    browser: { role: "roles/browser", reason: "cluster and data: the google_project data source (project number)" },
    "state-bucket-reader": {
      role: "roles/storage.legacyBucketReader",
      reason: "drift: reads the state bucket's own settings (objects through roles/storage.objectUser, granted beside the account)",
      on: { bucket: t.stateBucket },
    },
    "kms-viewer": { role: "roles/cloudkms.viewer", reason: "drift: reads bootstrap's key rings and keys (no encrypt or decrypt)" },
    "workload-identity-viewer": {
      role: "roles/iam.workloadIdentityPoolViewer",
      reason: "drift: reads this pool and provider (changing them stays with the administrator)",
    },
    "service-usage-viewer": {
      role: "roles/serviceusage.serviceUsageViewer",
      reason: "drift: reads which APIs are enabled (enabling them stays with bootstrap)",
    },
    "security-reviewer": {
      role: "roles/iam.securityReviewer",
      reason: "drift: reads IAM policies (bucket, keys, service accounts, custom roles) that bootstrap sets",
    },
  };
}

/** Every grant of the pull-request planner (`<prefix>-ci-plan`): `terraform plan -refresh=false -lock=false` and nothing more. */
export function plannerGrants(t: GrantTargets): Record<string, IamGrant> {
  return {
    "state-reader": {
      role: "roles/storage.objectViewer",
      reason: "every stack: reads the state to plan against (no lock, no write)",
      on: { bucket: t.stateBucket },
    },
    browser: { role: "roles/browser", reason: "cluster and data: the google_project data source (project number)" },
    "compute-viewer": { role: "roles/compute.viewer", reason: "edge: the data sources that read the API's NEGs" },
    "cluster-viewer": {
      role: "roles/container.clusterViewer",
      reason: "platform and workloads: the cluster data source and authenticating to its endpoint for the Kubernetes and Helm providers",
    },
  };
}

import type { Construct } from "constructs";
import { TerraformOutput } from "cdktf";
import { ProjectService } from "@cdktf/provider-google/lib/project-service";
import { ProjectIamAuditConfig } from "@cdktf/provider-google/lib/project-iam-audit-config";
import { KmsKeyRing } from "@cdktf/provider-google/lib/kms-key-ring";
import { KmsCryptoKey } from "@cdktf/provider-google/lib/kms-crypto-key";
import { KmsCryptoKeyIamMember } from "@cdktf/provider-google/lib/kms-crypto-key-iam-member";
import { DataGoogleStorageProjectServiceAccount } from "@cdktf/provider-google/lib/data-google-storage-project-service-account";
import { StorageBucket } from "@cdktf/provider-google/lib/storage-bucket";
import { StorageBucketIamMember } from "@cdktf/provider-google/lib/storage-bucket-iam-member";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account";
import { IamPropagationWait } from "../constructs/iam-propagation-wait.ts";
import { PlueStack, type PlueStackProps } from "./plue-stack.ts";
import { githubEnvironments, names } from "../config/names.ts";
import { GithubDeployIdentity } from "../constructs/github-deploy-identity.ts";
import { NODE_SERVICE_ACCOUNT_ROLES } from "../constructs/hardened-cluster.ts";
import { deployerGrants, plannerGrants, secretManagerDeployerRole } from "./deploy-roles.ts";

/**
 * Google APIs the plan uses; enabled once here, never disabled on destroy. Every resource type of
 * the plan maps to one of them (the readiness rule DR005 checks it). Enabling an API itself needs
 * `serviceusage` and `cloudresourcemanager`: those two are enabled by hand before the first
 * bootstrap apply (docs/deploy.md), and listed here so the plan keeps them on.
 */
export const REQUIRED_SERVICES = [
  "certificatemanager.googleapis.com",
  "cloudkms.googleapis.com",
  "cloudresourcemanager.googleapis.com",
  "compute.googleapis.com",
  "container.googleapis.com",
  "dns.googleapis.com",
  "iam.googleapis.com",
  "iamcredentials.googleapis.com",
  "logging.googleapis.com",
  "monitoring.googleapis.com",
  "networksecurity.googleapis.com",
  "secretmanager.googleapis.com",
  "servicenetworking.googleapis.com",
  "serviceusage.googleapis.com",
  "sqladmin.googleapis.com",
  "storage.googleapis.com",
  "sts.googleapis.com",
] as const;

/** Enabled beside {@link REQUIRED_SERVICES} when secrets send rotation reminders (`secrets.rotationTopic`). */
export const ROTATION_SERVICE = "pubsub.googleapis.com";

/** Services whose data access is audit-logged (who read a secret, a key, the state). */
export const AUDITED_SERVICES = [
  "cloudkms.googleapis.com",
  // Who exchanged a GitHub token (sts), impersonated a CI account (iamcredentials), changed IAM (iam).
  "iam.googleapis.com",
  "iamcredentials.googleapis.com",
  "secretmanager.googleapis.com",
  "storage.googleapis.com",
  "sts.googleapis.com",
] as const;

/**
 * The `bootstrap` stack: project APIs, audit logging, the KMS key rings (the region's, and one in
 * the state bucket's location for its key), and the encrypted,
 * versioned, private Terraform state bucket every other stack's backend points at, plus the
 * CI deployer identity.
 * @see https://cloud.google.com/docs/terraform/resource-management/store-state
 */
export class BootstrapStack extends PlueStack {
  /** The state bucket. */
  readonly stateBucket: StorageBucket;
  /** The region's key ring (the cluster's secrets key lives there). */
  readonly keyRing: KmsKeyRing;

  constructor(scope: Construct, id: string, props: PlueStackProps) {
    super(scope, id, { ...props, localBackend: props.config.state.bootstrapBackend === "local" });
    const { config } = props;
    const n = names(config);
    const rotationPeriod = `${config.state.kmsRotationDays * 86400}s`;

    const wanted = [...REQUIRED_SERVICES, ...(config.secrets.rotationTopic !== undefined ? [ROTATION_SERVICE] : [])];
    const services = wanted.map(
      (service) =>
        new ProjectService(this, `service-${service.split(".")[0]}`, {
          service,
          disableOnDestroy: false,
          disableDependentServices: false,
        }),
    );

    for (const service of AUDITED_SERVICES) {
      new ProjectIamAuditConfig(this, `audit-${service.split(".")[0]}`, {
        project: config.project.id,
        service,
        auditLogConfig: [{ logType: "ADMIN_READ" }, { logType: "DATA_READ" }, { logType: "DATA_WRITE" }],
        dependsOn: services,
      });
    }

    this.keyRing = new KmsKeyRing(this, "key-ring", {
      name: n.keyRing,
      location: config.project.region,
      dependsOn: services,
      lifecycle: { preventDestroy: true },
    });
    // Cloud Storage requires a CMEK key in the bucket's own location (e.g. "us" for US).
    const stateKeyRing = new KmsKeyRing(this, "state-key-ring", {
      name: n.stateKeyRing,
      location: config.state.location.toLowerCase(),
      dependsOn: services,
      lifecycle: { preventDestroy: true },
    });
    const stateKey = new KmsCryptoKey(this, "state-key", {
      name: n.stateKey,
      keyRing: stateKeyRing.id,
      purpose: "ENCRYPT_DECRYPT",
      rotationPeriod,
      lifecycle: { preventDestroy: true },
    });
    // Read after the storage API is on (a fresh project has no Cloud Storage service agent before).
    const gcsAgent = new DataGoogleStorageProjectServiceAccount(this, "gcs-agent", { dependsOn: services });
    const agentCanUseKey = new KmsCryptoKeyIamMember(this, "state-key-gcs-agent", {
      cryptoKeyId: stateKey.id,
      role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
      member: `serviceAccount:${gcsAgent.emailAddress}`,
    });

    this.stateBucket = new StorageBucket(this, "state-bucket", {
      name: config.state.bucket,
      location: config.state.location,
      storageClass: "STANDARD",
      forceDestroy: false,
      uniformBucketLevelAccess: true,
      publicAccessPrevention: "enforced",
      versioning: { enabled: true },
      encryption: { defaultKmsKeyName: stateKey.id },
      lifecycleRule: [
        {
          action: { type: "Delete" },
          condition: { daysSinceNoncurrentTime: config.state.keepVersionsDays, withState: "ARCHIVED" },
        },
      ],
      // The bucket is created with its CMEK key: the agent's grant must have taken effect.
      dependsOn: [
        new IamPropagationWait(this, "state-key-grant-propagation", { grants: { "state-key-gcs-agent": agentCanUseKey.etag } }).sleep,
      ],
      lifecycle: { preventDestroy: true },
    });

    const ci = new ServiceAccount(this, "ci-identity", {
      accountId: n.ciServiceAccount,
      displayName: "plue-infra CI deployer (cdktf deploy)",
      description: "Used by CI through Workload Identity Federation; no keys are ever created for it.",
      dependsOn: services,
    });
    new StorageBucketIamMember(this, "state-bucket-ci", {
      bucket: this.stateBucket.name,
      role: "roles/storage.objectUser",
      member: ci.member,
    });

    // Keyless CI (docs/adr/0014): GitHub's deploy jobs become `ci`, pull-request plans a read-only planner.
    const targets = {
      stateBucket: this.stateBucket.name,
      keyRing: this.keyRing.id,
      grantableProjectRoles: NODE_SERVICE_ACCOUNT_ROLES,
      secretManagerRoleKey: "secret-manager",
    };
    const environments = githubEnvironments(config);
    const github = new GithubDeployIdentity(this, "github", {
      projectId: config.project.id,
      poolId: n.githubPool,
      providerId: n.githubProvider,
      github: {
        repositoryId: config.ci.repositoryId,
        repositoryOwnerId: config.ci.repositoryOwnerId,
        branch: config.ci.branch,
        deployEnvironment: environments.deploy,
        planEnvironment: environments.plan,
      },
      deployer: { name: ci.name, member: ci.member, grants: deployerGrants(targets) },
      planner: { accountId: n.ciPlanServiceAccount, grants: plannerGrants(targets) },
      customRoles: { "secret-manager": secretManagerDeployerRole(n.ciSecretManagerRole) },
      dependsOn: services,
    });

    new TerraformOutput(this, "state-bucket-name", { value: this.stateBucket.name });
    new TerraformOutput(this, "ci-service-account", { value: ci.email });
    new TerraformOutput(this, "ci-plan-service-account", { value: github.planner.email });
    new TerraformOutput(this, "ci-workload-identity-provider", { value: github.provider.name });
  }
}

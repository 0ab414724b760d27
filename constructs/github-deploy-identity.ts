import { Construct } from "constructs";
import type { ITerraformDependable } from "cdktf";
import { IamWorkloadIdentityPool } from "@cdktf/provider-google/lib/iam-workload-identity-pool";
import { IamWorkloadIdentityPoolProvider } from "@cdktf/provider-google/lib/iam-workload-identity-pool-provider";
import { KmsKeyRingIamMember } from "@cdktf/provider-google/lib/kms-key-ring-iam-member";
import { ProjectIamCustomRole } from "@cdktf/provider-google/lib/project-iam-custom-role";
import { ProjectIamMember } from "@cdktf/provider-google/lib/project-iam-member";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account";
import { ServiceAccountIamMember } from "@cdktf/provider-google/lib/service-account-iam-member";
import { StorageBucketIamMember } from "@cdktf/provider-google/lib/storage-bucket-iam-member";

/** GitHub Actions' OIDC issuer (one issuer for every GitHub repository: the condition must pin ours). */
export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";

/** What a token may do, as the `attribute.ci_role` the provider maps it to. */
export type CiRole = "deploy" | "plan";

/** An IAM condition on a grant. */
export interface GrantCondition {
  readonly title: string;
  /** CEL expression. */
  readonly expression: string;
}

/** One role granted to an identity, and why. */
export interface IamGrant {
  /** A predefined role (`roles/...`), or the key of one of {@link GithubDeployIdentityProps.customRoles}. */
  readonly role: string;
  /** Why the identity needs it (which stack's resources): kept beside the grant, never in the plan. */
  readonly reason: string;
  /**
   * Where the role is granted.
   * @default - the project
   */
  readonly on?: { readonly bucket: string } | { readonly keyRing: string };
  /**
   * A condition that narrows the grant.
   * @default - unconditional
   */
  readonly condition?: GrantCondition;
}

/** A project-level custom role: exactly the permissions listed. */
export interface CustomRole {
  /** Role id (letters, digits, `_` and `.`). */
  readonly roleId: string;
  readonly title: string;
  readonly description: string;
  readonly permissions: readonly string[];
}

/** The GitHub repository, branch and environments that may obtain credentials. */
export interface GithubRepositoryPin {
  /** Numeric `repository_id` claim: survives renames; a deleted name can be re-registered by anyone, an id cannot. */
  readonly repositoryId: string;
  /** Numeric `repository_owner_id` claim. */
  readonly repositoryOwnerId: string;
  /** Protected branch that deploys (`ref` claim `refs/heads/<branch>`; also the pull requests' `base_ref`). */
  readonly branch: string;
  /** GitHub environment of the deploy and drift jobs (`environment` claim). */
  readonly deployEnvironment: string;
  /** GitHub environment of the pull-request plan job (required reviewers). */
  readonly planEnvironment: string;
}

/** Props of {@link GithubDeployIdentity}. */
export interface GithubDeployIdentityProps {
  /** The project the pool, the roles and the grants live in. */
  readonly projectId: string;
  /** Workload Identity pool id (4-32 characters, `[a-z0-9-]`, not `gcp-`...). Soft-deleted ids stay taken for 30 days. */
  readonly poolId: string;
  /** Provider id within the pool. */
  readonly providerId: string;
  /** Which tokens are admitted. */
  readonly github: GithubRepositoryPin;
  /** The deployer: an existing service account (`name` is its full resource name, `member` its IAM member). */
  readonly deployer: { readonly name: string; readonly member: string; readonly grants: Readonly<Record<string, IamGrant>> };
  /** The pull-request planner: a service account created here. */
  readonly planner: { readonly accountId: string; readonly grants: Readonly<Record<string, IamGrant>> };
  /**
   * Custom roles that grants may name by key.
   * @default - none
   */
  readonly customRoles?: Readonly<Record<string, CustomRole>>;
  /**
   * Resources (the APIs) that must exist first.
   * @default - none
   */
  readonly dependsOn?: ITerraformDependable[];
}

/** A CEL string literal: the values are validated (digits, ref and environment names), quoted here anyway. */
function lit(v: string): string {
  if (!/^[A-Za-z0-9._/-]+$/.test(v)) throw new Error(`github-deploy-identity: '${v}' cannot be written into a CEL condition`);
  return `'${v}'`;
}

/** The CEL test that a GitHub token is the deploy (or drift) job of the pinned repository on the protected branch. */
export function deployClause(pin: GithubRepositoryPin): string {
  return [
    `assertion.repository_id == ${lit(pin.repositoryId)}`,
    `assertion.repository_owner_id == ${lit(pin.repositoryOwnerId)}`,
    `assertion.environment == ${lit(pin.deployEnvironment)}`,
    `assertion.ref == ${lit(`refs/heads/${pin.branch}`)}`,
  ].join(" && ");
}

/** The CEL test that a GitHub token is the plan job of a pull request into the protected branch of the pinned repository. */
export function planClause(pin: GithubRepositoryPin): string {
  return [
    `assertion.repository_id == ${lit(pin.repositoryId)}`,
    `assertion.repository_owner_id == ${lit(pin.repositoryOwnerId)}`,
    `assertion.environment == ${lit(pin.planEnvironment)}`,
    `assertion.event_name == 'pull_request'`,
    `assertion.base_ref == ${lit(pin.branch)}`,
  ].join(" && ");
}

/** The provider's attribute condition: only the two kinds of job of the pinned repository exchange tokens at all. */
export function attributeCondition(pin: GithubRepositoryPin): string {
  return `(${deployClause(pin)}) || (${planClause(pin)})`;
}

/**
 * The provider's attribute mapping. `google.subject` keeps GitHub's readable `sub` (audit logs);
 * `attribute.ci_role` is computed from the same pinned claims as the condition, so each service
 * account's binding (`principalSet://…/attribute.ci_role/<role>`) holds the whole pin by itself, even
 * if the pool's condition were ever widened.
 */
export function attributeMapping(pin: GithubRepositoryPin): Record<string, string> {
  return {
    "google.subject": "assertion.sub",
    "attribute.repository_id": "assertion.repository_id",
    "attribute.repository_owner_id": "assertion.repository_owner_id",
    "attribute.ref": "assertion.ref",
    "attribute.ci_role": `(${deployClause(pin)}) ? 'deploy' : ((${planClause(pin)}) ? 'plan' : 'none')`,
  };
}

/**
 * Keyless deployment from GitHub Actions: a Workload Identity pool and GitHub OIDC provider that
 * admit only the pinned repository's deploy jobs (protected branch, deploy environment) and
 * pull-request plan jobs (plan environment); the deployer service account impersonable only by the
 * first, a read-only planner only by the second; each with the grants listed, nothing else.
 * @see https://cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines
 * @see docs/adr/0014-deploy-from-ci.md
 */
export class GithubDeployIdentity extends Construct {
  readonly pool: IamWorkloadIdentityPool;
  readonly provider: IamWorkloadIdentityPoolProvider;
  /** The planner's service account. */
  readonly planner: ServiceAccount;

  constructor(scope: Construct, id: string, props: GithubDeployIdentityProps) {
    super(scope, id);
    const deps = props.dependsOn ?? [];

    this.pool = new IamWorkloadIdentityPool(this, "pool", {
      workloadIdentityPoolId: props.poolId,
      displayName: "GitHub Actions",
      description: "Deploy and plan jobs of one GitHub repository (docs/adr/0014)",
      dependsOn: deps,
    });
    this.provider = new IamWorkloadIdentityPoolProvider(this, "provider", {
      workloadIdentityPoolId: this.pool.workloadIdentityPoolId,
      workloadIdentityPoolProviderId: props.providerId,
      displayName: "GitHub Actions OIDC",
      description: "Pinned to the repository and owner by numeric id, and to the protected branch and environments",
      attributeCondition: attributeCondition(props.github),
      attributeMapping: attributeMapping(props.github),
      // No allowed_audiences: the token's audience must then be this provider's own resource
      // name, which is what google-github-actions/auth requests by default.
      oidc: { issuerUri: GITHUB_ISSUER },
    });

    const customRoles = new Map<string, ProjectIamCustomRole>();
    for (const [key, r] of Object.entries(props.customRoles ?? {})) {
      customRoles.set(
        key,
        new ProjectIamCustomRole(this, `role-${key}`, {
          project: props.projectId,
          roleId: r.roleId,
          title: r.title,
          description: r.description,
          permissions: [...r.permissions],
          stage: "GA",
          dependsOn: deps,
        }),
      );
    }

    const principalSet = (role: CiRole) => `principalSet://iam.googleapis.com/${this.pool.name}/attribute.ci_role/${role}`;

    // Impersonation only through the provider, each account by its own role's principal set.
    new ServiceAccountIamMember(this, "deployer-workload-identity", {
      serviceAccountId: props.deployer.name,
      role: "roles/iam.workloadIdentityUser",
      member: principalSet("deploy"),
    });
    this.planner = new ServiceAccount(this, "planner", {
      accountId: props.planner.accountId,
      displayName: "plue-infra pull-request planner (terraform plan, read-only)",
      description: "Used by pull-request plan jobs through Workload Identity Federation; no keys are ever created for it.",
      dependsOn: deps,
    });
    new ServiceAccountIamMember(this, "planner-workload-identity", {
      serviceAccountId: this.planner.name,
      role: "roles/iam.workloadIdentityUser",
      member: principalSet("plan"),
    });

    const grant = (who: string, member: string, key: string, g: IamGrant): void => {
      const custom = customRoles.get(g.role);
      if (!custom && !g.role.startsWith("roles/")) {
        throw new Error(`github-deploy-identity: grant '${key}' names role '${g.role}', neither predefined nor a custom role`);
      }
      const role = custom ? custom.name : g.role;
      const condition = g.condition ? { title: g.condition.title, expression: g.condition.expression } : undefined;
      const common = { role, member, ...(condition ? { condition } : {}) };
      const cid = `${who}-${key}`;
      if (g.on && "bucket" in g.on) new StorageBucketIamMember(this, cid, { bucket: g.on.bucket, ...common });
      else if (g.on && "keyRing" in g.on) new KmsKeyRingIamMember(this, cid, { keyRingId: g.on.keyRing, ...common });
      else new ProjectIamMember(this, cid, { project: props.projectId, ...common });
    };
    for (const [key, g] of Object.entries(props.deployer.grants)) grant("deployer", props.deployer.member, key, g);
    for (const [key, g] of Object.entries(props.planner.grants)) grant("planner", this.planner.member, key, g);
  }
}

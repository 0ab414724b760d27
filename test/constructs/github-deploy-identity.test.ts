/**
 * The keyless CI identity (GithubDeployIdentity in the bootstrap stack): who may exchange a GitHub
 * token, which account each kind of job becomes, and what each account may do.
 */
import { describe, expect, it } from "vitest";
import { NODE_SERVICE_ACCOUNT_ROLES } from "../../constructs/hardened-cluster.ts";
import { GithubDeployIdentity, type GithubRepositoryPin } from "../../constructs/github-deploy-identity.ts";
import { deployerGrants, plannerGrants } from "../../stacks/deploy-roles.ts";
import { validateConfig } from "../../config/load.ts";
import { stackFor, synthConstruct } from "../support/build.ts";
import { exampleRaw } from "../support/config.ts";
import { resources, stack, stackNames, type TfJson } from "../support/plan.ts";

const tf = stack("bootstrap");
const provider = Object.values(resources(tf, "google_iam_workload_identity_pool_provider"))[0] as Record<string, any>;
const pool = Object.values(resources(tf, "google_iam_workload_identity_pool"))[0] as Record<string, any>;
const POOL_NAME = "${google_iam_workload_identity_pool.github_pool_BAD9F060.name}";
const DEPLOYER = "${google_service_account.ci-identity.member}";
const PLANNER = "${google_service_account.github_planner_CA69336E.member}";

/** Every IAM grant in a stack: [type, role, member, condition expression]. */
function grants(t: TfJson): { type: string; id: string; role: string; member: string; condition?: string }[] {
  return Object.entries(t.resource ?? {})
    .filter(([type]) => type.endsWith("_iam_member"))
    .flatMap(([type, rs]) =>
      Object.entries(rs).map(([id, r]) => ({
        type,
        id,
        role: String(r.role),
        member: String(r.member),
        ...(r.condition ? { condition: String((r.condition as { expression: string }).expression) } : {}),
      })),
    );
}

describe("GitHub deploy identity", () => {
  it("trusts only GitHub Actions' issuer, with the provider's own name as the audience", () => {
    expect(provider.oidc).toEqual({ issuer_uri: "https://token.actions.githubusercontent.com" });
    expect(pool.workload_identity_pool_id).toBe("plue-github");
    expect(provider.workload_identity_pool_provider_id).toBe("github-actions");
  });

  it("admits only the pinned repository and owner (numeric ids) on the protected branch's deploy environment, or its reviewed plan environment", () => {
    expect(provider.attribute_condition).toBe(
      "(assertion.repository_id == '0' && assertion.repository_owner_id == '0' && assertion.environment == 'example' && assertion.ref == 'refs/heads/main')" +
        " || (assertion.repository_id == '0' && assertion.repository_owner_id == '0' && assertion.environment == 'example-plan' && assertion.event_name == 'pull_request' && assertion.base_ref == 'main')",
    );
  });

  it("pins the configured ids and branch, not names", () => {
    const raw = exampleRaw();
    raw.ci = { repositoryId: 812345678, repositoryOwnerId: "1234567", branch: "release/prod" };
    const t = stackFor(validateConfig(raw, "config/example.yaml", "example"), "bootstrap");
    const p = Object.values(resources(t, "google_iam_workload_identity_pool_provider"))[0] as Record<string, any>;
    const [deploy, plan] = String(p.attribute_condition).split(" || ");
    expect(deploy).toBe(
      "(assertion.repository_id == '812345678' && assertion.repository_owner_id == '1234567' && assertion.environment == 'example' && assertion.ref == 'refs/heads/release/prod')",
    );
    expect(plan).toBe(
      "(assertion.repository_id == '812345678' && assertion.repository_owner_id == '1234567' && assertion.environment == 'example-plan' && assertion.event_name == 'pull_request' && assertion.base_ref == 'release/prod')",
    );
    expect(String(p.attribute_condition)).not.toMatch(/assertion\.repository ==|assertion\.repository_owner ==|assertion\.sub ==/);
  });

  it("maps each admitted token to its role from the same pinned claims, and keeps GitHub's subject for the audit log", () => {
    const [deploy, plan] = String(provider.attribute_condition).split(" || ");
    expect(provider.attribute_mapping).toEqual({
      "google.subject": "assertion.sub",
      "attribute.repository_id": "assertion.repository_id",
      "attribute.repository_owner_id": "assertion.repository_owner_id",
      "attribute.ref": "assertion.ref",
      "attribute.ci_role": `${deploy} ? 'deploy' : (${plan} ? 'plan' : 'none')`,
    });
  });

  it("lets each CI account be impersonated only through the pool, each by its own role's principal set", () => {
    const impersonation = Object.values(resources(tf, "google_service_account_iam_member")).map((b) => [
      b.service_account_id,
      b.role,
      b.member,
    ]);
    expect(impersonation.sort()).toEqual(
      [
        [
          "${google_service_account.ci-identity.name}",
          "roles/iam.workloadIdentityUser",
          `principalSet://iam.googleapis.com/${POOL_NAME}/attribute.ci_role/deploy`,
        ],
        [
          "${google_service_account.github_planner_CA69336E.name}",
          "roles/iam.workloadIdentityUser",
          `principalSet://iam.googleapis.com/${POOL_NAME}/attribute.ci_role/plan`,
        ],
      ].sort(),
    );
  });

  it("no other binding anywhere in the plan lets anyone act as, or mint tokens for, a CI account; no key exists", () => {
    for (const name of stackNames()) {
      const t = stack(name);
      expect(t.resource?.google_service_account_key, name).toBeUndefined();
      for (const [id, b] of Object.entries(t.resource?.google_service_account_iam_member ?? {})) {
        if (String(b.service_account_id).includes("ci-identity") || String(b.service_account_id).includes("planner")) {
          expect([name, id, b.role]).toEqual([name, id, "roles/iam.workloadIdentityUser"]);
        }
      }
    }
  });

  it("grants no basic role, no project-wide secret access and no token minting to anyone in the plan", () => {
    const forbidden = [
      "roles/owner",
      "roles/editor",
      "roles/viewer",
      "roles/secretmanager.secretAccessor",
      "roles/secretmanager.admin",
      "roles/iam.serviceAccountTokenCreator",
    ];
    for (const name of stackNames()) {
      for (const g of grants(stack(name)).filter((x) => x.type === "google_project_iam_member")) {
        expect([name, g.id, forbidden.includes(g.role)]).toEqual([name, g.id, false]);
      }
    }
  });

  it("gives the deployer exactly its listed roles, each with a reason naming the stack that needs it", () => {
    const deployer = grants(tf)
      .filter((g) => g.member === DEPLOYER)
      .map((g) => g.role)
      .sort();
    expect(deployer).toEqual(
      [
        "${google_project_iam_custom_role.github_role-secret-manager_30C49DCF.name}",
        "roles/browser",
        "roles/certificatemanager.owner",
        "roles/cloudkms.admin",
        "roles/cloudkms.viewer",
        "roles/cloudsql.admin",
        "roles/compute.networkAdmin",
        "roles/compute.securityAdmin",
        "roles/container.admin",
        "roles/dns.admin",
        "roles/iam.securityReviewer",
        "roles/iam.serviceAccountAdmin",
        "roles/iam.serviceAccountUser",
        "roles/iam.workloadIdentityPoolViewer",
        "roles/networksecurity.admin",
        "roles/resourcemanager.projectIamAdmin",
        "roles/servicenetworking.networksAdmin",
        "roles/serviceusage.serviceUsageViewer",
        "roles/storage.legacyBucketReader",
        "roles/storage.objectUser",
      ].sort(),
    );
    const t = { stateBucket: "b", keyRing: "k", grantableProjectRoles: NODE_SERVICE_ACCOUNT_ROLES, secretManagerRoleKey: "secret-manager" };
    for (const [key, g] of [...Object.entries(deployerGrants(t)), ...Object.entries(plannerGrants(t))]) {
      expect([key, /\b(network|cluster|secrets|data|platform|workloads|edge|every stack|drift)\b/.test(g.reason)]).toEqual([key, true]);
    }
  });

  it("lets the deployer administer project IAM only to grant the roles the plan grants outside bootstrap", () => {
    const admin = grants(tf).filter((g) => g.role === "roles/resourcemanager.projectIamAdmin");
    expect(admin).toHaveLength(1);
    const planned = stackNames()
      .filter((s) => s !== "bootstrap")
      .flatMap((s) =>
        grants(stack(s))
          .filter((g) => g.type === "google_project_iam_member")
          .map((g) => g.role),
      );
    const roles = [...new Set(planned)].sort();
    expect(roles).toEqual([...NODE_SERVICE_ACCOUNT_ROLES].sort());
    expect(admin[0]?.condition).toBe(
      `api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([${roles.map((r) => `'${r}'`).join(", ")}])`,
    );
  });

  it("keeps KMS administration to the region's key ring (never the state key's ring)", () => {
    const kms = Object.values(resources(tf, "google_kms_key_ring_iam_member"));
    expect(kms.map((k) => [k.key_ring_id, k.role, k.member])).toEqual([
      ["${google_kms_key_ring.key-ring.id}", "roles/cloudkms.admin", DEPLOYER],
    ]);
  });

  it("manages secrets through a custom role that cannot read a secret value", () => {
    const role = Object.values(resources(tf, "google_project_iam_custom_role"))[0] as Record<string, any>;
    expect(role.role_id).toBe("plue_ci_secret_manager");
    expect(role.permissions).not.toContain("secretmanager.versions.access");
    expect(
      (role.permissions as string[]).every((p) => p.startsWith("secretmanager.secrets.") || p.startsWith("secretmanager.versions.")),
    ).toBe(true);
  });

  it("gives the planner read access only: the state objects, the project, compute and the cluster's metadata", () => {
    const planner = grants(tf)
      .filter((g) => g.member === PLANNER)
      .map((g) => g.role)
      .sort();
    expect(planner).toEqual(["roles/browser", "roles/compute.viewer", "roles/container.clusterViewer", "roles/storage.objectViewer"]);
  });

  it("lets the planner read only the secrets Terraform reads at plan time (edge and data consumers), one by one", () => {
    const secrets = stack("secrets");
    const readers = Object.entries(resources(secrets, "google_secret_manager_secret_iam_member"))
      .filter(([, b]) => String(b.member) === "serviceAccount:plue-ci-plan@plue-example.iam.gserviceaccount.com")
      .map(([, b]) => String(b.secret_id))
      .sort();
    expect(readers).toEqual([
      "${google_secret_manager_secret.secrets_db-password_63683745.id}",
      "${google_secret_manager_secret.secrets_origin-client-key_6AB89466.id}",
      "${google_secret_manager_secret.secrets_origin-key_CD425861.id}",
    ]);
  });

  it("is created after the APIs it needs (IAM, STS, IAM credentials, Resource Manager) are enabled", () => {
    for (const api of ["iam", "iamcredentials", "sts", "cloudresourcemanager"])
      expect(pool.depends_on).toContain(`google_project_service.service-${api}`);
  });

  it("refuses a pin that would break out of its CEL string", () => {
    const pin: GithubRepositoryPin = {
      repositoryId: "1",
      repositoryOwnerId: "2",
      branch: "main' || true || '",
      deployEnvironment: "prod",
      planEnvironment: "prod-plan",
    };
    expect(() =>
      synthConstruct((scope) => {
        new GithubDeployIdentity(scope, "github", {
          projectId: "p-123456",
          poolId: "pool",
          providerId: "github",
          github: pin,
          deployer: { name: "n", member: "serviceAccount:a@b", grants: {} },
          planner: { accountId: "planner", grants: {} },
        });
      }),
    ).toThrow("cannot be written into a CEL condition");
  });

  it("refuses a grant that names neither a predefined nor a custom role", () => {
    expect(() =>
      synthConstruct((scope) => {
        new GithubDeployIdentity(scope, "github", {
          projectId: "p-123456",
          poolId: "pool",
          providerId: "github",
          github: { repositoryId: "1", repositoryOwnerId: "2", branch: "main", deployEnvironment: "prod", planEnvironment: "prod-plan" },
          deployer: { name: "n", member: "serviceAccount:a@b", grants: { x: { role: "secretmanager.admin", reason: "data: test" } } },
          planner: { accountId: "planner", grants: {} },
        });
      }),
    ).toThrow("neither predefined nor a custom role");
  });
});

/** IAM: who may do what, and only where the plan says so. */
import { esoIdentities, names, plannerMember, serviceAccountEmail } from "../../config/names.ts";
import type { PlueConfig } from "../../config/schema.ts";
import { SECRET_CONSUMERS, type SecretConsumer } from "../../config/secrets.ts";
import { allBlocks, type Block, isLiteral, type PlanModel } from "../plan-model.ts";
import { finding, get, nodeConfigs, projectOf, referenced, resourcesOf } from "./helpers.ts";
import type { Finding, PostureRule, ReviewContext } from "./types.ts";

/** Every IAM grant (`*_iam_member`, `*_iam_binding`) with its role and members. */
function grants(ctx: ReviewContext): { readonly block: Block; readonly role: string; readonly members: string[] }[] {
  return allBlocks(ctx.plan)
    .filter((b) => b.mode === "resource" && /_iam_(member|binding)$/.test(b.type))
    .map((b) => ({
      block: b,
      role: String(b.body.role ?? ""),
      members: [b.body.member, ...(Array.isArray(b.body.members) ? b.body.members : [])]
        .filter((m): m is string => typeof m === "string")
        .map((m) => memberOf(ctx.plan, b, m)),
    }));
}

/** An IAM member, with `${google_service_account.x.member}`/`.email` references resolved to the account's e-mail. */
export function memberOf(plan: PlanModel, from: Block, value: string): string {
  const sa = referenced(plan, from, value);
  if (sa?.type === "google_service_account" && isLiteral(sa.body.account_id)) {
    const email = `${sa.body.account_id}@${projectOf(plan, sa)}.iam.gserviceaccount.com`;
    if (/\.member\}$/.test(value)) return `serviceAccount:${email}`;
    if (/\.email\}$/.test(value)) return value.replace(/\$\{[^}]+\}/, email);
  }
  return value;
}

/**
 * The IAM members that read a secret for `consumer`: its External Secrets identity (api, migrate),
 * or the CI deployer and the pull-request planner, which Terraform runs as at apply and plan time
 * (edge, data; docs/adr/0014).
 */
export function accessorMembers(config: PlueConfig, consumer: SecretConsumer): string[] {
  return consumer === "api" || consumer === "migrate" || consumer === "egress"
    ? [esoIdentities(config)[consumer].member]
    : [`serviceAccount:${serviceAccountEmail(config, names(config).ciServiceAccount)}`, plannerMember(config)];
}

const isProjectLevel = (type: string) => /^google_(project|folder|organization)_iam_(member|binding)$/.test(type);

export const noProjectSecretAccess: PostureRule = {
  id: "IAM01",
  title: "no Secret Manager role at project (or folder, organization) level",
  severity: "error",
  rationale: "a project-level secretAccessor reads every secret, present and future; each secret grants its own consumers instead",
  references: {
    seed: "000 Secrets Management; 004 Infrastructure as Code Security (least privilege)",
    docs: "https://cloud.google.com/secret-manager/docs/access-control",
  },
  check: (ctx) =>
    grants(ctx)
      .filter((g) => isProjectLevel(g.block.type) && /^roles\/secretmanager\./.test(g.role))
      .map((g) =>
        finding(
          noProjectSecretAccess,
          g.block,
          `grants ${g.role} to ${g.members.join(", ")} on the whole ${g.block.type.split("_")[1]}`,
          "grant google_secret_manager_secret_iam_member on each secret the member reads",
        ),
      ),
};

export const noPrimitiveRoles: PostureRule = {
  id: "IAM02",
  title: "no primitive roles (owner, editor, viewer)",
  severity: "error",
  rationale: "basic roles span every service of the project; each identity gets the predefined roles it needs",
  references: { checkov: "CKV_GCP_115, CKV_GCP_116, CKV_GCP_117", docs: "https://cloud.google.com/iam/docs/roles-overview#basic" },
  check: (ctx) =>
    grants(ctx)
      .filter((g) => /^roles\/(owner|editor|viewer)$/.test(g.role))
      .map((g) =>
        finding(noPrimitiveRoles, g.block, `grants the basic role ${g.role} to ${g.members.join(", ")}`, "grant predefined roles instead"),
      ),
};

export const secretConsumersOnly: PostureRule = {
  id: "IAM03",
  title: "per-secret accessor bindings only to the secret's declared consumers",
  severity: "error",
  rationale:
    "each Secret Manager secret lists its consumers (labels consumer_<c>, from secrets.items.*.consumers); a grant to anyone else lets a workload read a secret it was never meant to",
  references: { seed: "000 Secrets Management", docs: "README.md (Secrets)" },
  check(ctx) {
    const secrets = resourcesOf(ctx, "google_secret_manager_secret");
    const out: Finding[] = [];
    for (const type of ["google_secret_manager_secret_iam_member", "google_secret_manager_secret_iam_binding"]) {
      for (const b of resourcesOf(ctx, type)) {
        const secret =
          referenced(ctx.plan, b, b.body.secret_id) ??
          secrets.find(
            (s) =>
              isLiteral(b.body.secret_id) &&
              (s.body.secret_id === b.body.secret_id || String(b.body.secret_id).endsWith(`/secrets/${String(s.body.secret_id)}`)),
          );
        const labels = (secret ? (get(secret.body, "labels") ?? {}) : {}) as Record<string, string>;
        const declared = SECRET_CONSUMERS.filter((c) => labels[`consumer_${c}`] === "true");
        const allowed = new Set(declared.flatMap((c: SecretConsumer) => accessorMembers(ctx.config, c)));
        const members = [b.body.member, ...(Array.isArray(b.body.members) ? b.body.members : [])]
          .filter((m): m is string => typeof m === "string")
          .map((m) => memberOf(ctx.plan, b, m));
        for (const m of members.filter((x) => !allowed.has(x))) {
          out.push(
            finding(
              secretConsumersOnly,
              b,
              `grants ${String(b.body.role)} on ${secret ? String(secret.body.secret_id) : String(b.body.secret_id)} to ${m}, which is not the identity of a declared consumer (${declared.join(", ") || "none declared"})`,
              "add the consumer to secrets.items.<name>.consumers, or remove the grant",
            ),
          );
        }
      }
    }
    return out;
  },
};

export const noServiceAccountKeys: PostureRule = {
  id: "IAM04",
  title: "no service account keys",
  severity: "error",
  rationale:
    "a key is a long-lived secret that ends up in state and on disks; CI uses Workload Identity Federation and pods Workload Identity",
  references: {
    seed: "004 Infrastructure as Code Security (no secret in code)",
    docs: "https://cloud.google.com/iam/docs/best-practices-service-accounts#avoid-keys",
  },
  check: (ctx) =>
    resourcesOf(ctx, "google_service_account_key").map((b) =>
      finding(noServiceAccountKeys, b, "creates a service account key", "use Workload Identity (Federation) instead of a key"),
    ),
};

const IMPERSONATION =
  /^roles\/iam\.(serviceAccountUser|serviceAccountTokenCreator|serviceAccountKeyAdmin|serviceAccountAdmin|workloadIdentityUser)$/;

export const noProjectImpersonation: PostureRule = {
  id: "IAM05",
  title: "no project-level impersonation roles",
  severity: "error",
  rationale:
    "serviceAccountUser/TokenCreator at project level let the grantee act as every service account of the project; grant them on one account",
  references: { checkov: "CKV_GCP_41, CKV_GCP_49" },
  check: (ctx) =>
    grants(ctx)
      .filter((g) => isProjectLevel(g.block.type) && IMPERSONATION.test(g.role))
      .map((g) =>
        finding(
          noProjectImpersonation,
          g.block,
          `grants ${g.role} on the whole project to ${g.members.join(", ")}`,
          "google_service_account_iam_member on the one account",
        ),
      ),
};

export const workloadIdentityMembers: PostureRule = {
  id: "IAM06",
  title: "Workload Identity grants name one Kubernetes service account of this cluster, or an attribute-scoped federated principal",
  severity: "error",
  rationale:
    "roles/iam.workloadIdentityUser on a pool-wide or wrong-project member lets other pods (or clusters) act as the Google account",
  references: { cis: "5.2.2", docs: "https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity" },
  check(ctx) {
    const pools = new Set(resourcesOf(ctx, "google_container_cluster").map((c) => get(c.body, "workload_identity_config.workload_pool")));
    return grants(ctx)
      .filter((g) => g.role === "roles/iam.workloadIdentityUser")
      .flatMap((g) =>
        g.members.flatMap((m) => {
          const mm = /^serviceAccount:([a-z0-9.-]+\.svc\.id\.goog)\[([a-z0-9-]+)\/([a-z0-9-]+)\]$/.exec(m);
          if (mm && pools.has(mm[1])) return [];
          // Workload Identity Federation: one principal, or a set narrowed by an attribute of a pool of this plan.
          const wif =
            /^principal(Set)?:\/\/iam\.googleapis\.com\/(\$\{google_iam_workload_identity_pool\.[^}]+\}|projects\/[^/]+\/locations\/global\/workloadIdentityPools\/[^/]+)\/(subject|attribute\.[A-Za-z0-9_]+|group)\/[^*]+$/.exec(
              m,
            );
          if (wif) return [];
          return [
            finding(
              workloadIdentityMembers,
              g.block,
              `member ${m} is not serviceAccount:<cluster workload pool>[<namespace>/<ksa>] (pools: ${[...pools].join(", ")})`,
              "name exactly one namespace/service account of the cluster's workload pool",
            ),
          ];
        }),
      );
  },
};

/** Project roles a GKE node service account needs (GKE hardening guide, "least privilege"). */
export const NODE_ROLES: readonly string[] = [
  "roles/artifactregistry.reader",
  "roles/autoscaling.metricsWriter",
  "roles/logging.logWriter",
  "roles/monitoring.metricWriter",
  "roles/monitoring.viewer",
  "roles/stackdriver.resourceMetadata.writer",
];

export const nodeLeastPrivilege: PostureRule = {
  id: "IAM07",
  title: "node service account holds only the node roles",
  severity: "error",
  rationale: "a compromised node can do only what its account may: write logs and metrics, read images",
  references: {
    cis: "5.2.1",
    docs: "https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster#use_least_privilege_sa",
  },
  check(ctx) {
    const nodeMembers = new Set(
      nodeConfigs(ctx).flatMap(({ block, config }) => {
        const sa = config.service_account;
        return typeof sa === "string" ? [memberOf(ctx.plan, block, sa).replace(/^(?!serviceAccount:)/, "serviceAccount:")] : [];
      }),
    );
    return grants(ctx)
      .filter((g) => g.members.some((m) => nodeMembers.has(m)) && !NODE_ROLES.includes(g.role))
      .map((g) => finding(nodeLeastPrivilege, g.block, `grants ${g.role} to the node service account`, `keep to ${NODE_ROLES.join(", ")}`));
  },
};

/** Every IAM rule, in id order. */
export const IAM_RULES: readonly PostureRule[] = [
  noProjectSecretAccess,
  noPrimitiveRoles,
  secretConsumersOnly,
  noServiceAccountKeys,
  noProjectImpersonation,
  workloadIdentityMembers,
  nodeLeastPrivilege,
];

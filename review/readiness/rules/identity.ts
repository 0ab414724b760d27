/** Rules about identities and IAM: who the plan names, and when a grant is usable. */
import {
  at,
  blocksOfType,
  type Block,
  dependsOn,
  isLiteral,
  lifecycle,
  type PlanModel,
  type StackPlan,
  stringsIn,
  transitiveDependencies,
} from "../../plan-model.ts";
import type { Finding, Rule } from "../types.ts";

/** `<account id>@<project>.iam.gserviceaccount.com` in any text. */
const SA_EMAIL = /([a-z][a-z0-9-]{4,28}[a-z0-9])@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com/g;

/** The default Google project of a stack (its `google` provider's literal `project`). */
function stackProject(stack: StackPlan): string | undefined {
  const p = stack.tf.provider?.google?.[0]?.project;
  return isLiteral(p) ? p : undefined;
}

/** Service accounts the plan creates, by e-mail. */
function createdServiceAccounts(plan: PlanModel): Map<string, Block> {
  const byEmail = new Map<string, Block>();
  for (const b of blocksOfType(plan, "google_service_account")) {
    const stack = plan.stacks.find((s) => s.name === b.stack);
    const id = b.body.account_id;
    const project = isLiteral(b.body.project) ? b.body.project : stack ? stackProject(stack) : undefined;
    if (isLiteral(id) && project) byEmail.set(`${id}@${project}.iam.gserviceaccount.com`, b);
  }
  return byEmail;
}

/** DR002: IAM (or any argument) names a service account the plan creates by a hand-built e-mail. */
export const handBuiltIdentities: Rule = {
  id: "DR002",
  title: "hand-built e-mails of service accounts the plan creates",
  rationale:
    "a literal e-mail gives Terraform no dependency edge: the grant can be sent before (or just after) the account exists, and IAM answers 400 'does not exist' while the new account propagates; a reference (.member/.email) orders the grant after the provider's own consistency wait",
  source:
    "https://github.com/hashicorp/terraform-provider-google/blob/v6.50.0/google/services/resourcemanager/resource_google_service_account.go (L174-189: polls until found, then waits 10 s); https://cloud.google.com/iam/docs/service-accounts-create",
  severity: "error",
  check(plan) {
    const accounts = createdServiceAccounts(plan);
    const findings: Finding[] = [];
    for (const stack of plan.stacks) {
      const before = transitiveDependencies(plan, stack.name);
      for (const b of stack.blocks) {
        if (b.mode !== "resource") continue;
        const named = new Map<string, string>();
        for (const { path, value } of stringsIn(b.body)) {
          for (const m of value.matchAll(SA_EMAIL)) if (!named.has(m[0])) named.set(m[0], path);
        }
        for (const [email, path] of named) {
          const creator = accounts.get(email);
          if (!creator || creator === b) continue;
          if (creator.stack !== stack.name && before.has(creator.stack)) continue;
          const where =
            creator.stack === stack.name ? "in the same stack" : `in stack ${creator.stack}, which is not applied before this one`;
          findings.push({
            rule: "DR002",
            severity: "error",
            stack: stack.name,
            address: b.address,
            message: `${path} names ${email} by a literal string; ${creator.address} creates that account ${where}, so nothing orders this after it`,
            fix:
              creator.stack === stack.name
                ? `reference the account: ${path.endsWith("member") ? `\${${creator.address}.member}` : `\${${creator.address}.email}`} (in TypeScript: the ServiceAccount's .member / .email)`
                : `make stack ${stack.name} depend on stack ${creator.stack}, or move the grant next to the account`,
          });
        }
      }
    }
    return findings;
  },
};

/** Resource types that grant IAM roles. */
export function isIamGrant(type: string): boolean {
  return /_iam_(member|binding|policy)$/.test(type) || type === "google_project_iam_audit_config";
}

/** DR011: a resource that needs a fresh grant to exist is created right after it, with no wait. */
export const grantPropagation: Rule = {
  id: "DR011",
  title: "fresh IAM grants used without a propagation wait",
  rationale:
    "IAM changes take typically 2 minutes and sometimes 7 or more to take effect; a resource created right after the grant it needs (a CMEK bucket after its key grant, a cluster after the KMS grant to the GKE service agent) can fail with a permission error on the first apply",
  source: "https://cloud.google.com/iam/docs/access-change-propagation",
  severity: "warning",
  check(plan) {
    return plan.stacks.flatMap((stack) =>
      stack.blocks
        .filter((b) => b.mode === "resource" && b.type !== "time_sleep")
        .flatMap((b) =>
          dependsOn(b)
            .filter((d) => isIamGrant(stack.byAddress.get(d)?.type ?? ""))
            .map((d) => ({
              rule: "DR011",
              severity: "warning" as const,
              stack: stack.name,
              address: b.address,
              message: `${b.address} depends on ${d} to be able to use it at create time; the grant may not have propagated when it is created`,
              fix: `put a time_sleep (hashicorp/time 0.13.1, @cdktf/provider-time 11.0.1) between them: time_sleep { create_duration = "120s", triggers = { grant = ${d}.etag } }, and make ${b.address} depend on the time_sleep instead`,
            })),
        ),
    );
  },
};

/** DR013: a GKE cluster or pool whose nodes run as the default compute service account. */
export const implicitDefaultIdentities: Rule = {
  id: "DR013",
  title: "implicit default identities",
  rationale:
    "a cluster created with remove_default_node_pool still creates the default pool first, as the default compute service account unless the cluster's node_config names one; where an org policy disables or restricts that account the create fails; and a node_config on such a cluster must be ignored after create or every apply replaces the cluster",
  source:
    "https://github.com/hashicorp/terraform-provider-google/issues/4435; https://github.com/hashicorp/terraform-provider-google/issues/12070; https://github.com/hashicorp/terraform-provider-google/blob/v6.50.0/google/services/container/node_config.go (service_account ForceNew, L448-454)",
  severity: "error",
  check(plan) {
    const findings: Finding[] = [];
    for (const b of blocksOfType(plan, "google_container_cluster")) {
      const sa = at(b.body, "node_config.service_account");
      const removesDefault = b.body.remove_default_node_pool === true;
      if (sa === undefined || sa === "default") {
        findings.push({
          rule: "DR013",
          severity: "error",
          stack: b.stack,
          address: b.address,
          message: `the cluster names no node_config.service_account, so its ${removesDefault ? "throwaway " : ""}default node pool runs as the default compute service account`,
          fix: `node_config { service_account = <node service account>.email, oauth_scopes = ["https://www.googleapis.com/auth/cloud-platform"], shielded_instance_config, workload_metadata_config { mode = "GKE_METADATA" } }${removesDefault ? ' and lifecycle { ignore_changes = ["node_config"] }' : ""}`,
        });
      } else if (removesDefault && !lifecycle(b).ignoreChanges.some((c) => c === "node_config" || c === "all")) {
        findings.push({
          rule: "DR013",
          severity: "error",
          stack: b.stack,
          address: b.address,
          message:
            "node_config is ForceNew on the cluster and the default pool it describes is removed after create: the next plan replaces the cluster",
          fix: 'lifecycle { ignore_changes = ["node_config"] }',
        });
      }
    }
    for (const b of blocksOfType(plan, "google_container_node_pool")) {
      const sa = at(b.body, "node_config.service_account");
      if (sa !== undefined && sa !== "default") continue;
      findings.push({
        rule: "DR013",
        severity: "error",
        stack: b.stack,
        address: b.address,
        message: "the node pool names no node_config.service_account: its nodes run as the default compute service account",
        fix: "node_config { service_account = <node service account>.email }",
      });
    }
    return findings;
  },
};

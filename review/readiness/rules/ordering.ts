/**
 * Rules about what must exist before a stack can be planned or applied: data sources that read
 * what the plan creates, CRDs that kubernetes_manifest needs at plan time, and inputs only an
 * operator can provide.
 */
import {
  appliedObjects,
  blocksOfType,
  type Block,
  isLiteral,
  type Json,
  type PlanModel,
  referencesIn,
  transitiveDependencies,
} from "../../plan-model.ts";
import type { Finding, Rule } from "../types.ts";

/** How a data source identifies what it reads, and which resource type creates that. */
interface ReadSpec {
  /** Argument of the data source that names the thing. */
  readonly attr: string;
  /** Resource type that creates it, and its naming argument. */
  readonly creator: { readonly type: string; readonly attr: string };
  /** The thing needs a value an operator adds (a secret version): deferring the read does not help. */
  readonly needsValue?: boolean;
}

/** Data sources that read a resource by name. */
export const READS: Readonly<Record<string, ReadSpec>> = {
  google_secret_manager_secret_version: {
    attr: "secret",
    creator: { type: "google_secret_manager_secret", attr: "secret_id" },
    needsValue: true,
  },
  google_secret_manager_secret: { attr: "secret_id", creator: { type: "google_secret_manager_secret", attr: "secret_id" } },
  google_container_cluster: { attr: "name", creator: { type: "google_container_cluster", attr: "name" } },
  google_service_account: { attr: "account_id", creator: { type: "google_service_account", attr: "account_id" } },
  google_compute_network: { attr: "name", creator: { type: "google_compute_network", attr: "name" } },
  google_compute_subnetwork: { attr: "name", creator: { type: "google_compute_subnetwork", attr: "name" } },
  google_compute_global_address: { attr: "name", creator: { type: "google_compute_global_address", attr: "name" } },
  google_kms_key_ring: { attr: "name", creator: { type: "google_kms_key_ring", attr: "name" } },
  google_kms_crypto_key: { attr: "name", creator: { type: "google_kms_crypto_key", attr: "name" } },
  google_sql_database_instance: { attr: "name", creator: { type: "google_sql_database_instance", attr: "name" } },
};

/** The last path segment of a resource name (`projects/p/secrets/x` → `x`). */
function shortName(v: string): string {
  return v.split("/").pop() ?? v;
}

/** What a data source reads: a plan resource, or a NEG the GKE NEG controller creates for a Service manifest. */
interface Target {
  readonly stack: string;
  readonly address: string;
  /** True when the data source names it through an expression (the read is deferred to apply). */
  readonly byReference: boolean;
  readonly kind: "resource" | "neg";
}

/** Standalone NEG names requested by Service manifests, with the manifest that requests them. */
function negRequests(plan: PlanModel): Map<string, { stack: string; address: string }> {
  const names = new Map<string, { stack: string; address: string }>();
  for (const a of appliedObjects(plan)) {
    const neg = a.object.kind === "Service" ? a.object.metadata.annotations?.["cloud.google.com/neg"] : undefined;
    if (!neg || !a.stack) continue;
    try {
      const ports = (JSON.parse(neg) as { exposed_ports?: Record<string, { name?: string }> }).exposed_ports ?? {};
      for (const p of Object.values(ports)) if (p.name) names.set(p.name, { stack: a.stack, address: a.address });
    } catch {
      // A malformed annotation is the API server's to reject; it names no NEG here.
    }
  }
  return names;
}

/** What each data source of the plan reads, when the plan creates it. */
function targets(plan: PlanModel): { data: Block; target: Target; spec: ReadSpec | undefined }[] {
  const out: { data: Block; target: Target; spec: ReadSpec | undefined }[] = [];
  const negs = negRequests(plan);
  for (const stack of plan.stacks) {
    for (const d of stack.blocks.filter((b) => b.mode === "data")) {
      if (d.type === "google_compute_network_endpoint_group") {
        const requested = isLiteral(d.body.name) ? negs.get(d.body.name) : undefined;
        if (requested) out.push({ data: d, target: { ...requested, byReference: false, kind: "neg" }, spec: undefined });
        continue;
      }
      const spec = READS[d.type];
      if (!spec) continue;
      const value = d.body[spec.attr];
      if (isLiteral(value)) {
        for (const c of blocksOfType(plan, spec.creator.type)) {
          if (isLiteral(c.body[spec.creator.attr]) && shortName(c.body[spec.creator.attr] as string) === shortName(value)) {
            out.push({ data: d, target: { stack: c.stack, address: c.address, byReference: false, kind: "resource" }, spec });
          }
        }
      } else {
        for (const r of referencesIn(value)) {
          const c = stack.byAddress.get(r);
          if (c && c.type === spec.creator.type) {
            out.push({ data: d, target: { stack: c.stack, address: c.address, byReference: true, kind: "resource" }, spec });
          }
        }
      }
    }
  }
  return out;
}

/** DR003: a data source reads what the same stack creates (or a stack not applied before it). */
export const sameStackReads: Rule = {
  id: "DR003",
  title: "data sources that read what the same stack creates",
  rationale:
    "a data source whose arguments are known is read at plan time, before anything of its stack is created: on a fresh project the plan fails (404); a secret version also needs a value that only an operator adds between creating the secret and reading it, which no single apply can do",
  source: "https://developer.hashicorp.com/terraform/language/data-sources#data-resource-behavior",
  severity: "error",
  check(plan) {
    const findings: Finding[] = [];
    for (const { data, target, spec } of targets(plan)) {
      const before = transitiveDependencies(plan, data.stack);
      const sameStack = target.stack === data.stack;
      if (!sameStack && before.has(target.stack)) continue;
      if (sameStack && target.byReference && !spec?.needsValue) continue;
      const what = target.kind === "neg" ? `the standalone NEG the GKE NEG controller creates for ${target.address}` : target.address;
      findings.push({
        rule: "DR003",
        severity: "error",
        stack: data.stack,
        address: data.address,
        message: sameStack
          ? `reads ${what}, created in the same stack: on a fresh project the plan fails${spec?.needsValue ? ", and the secret has no version until an operator adds one" : ""}`
          : `reads ${what} from stack ${target.stack}, which is not applied before stack ${data.stack}`,
        fix: spec?.needsValue
          ? `create ${target.address} in an earlier stack (e.g. a 'secrets' stack after bootstrap), add its value out of band, then deploy stack ${data.stack}`
          : `move the reader to a stack that depends on ${target.stack === data.stack ? "the creating resource's stack" : `stack ${target.stack}`}, or reference the resource directly instead of reading it`,
      });
    }
    return findings;
  },
};

/** API groups served by Kubernetes itself (no CRD needed). */
const BUILTIN_GROUPS = new Set([
  "",
  "admissionregistration.k8s.io",
  "apiextensions.k8s.io",
  "apps",
  "autoscaling",
  "batch",
  "certificates.k8s.io",
  "coordination.k8s.io",
  "discovery.k8s.io",
  "events.k8s.io",
  "flowcontrol.apiserver.k8s.io",
  "networking.k8s.io",
  "node.k8s.io",
  "policy",
  "rbac.authorization.k8s.io",
  "scheduling.k8s.io",
  "storage.k8s.io",
]);

/** Who installs the CRDs of a group, as a resource of the plan. */
const CRD_INSTALLERS: Readonly<Record<string, { readonly type: string; readonly matches: (b: Block) => boolean; readonly what: string }>> =
  {
    "external-secrets.io": {
      type: "helm_release",
      matches: (b) => b.body.chart === "external-secrets",
      what: "the external-secrets Helm release (installCRDs)",
    },
    "networking.gke.io": {
      type: "google_container_cluster",
      matches: (b) => b.body.enable_fqdn_network_policy === true,
      what: "GKE, when the cluster has enable_fqdn_network_policy",
    },
  };

/** DR009: stacks that can be planned only after their predecessors are applied (documented, not a defect). */
export const plannedAfterPredecessors: Rule = {
  id: "DR009",
  title: "stacks that can be planned only after their predecessors are applied",
  rationale:
    "kubernetes_manifest needs API access and the CRD at plan time, and data sources are read at plan time; `cdktf deploy` plans each stack only when every stack it depends on is done, so a deploy in order works, but planning such a stack alone (cdktf diff, a PR plan) fails until its predecessors exist",
  source:
    "cdktf-cli 0.21.0 @cdktf/cli-core src/lib/helpers/stack-helpers.js (getStackWithNoUnmetDependencies) and src/lib/cdktf-project.js (execute: terraform init of every stack first, then plan+apply per stack); https://registry.terraform.io/providers/hashicorp/kubernetes/2.38.0/docs/resources/manifest#before-you-use-this-resource",
  severity: "info",
  check(plan) {
    const findings: Finding[] = [];
    for (const { data, target } of targets(plan)) {
      if (target.stack === data.stack || !transitiveDependencies(plan, data.stack).has(target.stack)) continue;
      findings.push({
        rule: "DR009",
        severity: "info",
        stack: data.stack,
        address: data.address,
        message:
          target.kind === "neg"
            ? `reads the NEG the GKE NEG controller creates once stack ${target.stack} applies ${target.address}: stack ${data.stack} cannot be planned before that`
            : `reads ${target.address} of stack ${target.stack}: stack ${data.stack} cannot be planned before stack ${target.stack} is applied`,
        fix: `deploy in order (cdktf deploy plans ${data.stack} after ${target.stack}); a plan of ${data.stack} alone needs ${target.stack} applied (docs/deploy.md)`,
      });
    }
    for (const a of appliedObjects(plan)) {
      if (!a.block || !a.stack) continue;
      const group = a.object.apiVersion.includes("/") ? (a.object.apiVersion.split("/")[0] ?? "") : "";
      if (BUILTIN_GROUPS.has(group)) continue;
      const installer = CRD_INSTALLERS[group];
      const by = installer ? blocksOfType(plan, installer.type).filter(installer.matches) : [];
      const before = transitiveDependencies(plan, a.stack);
      const earlier = by.find((b) => before.has(b.stack));
      if (earlier) {
        findings.push({
          rule: "DR009",
          severity: "info",
          stack: a.stack,
          address: a.address,
          message: `${a.object.kind} (${group}) needs its CRD at plan time; ${installer?.what} (${earlier.address}, stack ${earlier.stack}) installs it`,
          fix: `deploy in order; a plan of ${a.stack} alone needs stack ${earlier.stack} applied (docs/deploy.md)`,
        });
      } else {
        const same = by.find((b) => b.stack === a.stack);
        findings.push({
          rule: "DR009",
          severity: "error",
          stack: a.stack,
          address: a.address,
          message: same
            ? `${a.object.kind} (${group}) needs its CRD at plan time, but ${same.address} installs it in the same stack: the stack cannot be planned on a fresh cluster`
            : `${a.object.kind} (${group}) needs its CRD at plan time and no earlier stack installs it`,
          fix: `install the CRD in an earlier stack (${installer?.what ?? "a helm_release or the cluster feature that serves it"}) and make stack ${a.stack} depend on it`,
        });
      }
    }
    return findings;
  },
};

/** The Google project of a stack (provider default). */
function projectOf(plan: PlanModel, stack: string): string {
  const p = plan.stacks.find((s) => s.name === stack)?.tf.provider?.google?.[0]?.project;
  return isLiteral(p) ? p : "<project>";
}

/** DR010: inputs only an operator can provide before a stack applies (documented, with the command that checks each). */
export const outOfBandInputs: Rule = {
  id: "DR010",
  title: "out-of-band inputs a deploy needs",
  rationale:
    "some inputs never come from the plan: secret values (Terraform and External Secrets read the latest version, which only an operator adds), the Cloudflare API token (the provider reads CLOUDFLARE_API_TOKEN), and the APIs the google provider itself calls before any google_project_service applies (its Read calls Cloud Resource Manager)",
  source:
    "https://github.com/hashicorp/terraform-provider-google/blob/v6.50.0/google/services/resourcemanager/resource_google_project_service.go (L208: Read calls cloudresourcemanager Projects.Get); https://registry.terraform.io/providers/cloudflare/cloudflare/5.14.0/docs#api_token",
  severity: "info",
  check(plan) {
    const findings: Finding[] = [];
    // Secrets the plan writes versions of itself: by reference to a secret of the same stack, or by
    // the full name of a secret another (earlier) stack creates.
    const written = new Set(
      blocksOfType(plan, "google_secret_manager_secret_version").flatMap((b) => {
        if (isLiteral(b.body.secret)) return [shortName(b.body.secret)];
        const refs = [...referencesIn(b.body.secret)];
        return refs.flatMap((r) => {
          const c = plan.stacks.find((s) => s.name === b.stack)?.byAddress.get(r);
          return c && isLiteral(c.body.secret_id) ? [c.body.secret_id] : [];
        });
      }),
    );
    const readers = new Map<string, string[]>();
    const add = (id: string, who: string) => readers.set(id, [...(readers.get(id) ?? []), who]);
    for (const d of blocksOfType(plan, "google_secret_manager_secret_version", "data")) {
      if (isLiteral(d.body.secret)) add(shortName(d.body.secret), `${d.stack}/${d.address}`);
    }
    for (const a of appliedObjects(plan)) {
      if (a.object.kind !== "ExternalSecret" || !a.stack) continue;
      for (const entry of ((a.object.spec as Json | undefined)?.data as Json[] | undefined) ?? []) {
        const key = (entry.remoteRef as Json | undefined)?.key;
        if (typeof key === "string") add(shortName(key), `${a.stack}/${a.address}`);
      }
    }
    const secrets = blocksOfType(plan, "google_secret_manager_secret");
    for (const id of [...readers.keys()].sort()) {
      if (written.has(id)) continue;
      const who = [...new Set(readers.get(id))].sort();
      const container = secrets.find((s) => isLiteral(s.body.secret_id) && s.body.secret_id === id);
      const stack = container?.stack ?? who[0]?.split("/")[0];
      findings.push({
        rule: "DR010",
        severity: "info",
        stack: container?.stack,
        address: container?.address ?? `secret ${id}`,
        message: `secret ${id} needs a version added out of band${container ? ` after stack ${container.stack} creates it` : " (no stack creates it)"} and before ${who.join(", ")} read it`,
        fix: `gcloud secrets versions add ${id} --project ${projectOf(plan, stack ?? "")} --data-file=-; check: gcloud secrets versions list ${id} --project ${projectOf(plan, stack ?? "")} --filter="state=ENABLED" --limit=1 --format="value(name)" prints a version`,
      });
    }
    for (const stack of plan.stacks) {
      const cf = stack.tf.provider?.cloudflare?.[0];
      if (cf && cf.api_token === undefined && cf.api_key === undefined) {
        findings.push({
          rule: "DR010",
          severity: "info",
          stack: stack.name,
          address: "provider.cloudflare",
          message: `stack ${stack.name} configures the Cloudflare provider without a token: it reads CLOUDFLARE_API_TOKEN at plan and apply time`,
          fix: 'export CLOUDFLARE_API_TOKEN; check: curl -fsS -H "Authorization: Bearer $CLOUDFLARE_API_TOKEN" https://api.cloudflare.com/client/v4/user/tokens/verify',
        });
      }
      if (stack.blocks.some((b) => b.type === "google_project_service" && b.mode === "resource")) {
        const p = projectOf(plan, stack.name);
        findings.push({
          rule: "DR010",
          severity: "info",
          stack: stack.name,
          address: "google_project_service.*",
          message: `stack ${stack.name} enables APIs with google_project_service, which itself needs serviceusage and cloudresourcemanager enabled before its first apply (its Read calls Cloud Resource Manager)`,
          fix: `gcloud services enable serviceusage.googleapis.com cloudresourcemanager.googleapis.com --project ${p}; check: gcloud services list --enabled --project ${p} --filter="config.name=cloudresourcemanager.googleapis.com" --format="value(config.name)"`,
        });
      }
    }
    return findings;
  },
};

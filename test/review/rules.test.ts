/**
 * The posture rules (review/rules): every rule passes on the real synthesized plan and fails on a
 * deliberately broken copy of it, naming the resource at fault. The copy is the real plan, read
 * once, deep-cloned and changed in one place per case (Terraform JSON and chart objects alike).
 */
import { describe, expect, it } from "vitest";
import type { PlueConfig } from "../../config/schema.ts";
import { type Json, type K8sObject, loadPlan, type PlanModel, stackPlan, type TfJson } from "../../review/plan-model.ts";
import { checkReadiness } from "../../review/readiness/index.ts";
import { ALL_RULES, POSTURE_RULES, READINESS_AS_POSTURE } from "../../review/rules/index.ts";
import type { Finding, ReviewContext } from "../../review/rules/types.ts";
import { resourceKey } from "../../review/suppressions.ts";
import { exampleConfig } from "../support/config.ts";
import { planDir } from "../support/plan.ts";

const real = loadPlan(planDir());
const config = exampleConfig();

/** A deep copy of the real plan that a case changes. */
class Draft {
  readonly tf = new Map(
    real.stacks.map((s) => [s.name, structuredClone(s.tf) as TfJson & { resource: Record<string, Record<string, Json>> }]),
  );
  readonly charts = real.charts.map((c) => ({ file: c.file, objects: structuredClone(c.objects) as K8sObject[] }));
  config: PlueConfig = structuredClone(config);

  /** Every block of `type` (resources) across stacks, with its stack. */
  blocks(type: string, mode: "resource" | "data" = "resource"): { stack: string; name: string; body: Json }[] {
    return [...this.tf.entries()].flatMap(([stack, tf]) =>
      Object.entries((mode === "resource" ? tf.resource : tf.data)?.[type] ?? {}).map(([name, body]) => ({
        stack,
        name,
        body: body as Json,
      })),
    );
  }

  /** The only (or first) block of `type`, optionally the one whose body passes `where`. */
  block(type: string, where: (b: Json) => boolean = () => true, mode: "resource" | "data" = "resource"): Json {
    const b = this.blocks(type, mode).find((x) => where(x.body));
    if (!b) throw new Error(`no ${type}`);
    return b.body;
  }

  /** Changes a Kubernetes object in its chart and in the kubernetes_manifest that applies it. */
  object(kind: string, name: string, change: (o: any) => void, namespace?: string): void {
    const matches = (o: any) =>
      o?.kind === kind && o.metadata?.name === name && (namespace === undefined || o.metadata?.namespace === namespace);
    const targets = [...this.charts.flatMap((c) => c.objects), ...this.blocks("kubernetes_manifest").map((m) => m.body.manifest)].filter(
      matches,
    );
    for (const o of targets) change(o);
    if (targets.length === 0) throw new Error(`no ${kind} ${name}`);
  }

  /** Adds a Kubernetes object to a chart file only. */
  addObject(file: string, o: K8sObject): void {
    const chart = this.charts.find((c) => c.file === file);
    if (!chart) throw new Error(`no chart ${file}`);
    chart.objects.push(o);
  }

  /** The review context of this draft. */
  context(): ReviewContext {
    const plan: PlanModel = {
      dir: real.dir,
      stacks: real.stacks.map((s) => stackPlan(s.name, s.dependencies, this.tf.get(s.name) as TfJson)),
      charts: this.charts,
    };
    return { plan, config: this.config };
  }
}

/** Address (`stack address`) of the blocks of `type` across the real plan. */
function addr(type: string, where: (b: Json) => boolean = () => true, mode: "resource" | "data" = "resource"): string {
  for (const s of real.stacks) {
    const b = s.blocks.find((x) => x.type === type && x.mode === mode && where(x.body));
    if (b) return `${s.name} ${b.address}`;
  }
  throw new Error(`no ${type}`);
}

/** Address of the kubernetes_manifest applying Kind name. */
function k8s(kind: string, name: string, namespace?: string): string {
  return addr(
    "kubernetes_manifest",
    (b: any) =>
      b.manifest?.kind === kind &&
      b.manifest?.metadata?.name === name &&
      (namespace === undefined || b.manifest?.metadata?.namespace === namespace),
  );
}

function run(rule: string, ctx: ReviewContext): Finding[] {
  const r = ALL_RULES.find((x) => x.id === rule);
  if (!r) throw new Error(`no rule ${rule}`);
  return r.check(ctx);
}

const where = (f: Finding[]) => [...new Set(f.map(resourceKey))].sort();
/** Resources the example environment suppresses for a rule (each with its reason in config/example.yaml). */
const suppressed = (rule: string) => config.review.suppressions.filter((s) => s.rule === rule).map((s) => s.resource);
const isPool = (sandbox: boolean) => (b: any) => (b.node_config?.sandbox_config?.sandbox_type === "gvisor") === sandbox;
const cluster = () => addr("google_container_cluster");
const systemPool = () => addr("google_container_node_pool", isPool(false));
const sandboxPool = () => addr("google_container_node_pool", isPool(true));

/** One case per rule: how to break the real plan, and the resources the rule must then name. */
const CASES: Record<string, { readonly break: (d: Draft) => void; readonly at: () => string[] }> = {
  GKE01: {
    break: (d) => ((d.block("google_container_cluster").private_cluster_config as any).enable_private_nodes = false),
    at: () => [cluster()],
  },
  GKE02: {
    break: (d) => ((d.block("google_container_node_pool", isPool(true)).network_config as any).enable_private_nodes = false),
    at: () => [sandboxPool()],
  },
  GKE03: {
    break: (d) => ((d.block("google_container_cluster").private_cluster_config as any).enable_private_endpoint = false),
    at: () => [cluster()],
  },
  GKE04: {
    break: (d) =>
      ((d.block("google_container_cluster").master_authorized_networks_config as any).cidr_blocks = [
        { cidr_block: "0.0.0.0/0", display_name: "all" },
      ]),
    at: () => [cluster()],
  },
  GKE05: { break: (d) => delete d.block("google_container_cluster").workload_identity_config, at: () => [cluster()] },
  GKE06: {
    break: (d) =>
      ((d.block("google_container_node_pool", isPool(false)).node_config as any).workload_metadata_config.mode = "GCE_METADATA"),
    at: () => [systemPool()],
  },
  GKE07: {
    break: (d) => ((d.block("google_container_node_pool", isPool(true)).node_config as any).metadata = {}),
    at: () => [sandboxPool()],
  },
  GKE08: { break: (d) => (d.block("google_container_cluster").enable_shielded_nodes = false), at: () => [cluster()] },
  GKE09: {
    break: (d) =>
      ((d.block("google_container_node_pool", isPool(true)).node_config as any).shielded_instance_config.enable_secure_boot = false),
    at: () => [sandboxPool()],
  },
  GKE10: {
    break: (d) => delete (d.block("google_container_node_pool", isPool(false)).node_config as any).service_account,
    at: () => [systemPool()],
  },
  GKE11: { break: (d) => (d.block("google_container_cluster").datapath_provider = "LEGACY_DATAPATH"), at: () => [cluster()] },
  GKE12: { break: (d) => ((d.block("google_container_cluster").database_encryption as any).state = "DECRYPTED"), at: () => [cluster()] },
  GKE13: { break: (d) => delete d.block("google_container_node_pool", isPool(true)).provider, at: () => [sandboxPool()] },
  GKE14: {
    break: (d) => ((d.block("google_container_node_pool", isPool(false)).node_config as any).labels["sandbox.gke.io/runtime"] = "gvisor"),
    at: () => [systemPool()],
  },
  GKE15: {
    break: (d) => delete (d.block("google_container_node_pool", isPool(true)).node_config as any).kubelet_config.pod_pids_limit,
    at: () => [sandboxPool()],
  },
  GKE16: { break: (d) => (d.block("google_container_cluster").deletion_protection = false), at: () => [cluster()] },
  GKE17: { break: (d) => ((d.block("google_container_cluster").release_channel as any).channel = "UNSPECIFIED"), at: () => [cluster()] },
  GKE18: { break: (d) => (d.block("google_container_cluster").enable_legacy_abac = true), at: () => [cluster()] },
  GKE19: {
    break: (d) => ((d.block("google_container_cluster").master_auth as any).client_certificate_config.issue_client_certificate = true),
    at: () => [cluster()],
  },
  GKE20: {
    break: (d) => ((d.block("google_container_node_pool", isPool(true)).management as any).auto_upgrade = false),
    at: () => [sandboxPool()],
  },
  GKE21: {
    break: (d) => ((d.block("google_container_node_pool", isPool(false)).node_config as any).image_type = "UBUNTU_CONTAINERD"),
    at: () => [systemPool()],
  },
  GKE22: {
    break: (d) =>
      ((d.block("google_container_node_pool", isPool(false)).node_config as any).kubelet_config.insecure_kubelet_readonly_port_enabled =
        "TRUE"),
    at: () => [systemPool()],
  },
  GKE23: {
    break: (d) => ((d.block("google_container_cluster").rbac_binding_config as any).enable_insecure_binding_system_authenticated = true),
    at: () => [cluster()],
  },
  GKE24: {
    break: (d) => ((d.block("google_container_cluster").logging_config as any).enable_components = ["SYSTEM_COMPONENTS"]),
    at: () => [cluster()],
  },
  GKE25: { break: (d) => (d.block("google_container_cluster").enable_intranode_visibility = false), at: () => [cluster()] },
  GKE26: { break: (d) => (d.config = { ...d.config, production: true }), at: () => [cluster()] },
  SQL01: {
    break: (d) => ((d.block("google_sql_database_instance").settings as any).ip_configuration.ipv4_enabled = true),
    at: () => [addr("google_sql_database_instance")],
  },
  SQL02: {
    break: (d) => ((d.block("google_sql_database_instance").settings as any).ip_configuration.ssl_mode = "ALLOW_UNENCRYPTED_AND_ENCRYPTED"),
    at: () => [addr("google_sql_database_instance")],
  },
  SQL03: {
    break: (d) => ((d.block("google_sql_database_instance").settings as any).backup_configuration.point_in_time_recovery_enabled = false),
    at: () => [addr("google_sql_database_instance")],
  },
  SQL04: {
    break: (d) => ((d.block("google_sql_database_instance").settings as any).deletion_protection_enabled = false),
    at: () => [addr("google_sql_database_instance")],
  },
  SQL05: {
    break: (d) => {
      const s = d.block("google_sql_database_instance").settings as any;
      s.database_flags = s.database_flags.filter((f: any) => f.name !== "log_connections");
    },
    at: () => [addr("google_sql_database_instance")],
  },
  SQL06: { break: (d) => (d.config = { ...d.config, production: true }), at: () => [addr("google_sql_database_instance")] },
  BKT01: {
    break: (d) => ((d.block("google_storage_bucket").versioning as any).enabled = false),
    at: () => [addr("google_storage_bucket")],
  },
  BKT02: { break: (d) => delete d.block("google_storage_bucket").encryption, at: () => [addr("google_storage_bucket")] },
  BKT03: {
    break: (d) => (d.block("google_storage_bucket_iam_member").member = "allUsers"),
    at: () => [addr("google_storage_bucket_iam_member")],
  },
  BKT04: { break: (d) => (d.block("google_storage_bucket").force_destroy = true), at: () => [addr("google_storage_bucket")] },
  KMS01: {
    break: (d) => (d.block("google_kms_crypto_key", (b) => b.name === "plue-gke-secrets").rotation_period = "31536000s"),
    at: () => [addr("google_kms_crypto_key", (b) => b.name === "plue-gke-secrets")],
  },
  STATE01: {
    break: (d) => {
      (d.tf.get("network") as any).terraform.backend = { local: { path: "terraform.network.tfstate" } };
    },
    at: () => ["network terraform.backend.local"],
  },
  AUDIT01: {
    break: (d) => {
      const tf = d.tf.get("bootstrap") as any;
      for (const [k, v] of Object.entries(tf.resource.google_project_iam_audit_config))
        if ((v as any).service === "secretmanager.googleapis.com") delete tf.resource.google_project_iam_audit_config[k];
    },
    at: () => [addr("google_storage_bucket")],
  },
  IAM01: {
    break: (d) => {
      (d.tf.get("cluster") as any).resource.google_project_iam_member["gke_node-sa-logginglogWriter_82BBC424"].role =
        "roles/secretmanager.secretAccessor";
    },
    at: () => ["cluster google_project_iam_member.gke_node-sa-logginglogWriter_82BBC424"],
  },
  IAM02: {
    break: (d) => (d.block("google_storage_bucket_iam_member").role = "roles/editor"),
    at: () => [addr("google_storage_bucket_iam_member")],
  },
  IAM03: {
    break: (d) =>
      (d.block("google_secret_manager_secret_iam_member", (b) => String(b.secret_id).includes("session-secret")).member =
        "serviceAccount:plue-eso-migrate@plue-example.iam.gserviceaccount.com"),
    at: () => [addr("google_secret_manager_secret_iam_member", (b) => String(b.secret_id).includes("session-secret"))],
  },
  IAM04: {
    break: (d) =>
      ((d.tf.get("bootstrap") as any).resource.google_service_account_key = {
        "ci-key": { service_account_id: "${google_service_account.ci-identity.name}" },
      }),
    at: () => ["bootstrap google_service_account_key.ci-key"],
  },
  IAM05: {
    break: (d) => {
      (d.tf.get("cluster") as any).resource.google_project_iam_member["gke_node-sa-monitoringviewer_F4A88D7B"].role =
        "roles/iam.serviceAccountTokenCreator";
    },
    at: () => ["cluster google_project_iam_member.gke_node-sa-monitoringviewer_F4A88D7B"],
  },
  IAM06: {
    break: (d) =>
      (d.block("google_service_account_iam_member", (b) => b.role === "roles/iam.workloadIdentityUser").member =
        "serviceAccount:other-project.svc.id.goog[api/api]"),
    at: () => [addr("google_service_account_iam_member", (b) => b.role === "roles/iam.workloadIdentityUser")],
  },
  IAM07: {
    break: (d) => {
      (d.tf.get("cluster") as any).resource.google_project_iam_member["gke_node-sa-monitoringviewer_F4A88D7B"].role = "roles/storage.admin";
    },
    at: () => ["cluster google_project_iam_member.gke_node-sa-monitoringviewer_F4A88D7B"],
  },
  POD01: {
    break: (d) => d.object("Deployment", "api", (o) => (o.spec.template.spec.containers[0].securityContext.runAsNonRoot = false)),
    at: () => [k8s("Deployment", "api")],
  },
  POD02: {
    break: (d) => d.object("PodTemplate", "runner", (o) => (o.template.spec.containers[0].securityContext.allowPrivilegeEscalation = true)),
    at: () => [k8s("PodTemplate", "runner")],
  },
  POD03: {
    break: (d) =>
      d.object(
        "PodTemplate",
        "runner",
        (o) => (o.template.spec.containers[0].securityContext.capabilities = { drop: ["ALL"], add: ["SYS_ADMIN"] }),
      ),
    at: () => [k8s("PodTemplate", "runner")],
  },
  POD04: {
    break: (d) =>
      d.object("Job", real.charts.flatMap((c) => c.objects).find((o) => o.kind === "Job")?.metadata.name ?? "", (o) => {
        o.spec.template.spec.securityContext.seccompProfile = { type: "Unconfined" };
        delete o.spec.template.spec.containers[0].securityContext.seccompProfile;
      }),
    at: () => [addr("kubernetes_manifest", (b: any) => b.manifest?.kind === "Job")],
  },
  POD05: {
    break: (d) => d.object("Deployment", "api", (o) => (o.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false)),
    at: () => [k8s("Deployment", "api")],
  },
  POD06: {
    break: (d) => d.object("PodTemplate", "runner", (o) => (o.template.spec.containers[0].securityContext.privileged = true)),
    at: () => [k8s("PodTemplate", "runner")],
  },
  POD07: {
    break: (d) => d.object("PodTemplate", "runner", (o) => (o.template.spec.hostNetwork = true)),
    at: () => [k8s("PodTemplate", "runner")],
  },
  POD08: {
    break: (d) => d.object("Deployment", "api", (o) => delete o.spec.template.spec.containers[0].resources.limits.memory),
    at: () => [k8s("Deployment", "api")],
  },
  POD09: {
    break: (d) => d.object("Deployment", "api", (o) => (o.spec.template.spec.containers[0].image = "ghcr.io/plue/api:latest")),
    at: () => [k8s("Deployment", "api")],
  },
  POD10: {
    break: (d) => d.object("PodTemplate", "runner", (o) => (o.template.spec.automountServiceAccountToken = true)),
    at: () => [k8s("PodTemplate", "runner")],
  },
  POD11: {
    break: (d) => d.object("Deployment", "api", (o) => delete o.spec.template.spec.containers[0].livenessProbe),
    at: () => [k8s("Deployment", "api")],
  },
  POD12: {
    break: (d) => d.object("Deployment", "api", (o) => delete o.spec.template.spec.serviceAccountName),
    at: () => [k8s("Deployment", "api")],
  },
  HELM01: {
    break: (d) => {
      const r = d.block("helm_release");
      r.values = [
        (r.values as string[])[0]?.replace("readOnlyRootFilesystem: true\n  runAsNonRoot", "readOnlyRootFilesystem: false\n  runAsNonRoot"),
      ];
    },
    at: () => [addr("helm_release")],
  },
  HELM02: { break: (d) => delete d.block("helm_release").version, at: () => [addr("helm_release")] },
  NET01: {
    break: (d) => d.object("NetworkPolicy", "default-deny-all", (o) => (o.spec.policyTypes = ["Ingress"]), "runners"),
    at: () => [k8s("Namespace", "runners")],
  },
  NET02: {
    break: (d) =>
      d.object("NetworkPolicy", "runner-egress-gateway", (o) => {
        o.spec.egress.push({ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }] });
      }),
    at: () => [k8s("PodTemplate", "runner")],
  },
  NET03: {
    break: (d) => d.object("NetworkPolicy", "api-egress-cloud-sql", (o) => (o.spec.egress = [])),
    at: () => [k8s("PodTemplate", "runner")],
  },
  NET04: {
    break: (d) =>
      d.addObject("network-policies.k8s.yaml", {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "runner-ingress-any", namespace: "runners" },
        spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{}] },
      } as K8sObject),
    at: () => [k8s("PodTemplate", "runner")],
  },
  NET05: {
    break: (d) =>
      (d.block("google_compute_firewall", (b) => b.name === "plue-vpc-allow-lb-to-api").source_ranges as string[]).push("0.0.0.0/0"),
    at: () => [addr("google_compute_firewall", (b) => b.name === "plue-vpc-allow-lb-to-api")],
  },
  NET06: { break: (d) => delete d.block("google_compute_subnetwork").log_config, at: () => [addr("google_compute_subnetwork")] },
  ADM01: {
    break: (d) => d.object("ValidatingAdmissionPolicyBinding", "plue-runner-sandbox", (o) => (o.spec.validationActions = ["Warn"])),
    at: () => [k8s("ValidatingAdmissionPolicyBinding", "plue-runner-sandbox")],
  },
  ADM02: {
    break: (d) => d.object("Namespace", "api", (o) => (o.metadata.labels["pod-security.kubernetes.io/enforce"] = "baseline")),
    at: () => [k8s("Namespace", "api")],
  },
  EDGE01: {
    break: (d) => (d.block("cloudflare_zone_setting", (b) => b.setting_id === "ssl").value = "full"),
    at: () => [addr("cloudflare_zone_setting", (b) => b.setting_id === "ssl")],
  },
  EDGE02: {
    break: (d) => (d.block("cloudflare_authenticated_origin_pulls_settings").enabled = false),
    at: () => [addr("cloudflare_authenticated_origin_pulls_settings")],
  },
  EDGE03: {
    break: (d) =>
      ((d.block("google_network_security_server_tls_policy").mtls_policy as any).client_validation_mode =
        "ALLOW_INVALID_OR_MISSING_CLIENT_CERT"),
    at: () => [addr("google_network_security_server_tls_policy")],
  },
  EDGE04: {
    break: (d) => {
      const p = d.block("google_compute_security_policy") as any;
      p.rule.find((r: any) => r.priority === 2147483647).action = "allow";
    },
    at: () => [addr("google_compute_security_policy")],
  },
  EDGE05: {
    break: (d) => {
      const b = d.block("google_compute_backend_service") as any;
      b.custom_response_headers = b.custom_response_headers.filter((h: string) => !h.startsWith("Strict-Transport"));
    },
    at: () => [addr("google_compute_backend_service")],
  },
  EDGE06: {
    break: (d) => (d.block("cloudflare_zone_setting", (b) => b.setting_id === "min_tls_version").value = "1.0"),
    at: () => [addr("cloudflare_zone_setting", (b) => b.setting_id === "min_tls_version")],
  },
  EDGE07: { break: (d) => (d.block("cloudflare_dns_record").proxied = false), at: () => [addr("cloudflare_dns_record")] },
  SEC01: {
    break: (d) =>
      (d.block("google_secret_manager_secret_version").secret_data = "-----BEGIN PRIVATE KEY-----\\nMIIB\\n-----END PRIVATE KEY-----"),
    at: () => [addr("google_secret_manager_secret_version")],
  },
  SEC02: {
    break: (d) => (d.block("google_secret_manager_secret_version").secret_data = "hunter2-literal"),
    at: () => [addr("google_secret_manager_secret_version")],
  },
  SEC03: {
    break: (d) =>
      d.addObject("api.k8s.yaml", {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "leak", namespace: "api" },
        stringData: { k: "v" },
      } as unknown as K8sObject),
    at: () => ["k8s/api.k8s.yaml: Secret api/leak"],
  },
  XL01: {
    break: (d) => d.object("PodTemplate", "runner", (o) => (o.template.spec.nodeSelector = { "plue.dev/pool": "sandbox" })),
    at: () => [k8s("PodTemplate", "runner")],
  },
  XL02: {
    break: (d) => d.object("ExternalSecret", "api-env", (o) => (o.spec.data[0].remoteRef.key = "plue-origin-key")),
    at: () => [k8s("ExternalSecret", "api-env")],
  },
  XL03: {
    break: (d) =>
      d.object(
        "ClusterSecretStore",
        "gcp-secret-manager-api",
        (o) => (o.spec.provider.gcpsm.auth.workloadIdentity.clusterLocation = "us-central1-a"),
      ),
    at: () => [k8s("ClusterSecretStore", "gcp-secret-manager-api")],
  },
  XL04: {
    break: (d) =>
      (d.block("google_service_account_iam_member", (b) => String(b.member).includes("[external-secrets/eso-api]")).member =
        "serviceAccount:plue-example.svc.id.goog[external-secrets/eso-other]"),
    at: () => [addr("kubernetes_service_account_v1", (b: any) => b.metadata?.name === "eso-api")],
  },
  XL05: {
    break: (d) => (d.block("google_compute_network_endpoint_group", () => true, "data").name = "api-neg-renamed"),
    at: () => [addr("google_compute_network_endpoint_group", () => true, "data")],
  },
  XL06: {
    break: (d) => d.object("NetworkPolicy", "api-egress-cloud-sql", (o) => (o.spec.egress[0].to[0].ipBlock.cidr = "10.0.0.0/8")),
    at: () => [k8s("NetworkPolicy", "api-egress-cloud-sql")],
  },
};

describe("the posture rules", () => {
  it("number at least 40, with unique ids, a one-line rationale and at least one reference each", () => {
    expect(POSTURE_RULES.length).toBeGreaterThanOrEqual(40);
    const ids = ALL_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of ALL_RULES) {
      expect(r.id, r.id).toMatch(/^[A-Z]+\d{2,3}$/);
      expect(r.rationale, r.id).not.toContain("\n");
      expect(r.rationale.length, r.id).toBeGreaterThan(40);
      expect(Object.values(r.references).filter(Boolean).length, r.id).toBeGreaterThan(0);
      expect(["error", "warning", "info"], r.id).toContain(r.severity);
    }
  });

  it("have a breaking case each (every posture rule is tested here; DR rules in readiness.test.ts)", () => {
    expect(Object.keys(CASES).sort()).toEqual(POSTURE_RULES.map((r) => r.id).sort());
  });

  it("include the deploy-readiness rules, finding exactly what checkReadiness finds", () => {
    expect(READINESS_AS_POSTURE.map((r) => r.id)).toEqual(Array.from({ length: 15 }, (_, i) => `DR${String(i + 1).padStart(3, "0")}`));
    const viaPosture = READINESS_AS_POSTURE.flatMap((r) => r.check({ plan: real, config }));
    expect(viaPosture.map((f) => `${f.rule} ${f.address}`).sort()).toEqual(
      checkReadiness(planDir())
        .map((f) => `${f.rule} ${f.address}`)
        .sort(),
    );
  });

  const clean = new Draft().context();
  for (const rule of POSTURE_RULES) {
    const c = CASES[rule.id];
    describe(`${rule.id} ${rule.title}`, () => {
      it(`passes on the real plan${suppressed(rule.id).length > 0 ? " but for the example's suppressions" : ""}`, () => {
        expect(where(run(rule.id, clean))).toEqual([...suppressed(rule.id)].sort());
      });
      it("fails on a broken copy, naming the resource at fault", () => {
        if (!c) throw new Error(`no case for ${rule.id}`);
        const d = new Draft();
        c.break(d);
        const found = run(rule.id, d.context());
        expect(where(found).filter((r) => !suppressed(rule.id).includes(r))).toEqual(c.at().sort());
        for (const f of found) {
          expect(f.rule).toBe(rule.id);
          expect(f.severity).toBe(rule.severity);
          expect(f.message.length).toBeGreaterThan(10);
          expect(f.fix.length).toBeGreaterThan(3);
        }
      });
    });
  }
});

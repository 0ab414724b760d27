/** GKE cluster and node pool posture (CIS GKE Benchmark v1.9.0, section 5 and parts of 3 and 4). */
import type { Block, Json } from "../plan-model.ts";
import { finding, get, isGvisorPool, list, nodeConfigs, projectOf, resourcesOf } from "./helpers.ts";
import type { Finding, PostureRule, ReviewContext } from "./types.ts";

const CLUSTER = "google_container_cluster";
const POOL = "google_container_node_pool";
const HARDENING = "https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster";

/** A rule checking each cluster with `test`, which returns the problems (empty when it passes). */
function clusterRule(
  spec: Omit<PostureRule, "check"> & { readonly test: (c: Block, ctx: ReviewContext) => [string, string][] },
): PostureRule {
  const rule: PostureRule = {
    ...spec,
    check: (ctx) => resourcesOf(ctx, CLUSTER).flatMap((c) => spec.test(c, ctx).map(([m, fix]) => finding(rule, c, m, fix))),
  };
  return rule;
}

/** A rule checking every node configuration (pools, and a cluster's own node_config). */
function nodeRule(spec: Omit<PostureRule, "check"> & { readonly test: (nc: Json, b: Block) => [string, string] | undefined }): PostureRule {
  const rule: PostureRule = {
    ...spec,
    check: (ctx) =>
      nodeConfigs(ctx).flatMap(({ block, path, config }) => {
        const r = spec.test(config, block);
        return r ? [finding(rule, block, `${path}: ${r[0]}`, r[1])] : [];
      }),
  };
  return rule;
}

/** A rule checking every node pool. */
function poolRule(spec: Omit<PostureRule, "check"> & { readonly test: (p: Block) => [string, string][] }): PostureRule {
  const rule: PostureRule = {
    ...spec,
    check: (ctx) => resourcesOf(ctx, POOL).flatMap((p) => spec.test(p).map(([m, fix]) => finding(rule, p, m, fix))),
  };
  return rule;
}

export const privateNodes = clusterRule({
  id: "GKE01",
  title: "private nodes",
  severity: "error",
  rationale: "nodes without external IPs cannot be reached from the internet, and reach it only through Cloud NAT",
  references: { cis: "5.6.5", checkov: "CKV_GCP_64", seed: "004 Infrastructure as Code Security (Use private subnets)" },
  test: (c) =>
    get(c.body, "private_cluster_config.enable_private_nodes") === true
      ? []
      : [["private_cluster_config.enable_private_nodes is not true", "private_cluster_config { enable_private_nodes = true }"]],
});

export const privatePoolNodes = poolRule({
  id: "GKE02",
  title: "no node pool opts out of private nodes",
  severity: "error",
  rationale: "a pool's network_config.enable_private_nodes = false gives its nodes external IPs even in a private cluster",
  references: { cis: "5.6.5", checkov: "CKV_GCP_64" },
  test: (p) =>
    get(p.body, "network_config.enable_private_nodes") === false
      ? [["network_config.enable_private_nodes is false", "remove it or set it to true"]]
      : [],
});

export const privateEndpoint = clusterRule({
  id: "GKE03",
  title: "private control-plane endpoint",
  severity: "error",
  rationale:
    "the control plane's IP endpoint is private (CI reaches the IAM-authenticated DNS endpoint instead, docs/adr/0004); a public endpoint exposes the API server to the internet",
  references: { cis: "5.6.4", checkov: "CKV_GCP_18, CKV_GCP_25", docs: "docs/adr/0004-control-plane-access.md" },
  test: (c) => [
    ...(get(c.body, "private_cluster_config.enable_private_endpoint") === true
      ? []
      : [
          ["private_cluster_config.enable_private_endpoint is not true", "private_cluster_config { enable_private_endpoint = true }"] as [
            string,
            string,
          ],
        ]),
    ...(get(c.body, "private_cluster_config.master_global_access_config.enabled") === true
      ? [["private_cluster_config.master_global_access_config.enabled is true", "leave global access off"] as [string, string]]
      : []),
  ],
});

export const authorizedNetworks = clusterRule({
  id: "GKE04",
  title: "control-plane authorized networks, no public ranges",
  severity: "error",
  rationale: "only listed internal networks may reach the private endpoint; Google Cloud public IPs and 0.0.0.0/0 must not",
  references: { cis: "5.6.3", checkov: "CKV_GCP_20" },
  test: (c) => {
    const man = get(c.body, "master_authorized_networks_config");
    if (!man || typeof man !== "object")
      return [
        ["has no master_authorized_networks_config", "master_authorized_networks_config { gcp_public_cidrs_access_enabled = false }"],
      ];
    const out: [string, string][] = [];
    if (get(man, "gcp_public_cidrs_access_enabled") !== false)
      out.push(["gcp_public_cidrs_access_enabled is not false", "set it to false"]);
    for (const b of list(man, "cidr_blocks")) {
      const cidr = get(b, "cidr_block");
      if (cidr === "0.0.0.0/0" || cidr === "::/0") out.push([`cidr_blocks allows ${cidr}`, "list internal ranges only"]);
    }
    return out;
  },
});

export const workloadIdentity = clusterRule({
  id: "GKE05",
  title: "Workload Identity",
  severity: "error",
  rationale: "pods get a Google identity only through their Kubernetes service account, never the node's",
  references: { cis: "5.2.2", docs: HARDENING },
  test: (c, ctx) => {
    const pool = get(c.body, "workload_identity_config.workload_pool");
    const project = projectOf(ctx.plan, c);
    return pool === `${project}.svc.id.goog`
      ? []
      : [
          [
            `workload_identity_config.workload_pool is ${JSON.stringify(pool)}`,
            `workload_identity_config { workload_pool = "${project}.svc.id.goog" }`,
          ],
        ];
  },
});

export const gkeMetadata = nodeRule({
  id: "GKE06",
  title: "GKE metadata server on every node",
  severity: "error",
  rationale: "GKE_METADATA hides the node's credentials and metadata from pods; without it any pod can act as the node",
  references: { cis: "5.4.1", checkov: "CKV_GCP_69" },
  test: (nc) =>
    get(nc, "workload_metadata_config.mode") === "GKE_METADATA"
      ? undefined
      : ["workload_metadata_config.mode is not GKE_METADATA", 'workload_metadata_config { mode = "GKE_METADATA" }'],
});

export const legacyMetadata = nodeRule({
  id: "GKE07",
  title: "legacy metadata endpoints disabled",
  severity: "error",
  rationale: "the v0.1/v1beta1 metadata endpoints answer without the Metadata-Flavor header, which SSRF can then reach",
  references: { docs: `${HARDENING}#protect_node_metadata` },
  test: (nc) =>
    ((get(nc, "metadata") ?? {}) as Json)["disable-legacy-endpoints"] === "true"
      ? undefined
      : ['metadata["disable-legacy-endpoints"] is not "true"', 'metadata = { "disable-legacy-endpoints" = "true" }'],
});

export const shieldedNodes = clusterRule({
  id: "GKE08",
  title: "shielded GKE nodes",
  severity: "error",
  rationale: "shielded nodes prove their identity to the control plane, so a stolen bootstrap credential cannot join a rogue node",
  references: { cis: "5.5.5", checkov: "CKV_GCP_71" },
  test: (c) => (c.body.enable_shielded_nodes === true ? [] : [["enable_shielded_nodes is not true", "enable_shielded_nodes = true"]]),
});

export const secureBoot = nodeRule({
  id: "GKE09",
  title: "secure boot and integrity monitoring on every node",
  severity: "error",
  rationale: "secure boot refuses unsigned boot components; integrity monitoring reports a changed boot chain",
  references: { cis: "5.5.6, 5.5.7", checkov: "CKV_GCP_68, CKV_GCP_72" },
  test: (nc) => {
    const missing = ["enable_secure_boot", "enable_integrity_monitoring"].filter((k) => get(nc, `shielded_instance_config.${k}`) !== true);
    return missing.length === 0
      ? undefined
      : [
          `shielded_instance_config: ${missing.join(", ")} not true`,
          "shielded_instance_config { enable_secure_boot = true, enable_integrity_monitoring = true }",
        ];
  },
});

export const noDefaultServiceAccount = nodeRule({
  id: "GKE10",
  title: "nodes never run as the default compute service account",
  severity: "error",
  rationale: "the default compute account has Editor on the project; a compromised node would hold it",
  references: { cis: "5.2.1", checkov: "CKV_GCP_30 (instances only)" },
  test: (nc) => {
    const sa = get(nc, "service_account");
    if (sa === undefined || sa === "default" || (typeof sa === "string" && /-compute@developer\.gserviceaccount\.com$/.test(sa))) {
      return [
        `service_account is ${sa === undefined ? "unset (the default compute account)" : JSON.stringify(sa)}`,
        "a dedicated least-privilege account: service_account = google_service_account.<nodes>.email",
      ];
    }
    return undefined;
  },
});

export const dataplaneV2 = clusterRule({
  id: "GKE11",
  title: "Dataplane V2 (NetworkPolicy enforced, FQDN policies)",
  severity: "error",
  rationale:
    "without an enforcing dataplane every NetworkPolicy of the plan is decoration; Dataplane V2 enforces them in eBPF and serves FQDN policies",
  references: { cis: "4.3.1", checkov: "CKV_GCP_12 (checks the legacy network_policy block instead)" },
  test: (c) =>
    c.body.datapath_provider === "ADVANCED_DATAPATH"
      ? []
      : [[`datapath_provider is ${JSON.stringify(c.body.datapath_provider)}`, 'datapath_provider = "ADVANCED_DATAPATH"']],
});

export const secretsEncryption = clusterRule({
  id: "GKE12",
  title: "application-layer secrets encryption with Cloud KMS",
  severity: "error",
  rationale: "Secrets in etcd (and its backups) are encrypted with a key the project controls and rotates",
  references: { cis: "5.3.1" },
  test: (c) =>
    get(c.body, "database_encryption.state") === "ENCRYPTED" && typeof get(c.body, "database_encryption.key_name") === "string"
      ? []
      : [
          [
            "database_encryption is not ENCRYPTED with a KMS key",
            'database_encryption { state = "ENCRYPTED", key_name = google_kms_crypto_key.<key>.id }',
          ],
        ],
});

export const gvisorPool: PostureRule = {
  id: "GKE13",
  title: "a gVisor (GKE Sandbox) pool on google-beta with COS_CONTAINERD",
  severity: "error",
  rationale:
    "runner pods execute untrusted agent code; only a pool with sandbox_config gvisor (google-beta: the GA provider has no sandbox_config) and COS_CONTAINERD gives them a userspace kernel",
  references: {
    cis: "5.10.3",
    seed: "000 Sandboxed Execution (gVisor)",
    docs: "https://cloud.google.com/kubernetes-engine/docs/how-to/sandbox-pods",
  },
  check(ctx) {
    const pools = resourcesOf(ctx, POOL);
    const gvisor = pools.filter(isGvisorPool);
    const out: Finding[] = [];
    for (const c of resourcesOf(ctx, CLUSTER)) {
      if (gvisor.length === 0)
        out.push(
          finding(
            gvisorPool,
            c,
            "the cluster has no node pool with sandbox_config.sandbox_type gvisor",
            'a google-beta google_container_node_pool with node_config { sandbox_config { sandbox_type = "gvisor" }, image_type = "COS_CONTAINERD" }',
          ),
        );
    }
    for (const p of gvisor) {
      if (typeof p.body.provider !== "string" || !p.body.provider.startsWith("google-beta")) {
        out.push(
          finding(
            gvisorPool,
            p,
            "sandbox_config is set on a pool of the GA google provider, which has no such field",
            'provider = "google-beta" (cdktf: @cdktf/provider-google-beta GoogleContainerNodePool)',
          ),
        );
      }
      if (get(p.body, "node_config.image_type") !== "COS_CONTAINERD") {
        out.push(
          finding(
            gvisorPool,
            p,
            `node_config.image_type is ${JSON.stringify(get(p.body, "node_config.image_type"))}; GKE Sandbox needs COS_CONTAINERD`,
            'image_type = "COS_CONTAINERD"',
          ),
        );
      }
    }
    return out;
  },
};

export const sandboxTaint = poolRule({
  id: "GKE14",
  title: "the gVisor pool carries only GKE's own sandbox label and taint",
  severity: "error",
  rationale:
    "GKE labels and taints gVisor nodes sandbox.gke.io/runtime=gvisor itself (so only pods that ask for gVisor land there) and rejects a pool that declares them; a non-gVisor pool with that label would attract runner pods to runc",
  references: {
    seed: "000 Sandboxed Execution (gVisor): Node Isolation",
    docs: "https://cloud.google.com/kubernetes-engine/docs/how-to/sandbox-pods#working-with",
  },
  test: (p) => {
    const labels = (get(p.body, "node_config.labels") ?? {}) as Json;
    const taints = list(p.body, "node_config.taint").map((t) => String(get(t, "key")));
    const declared = [...Object.keys(labels), ...taints].filter((k) => k.startsWith("sandbox.gke.io/"));
    if (declared.length === 0) return [];
    return isGvisorPool(p)
      ? [
          [
            `declares ${declared.join(", ")} itself; GKE adds them and the API rejects the pool`,
            "remove the sandbox.gke.io label/taint from node_config",
          ],
        ]
      : [
          [
            `a non-gVisor pool declares ${declared.join(", ")}: runner pods selecting it would run without gVisor`,
            "remove the label/taint",
          ],
        ];
  },
});

export const sandboxPidLimit = poolRule({
  id: "GKE15",
  title: "PID limit per pod on the gVisor pool",
  severity: "warning",
  rationale: "a fork bomb in an agent run must not exhaust the node's PIDs for the other runners on it",
  references: {
    seed: "000 Sandboxed Execution (gVisor): Resource Limits",
    docs: "https://cloud.google.com/kubernetes-engine/docs/how-to/node-system-config",
  },
  test: (p) => {
    if (!isGvisorPool(p)) return [];
    const limit = get(p.body, "node_config.kubelet_config.pod_pids_limit");
    return typeof limit === "number" && limit > 0 && limit <= 4096
      ? []
      : [
          [
            `node_config.kubelet_config.pod_pids_limit is ${JSON.stringify(limit)}`,
            "kubelet_config { pod_pids_limit = 1024 } (at most 4096)",
          ],
        ];
  },
});

export const deletionProtection = clusterRule({
  id: "GKE16",
  title: "cluster deletion protection",
  severity: "error",
  rationale: "a plan that replaces or destroys the cluster fails instead of deleting every workload and its state",
  references: {
    docs: "https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/container_cluster#deletion_protection",
  },
  test: (c) => (c.body.deletion_protection === true ? [] : [["deletion_protection is not true", "deletion_protection = true"]]),
});

export const releaseChannel = clusterRule({
  id: "GKE17",
  title: "release channel (REGULAR or STABLE in production)",
  severity: "error",
  rationale: "a release channel keeps the control plane and nodes patched; production stays off RAPID",
  references: { cis: "5.5.4", checkov: "CKV_GCP_70" },
  test: (c, ctx) => {
    const ch = get(c.body, "release_channel.channel");
    if (ch === "REGULAR" || ch === "STABLE" || (ch === "RAPID" && !ctx.config.production)) return [];
    return [
      [
        `release_channel.channel is ${JSON.stringify(ch)}${ch === "RAPID" ? " in production" : ""}`,
        'release_channel { channel = "REGULAR" } (or STABLE)',
      ],
    ];
  },
});

export const legacyAbac = clusterRule({
  id: "GKE18",
  title: "legacy authorization (ABAC) off",
  severity: "error",
  rationale: "ABAC grants rights outside RBAC that no Role or RoleBinding shows",
  references: { cis: "5.8.3", checkov: "CKV_GCP_7" },
  test: (c) => (c.body.enable_legacy_abac === true ? [["enable_legacy_abac is true", "enable_legacy_abac = false"]] : []),
});

export const clientCertificates = clusterRule({
  id: "GKE19",
  title: "no client certificate, no basic auth",
  severity: "error",
  rationale: "a cluster client certificate is a credential that cannot be revoked; basic auth is a static password",
  references: { cis: "5.8.1", checkov: "CKV_GCP_13" },
  test: (c) => {
    const out: [string, string][] = [];
    if (get(c.body, "master_auth.client_certificate_config.issue_client_certificate") !== false) {
      out.push([
        "master_auth.client_certificate_config.issue_client_certificate is not false",
        "master_auth { client_certificate_config { issue_client_certificate = false } }",
      ]);
    }
    if (get(c.body, "master_auth.username") !== undefined || get(c.body, "master_auth.password") !== undefined) {
      out.push(["master_auth sets a username/password", "remove them"]);
    }
    return out;
  },
});

export const autoRepairUpgrade = poolRule({
  id: "GKE20",
  title: "auto-repair and auto-upgrade on every pool",
  severity: "error",
  rationale: "unhealthy nodes are replaced and every node follows the control plane's security patches",
  references: { cis: "5.5.2, 5.5.3", checkov: "CKV_GCP_9, CKV_GCP_10" },
  test: (p) => {
    const off = ["auto_repair", "auto_upgrade"].filter((k) => get(p.body, `management.${k}`) !== true);
    return off.length === 0 ? [] : [[`management: ${off.join(", ")} not true`, "management { auto_repair = true, auto_upgrade = true }"]];
  },
});

export const cosImage = nodeRule({
  id: "GKE21",
  title: "Container-Optimized OS with containerd",
  severity: "error",
  rationale: "COS is a minimal, read-only, auto-updated node OS; GKE Sandbox requires it",
  references: { cis: "5.5.1", checkov: "CKV_GCP_22" },
  test: (nc, b) => {
    if (b.type === CLUSTER && get(nc, "image_type") === undefined) return undefined;
    return get(nc, "image_type") === "COS_CONTAINERD"
      ? undefined
      : [`image_type is ${JSON.stringify(get(nc, "image_type"))}`, 'image_type = "COS_CONTAINERD"'];
  },
});

export const kubeletReadOnlyPort = nodeRule({
  id: "GKE22",
  title: "kubelet read-only port closed",
  severity: "error",
  rationale: "port 10255 serves pod specs and node metrics without authentication to anything that reaches the node",
  references: { cis: "3.2.4 (v1.6.0)", docs: "https://cloud.google.com/kubernetes-engine/docs/how-to/disable-kubelet-readonly-port" },
  test: (nc, b) => {
    if (b.type === CLUSTER) return undefined;
    return get(nc, "kubelet_config.insecure_kubelet_readonly_port_enabled") === "FALSE"
      ? undefined
      : [
          "kubelet_config.insecure_kubelet_readonly_port_enabled is not FALSE",
          'kubelet_config { insecure_kubelet_readonly_port_enabled = "FALSE" }',
        ];
  },
});

export const insecureRbacBindings = clusterRule({
  id: "GKE23",
  title: "no insecure RBAC bindings to system:authenticated / unauthenticated; anonymous auth LIMITED",
  severity: "error",
  rationale: "system:authenticated includes every Google account; bindings to it or to anonymous users open the API server to the world",
  references: {
    cis: "4.1.8, 4.1.9, 4.1.10",
    docs: "https://cloud.google.com/kubernetes-engine/docs/best-practices/rbac#prevent-default-group-usage",
  },
  test: (c) => {
    const out: [string, string][] = [];
    for (const k of ["enable_insecure_binding_system_authenticated", "enable_insecure_binding_system_unauthenticated"]) {
      if (get(c.body, `rbac_binding_config.${k}`) !== false)
        out.push([`rbac_binding_config.${k} is not false`, `rbac_binding_config { ${k} = false }`]);
    }
    if (get(c.body, "anonymous_authentication_config.mode") !== "LIMITED")
      out.push(["anonymous_authentication_config.mode is not LIMITED", 'anonymous_authentication_config { mode = "LIMITED" }']);
    return out;
  },
});

export const clusterLogging = clusterRule({
  id: "GKE24",
  title: "system, workload and API server logs; managed monitoring",
  severity: "error",
  rationale: "an incident needs the API server's audit trail and the workloads' logs; CIS asks for Cloud Logging and Monitoring",
  references: { cis: "5.7.1", checkov: "CKV_GCP_1, CKV_GCP_8", seed: "004 A09: Logging & Monitoring" },
  test: (c) => {
    const logs = list(c.body, "logging_config.enable_components");
    const missing = ["SYSTEM_COMPONENTS", "WORKLOADS", "APISERVER"].filter((x) => !logs.includes(x));
    const out: [string, string][] = [];
    if (missing.length > 0)
      out.push([
        `logging_config.enable_components lacks ${missing.join(", ")}`,
        "logging_config { enable_components = [SYSTEM_COMPONENTS, WORKLOADS, APISERVER, ...] }",
      ]);
    if (!list(c.body, "monitoring_config.enable_components").includes("SYSTEM_COMPONENTS"))
      out.push(["monitoring_config does not enable SYSTEM_COMPONENTS", "monitoring_config { enable_components = [SYSTEM_COMPONENTS] }"]);
    return out;
  },
});

export const vpcNative = clusterRule({
  id: "GKE25",
  title: "VPC-native with intranode visibility",
  severity: "error",
  rationale:
    "alias IPs make pod ranges first-class in the VPC (firewalls, flow logs); intranode visibility logs pod-to-pod traffic on one node too",
  references: { cis: "5.6.1, 5.6.2", checkov: "CKV_GCP_23, CKV_GCP_61" },
  test: (c) => {
    const out: [string, string][] = [];
    if (c.body.networking_mode !== "VPC_NATIVE" || get(c.body, "ip_allocation_policy") === undefined)
      out.push(["is not VPC-native (networking_mode, ip_allocation_policy)", 'networking_mode = "VPC_NATIVE" with ip_allocation_policy']);
    if (c.body.enable_intranode_visibility !== true)
      out.push(["enable_intranode_visibility is not true", "enable_intranode_visibility = true"]);
    return out;
  },
});

export const binaryAuthorization = clusterRule({
  id: "GKE26",
  title: "Binary Authorization enforced in production",
  severity: "error",
  rationale: "in production only attested images may run; outside it the project's policy is optional (cluster.binaryAuthorization)",
  references: { cis: "5.10.4 (v1.6.0)", checkov: "CKV_GCP_66" },
  test: (c, ctx) =>
    !ctx.config.production || get(c.body, "binary_authorization.evaluation_mode") === "PROJECT_SINGLETON_POLICY_ENFORCE"
      ? []
      : [
          [
            `binary_authorization.evaluation_mode is ${JSON.stringify(get(c.body, "binary_authorization.evaluation_mode"))} in production`,
            "cluster.binaryAuthorization: true (evaluation_mode = PROJECT_SINGLETON_POLICY_ENFORCE)",
          ],
        ],
});

/** Every cluster and pool rule, in id order. */
export const CLUSTER_RULES: readonly PostureRule[] = [
  privateNodes,
  privatePoolNodes,
  privateEndpoint,
  authorizedNetworks,
  workloadIdentity,
  gkeMetadata,
  legacyMetadata,
  shieldedNodes,
  secureBoot,
  noDefaultServiceAccount,
  dataplaneV2,
  secretsEncryption,
  gvisorPool,
  sandboxTaint,
  sandboxPidLimit,
  deletionProtection,
  releaseChannel,
  legacyAbac,
  clientCertificates,
  autoRepairUpgrade,
  cosImage,
  kubeletReadOnlyPort,
  insecureRbacBindings,
  clusterLogging,
  vpcNative,
  binaryAuthorization,
];

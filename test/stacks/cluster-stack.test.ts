import { describe, expect, it } from "vitest";
import { body, only, resources, stack, stackText } from "../support/plan.ts";

const tf = stack("cluster");
const cluster = only(tf, "google_container_cluster") as Record<string, any>;
const pools = Object.values(resources(tf, "google_container_node_pool")) as Record<string, any>[];

describe("cluster stack", () => {
  it("matches the snapshot", () => {
    expect(stackText("cluster")).toMatchSnapshot();
  });

  it("keeps its state in GCS under its own prefix", () => {
    expect(tf.terraform.backend?.gcs).toEqual({ bucket: "plue-example-tfstate", prefix: "example/cluster" });
  });

  it("is regional, spread over the configured zones", () => {
    expect(cluster.location).toBe("us-central1");
    expect(cluster.node_locations).toEqual(["us-central1-a", "us-central1-b", "us-central1-c"]);
  });

  it("removes the default node pool", () => {
    expect(cluster.remove_default_node_pool).toBe(true);
  });

  it("has private nodes and a private-only IP endpoint", () => {
    expect(cluster.private_cluster_config).toEqual({
      enable_private_nodes: true,
      enable_private_endpoint: true,
      master_ipv4_cidr_block: "172.16.0.32/28",
      master_global_access_config: { enabled: false },
    });
  });

  it("lets CI reach the control plane through the IAM-authenticated DNS endpoint", () => {
    expect(cluster.control_plane_endpoints_config.dns_endpoint_config.allow_external_traffic).toBe(true);
  });

  it("restricts the IP endpoint to authorized networks, none from Google Cloud's public ranges", () => {
    // Only the cluster's own node and pod ranges (the API starts runners, External Secrets watches
    // its objects: both reach the private endpoint; docs/adr/0010), and the configured networks (none).
    expect(cluster.master_authorized_networks_config).toEqual({
      gcp_public_cidrs_access_enabled: false,
      private_endpoint_enforcement_enabled: true,
      cidr_blocks: [
        { display_name: "nodes", cidr_block: "10.10.0.0/20" },
        { display_name: "pods", cidr_block: "10.16.0.0/14" },
      ],
    });
  });

  it("enables Workload Identity", () => {
    expect(cluster.workload_identity_config).toEqual({ workload_pool: "plue-example.svc.id.goog" });
  });

  it("runs Dataplane V2 with FQDN network policies", () => {
    expect(cluster.datapath_provider).toBe("ADVANCED_DATAPATH");
    expect(cluster.enable_fqdn_network_policy).toBe(true);
    expect(cluster.addons_config.network_policy_config).toEqual({ disabled: true });
  });

  it("requires shielded nodes", () => {
    expect(cluster.enable_shielded_nodes).toBe(true);
  });

  it("encrypts Kubernetes secrets at the application layer with a rotating Cloud KMS key", () => {
    const [keyId, key] = Object.entries(resources(tf, "google_kms_crypto_key"))[0] as [string, Record<string, any>];
    expect(cluster.database_encryption).toEqual({ state: "ENCRYPTED", key_name: `\${google_kms_crypto_key.${keyId}.id}` });
    expect(key.rotation_period).toBe(`${90 * 86400}s`);
    expect(key.key_ring).toBe("projects/plue-example/locations/us-central1/keyRings/plue-keyring");
    const grant = only(tf, "google_kms_crypto_key_iam_member") as Record<string, any>;
    expect(grant.member).toMatch(
      /^serviceAccount:service-\$\{data\.google_project\.[^}]+\.number\}@container-engine-robot\.iam\.gserviceaccount\.com$/,
    );
    // The cluster is created with the key: it waits 120 s after the GKE agent's grant (IAM is
    // eventually consistent; docs/adr/0010, item 9).
    const [grantId] = Object.keys(resources(tf, "google_kms_crypto_key_iam_member"));
    const [sleepId, sleep] = Object.entries(resources(tf, "time_sleep"))[0] as [string, Record<string, any>];
    expect(sleep).toEqual({
      "//": expect.anything(),
      create_duration: "120s",
      triggers: { "secrets-key-gke-agent": `\${google_kms_crypto_key_iam_member.${grantId}.etag}` },
    });
    expect(cluster.depends_on).toEqual([`time_sleep.${sleepId}`]);
  });

  it("keeps workload configuration audit and asks for no retired vulnerability scanning tier", () => {
    expect(cluster.security_posture_config).toEqual({ mode: "BASIC", vulnerability_mode: "VULNERABILITY_DISABLED" });
  });

  it("runs even the throwaway default pool as the node account (never the default compute account), and ignores its later drift", () => {
    const [nodeSaId] = Object.entries(resources(tf, "google_service_account")).find(([, sa]) => sa.account_id === "plue-gke-nodes") ?? [];
    expect(cluster.node_config.service_account).toBe(`\${google_service_account.${nodeSaId}.email}`);
    expect(cluster.node_config.machine_type).toBe("e2-small");
    expect(cluster.node_config.shielded_instance_config).toEqual({ enable_integrity_monitoring: true, enable_secure_boot: true });
    expect(cluster.node_config.workload_metadata_config).toEqual({ mode: "GKE_METADATA" });
    expect(cluster.lifecycle).toEqual({ ignore_changes: ["node_config"] });
  });

  it("follows a release channel and a daily maintenance window", () => {
    expect(cluster.release_channel).toEqual({ channel: "REGULAR" });
    expect(cluster.maintenance_policy).toEqual({ daily_maintenance_window: { start_time: "03:00" } });
  });

  it("is protected from deletion", () => {
    expect(cluster.deletion_protection).toBe(true);
  });

  it("issues no client certificate, has no legacy ABAC and no basic auth", () => {
    expect(cluster.master_auth).toEqual({ client_certificate_config: { issue_client_certificate: false } });
    expect(cluster.enable_legacy_abac).toBe(false);
    expect(JSON.stringify(cluster.master_auth)).not.toContain("username");
  });

  it("limits anonymous authentication and insecure RBAC bindings", () => {
    expect(cluster.anonymous_authentication_config).toEqual({ mode: "LIMITED" });
    expect(cluster.rbac_binding_config).toEqual({
      enable_insecure_binding_system_authenticated: false,
      enable_insecure_binding_system_unauthenticated: false,
    });
  });

  it("turns on logging and monitoring with managed Prometheus", () => {
    expect(cluster.logging_config.enable_components).toEqual(expect.arrayContaining(["SYSTEM_COMPONENTS", "WORKLOADS", "APISERVER"]));
    expect(cluster.monitoring_config.managed_prometheus).toEqual({ enabled: true });
  });

  it("turns on intranode visibility", () => {
    expect(cluster.enable_intranode_visibility).toBe(true);
  });

  it("leaves Binary Authorization off only because the example environment does not ask for it", () => {
    expect(cluster.binary_authorization).toEqual({ evaluation_mode: "DISABLED" });
  });

  it("is VPC-native on the network stack's subnet and secondary ranges", () => {
    expect(cluster.network).toBe("projects/plue-example/global/networks/plue-vpc");
    expect(cluster.subnetwork).toBe("projects/plue-example/regions/us-central1/subnetworks/plue-us-central1");
    expect(cluster.ip_allocation_policy).toEqual({ cluster_secondary_range_name: "pods", services_secondary_range_name: "services" });
  });

  it("gives nodes a dedicated service account with only logging, monitoring and artifact-read roles", () => {
    const [nodeSaId] = Object.entries(resources(tf, "google_service_account")).find(([, sa]) => sa.account_id === "plue-gke-nodes") ?? [];
    expect(nodeSaId).toBeDefined();
    const grants = Object.values(resources(tf, "google_project_iam_member")) as Record<string, any>[];
    // Written out here, not read from the construct: adding a role must fail this test.
    expect(grants.map((g) => g.role).sort()).toEqual([
      "roles/artifactregistry.reader",
      "roles/autoscaling.metricsWriter",
      "roles/logging.logWriter",
      "roles/monitoring.metricWriter",
      "roles/monitoring.viewer",
      "roles/stackdriver.resourceMetadata.writer",
    ]);
    for (const g of grants) expect(g.member).toBe(`\${google_service_account.${nodeSaId}.member}`);
    for (const pool of pools) {
      expect(pool.node_config.service_account).toMatch(/^\$\{google_service_account\.[^}]+\.email\}$/);
      expect(pool.node_config.service_account).not.toContain("compute@developer");
    }
  });

  it("runs every pool on COS_CONTAINERD with secure boot and integrity monitoring", () => {
    for (const pool of pools) {
      expect(pool.node_config.image_type).toBe("COS_CONTAINERD");
      expect(pool.node_config.shielded_instance_config).toEqual({ enable_integrity_monitoring: true, enable_secure_boot: true });
    }
  });

  it("serves every pool the GKE metadata server and disables legacy metadata endpoints", () => {
    for (const pool of pools) {
      expect(pool.node_config.workload_metadata_config).toEqual({ mode: "GKE_METADATA" });
      expect(pool.node_config.metadata).toEqual({ "disable-legacy-endpoints": "true" });
    }
  });

  it("closes the read-only kubelet port on every pool", () => {
    for (const pool of pools) expect(pool.node_config.kubelet_config.insecure_kubelet_readonly_port_enabled).toBe("FALSE");
  });

  it("auto-repairs and auto-upgrades every pool", () => {
    for (const pool of pools) expect(pool.management).toEqual({ auto_repair: true, auto_upgrade: true });
  });

  it("gives no node an external IP", () => {
    for (const pool of pools) expect(pool.network_config).toEqual({ enable_private_nodes: true });
  });

  it("gives the API pods a Google identity through Workload Identity, with no project role", () => {
    const [apiSaId, apiSa] = Object.entries(resources(tf, "google_service_account")).find(([, sa]) => sa.account_id === "plue-api") ?? [];
    expect(apiSa).toBeDefined();
    const binding = only(tf, "google_service_account_iam_member") as Record<string, any>;
    expect(body(binding)).toEqual({
      service_account_id: `\${google_service_account.${apiSaId}.name}`,
      role: "roles/iam.workloadIdentityUser",
      member: "serviceAccount:plue-example.svc.id.goog[api/api]",
      depends_on: ["google_container_cluster.gke_cluster_C5D95197"],
    });
    const roles = Object.values(resources(tf, "google_project_iam_member")).filter((g) => String(g.member).includes(String(apiSaId)));
    expect(roles).toEqual([]);
  });

  it("has a system pool and a sandbox pool, sized from config", () => {
    const byName = Object.fromEntries(pools.map((p) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual(["sandbox", "system"]);
    // The system pool per zone (one node in each of the three zones: the load balancer reads the
    // API's NEG in every zone, and GKE makes one only where nodes are); the sandbox pool in total.
    expect(byName.system.autoscaling).toEqual({ location_policy: "BALANCED", min_node_count: 1, max_node_count: 1 });
    expect(byName.sandbox.autoscaling).toEqual({ location_policy: "BALANCED", total_min_node_count: 0, total_max_node_count: 5 });
  });
});

describe("cluster stack, other environments", () => {
  it("enforces the project's Binary Authorization policy when the environment asks for it", async () => {
    const { stackFor } = await import("../support/build.ts");
    const { exampleConfig } = await import("../support/config.ts");
    const config = exampleConfig();
    const json = stackFor({ ...config, cluster: { ...config.cluster, binaryAuthorization: true } }, "cluster");
    const [gke] = Object.values(json.resource?.google_container_cluster ?? {});
    expect(gke?.binary_authorization).toEqual({ evaluation_mode: "PROJECT_SINGLETON_POLICY_ENFORCE" });
  });
});

/** Both node pools, read from the real synthesized cluster stack, and NodePool's own rules. */
import { GoogleBetaProvider } from "@cdktf/provider-google-beta/lib/provider";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { describe, expect, it } from "vitest";
import { NodePool, type NodePoolProps } from "../../constructs/node-pool.ts";
import { synthConstruct } from "../support/build.ts";
import { resources, stack } from "../support/plan.ts";

const tf = stack("cluster");
const byAddress = resources(tf, "google_container_node_pool") as Record<string, Record<string, any>>;
const pools = Object.values(byAddress);
const sandbox = pools.find((p) => p.name === "sandbox") as Record<string, any>;
const system = pools.find((p) => p.name === "system") as Record<string, any>;

const base: NodePoolProps = {
  cluster: "projects/p/locations/us-central1/clusters/c",
  name: "pool",
  location: "us-central1",
  nodeLocations: ["us-central1-a"],
  machineType: "e2-standard-4",
  diskSizeGb: 100,
  minNodes: 0,
  maxNodes: 3,
  serviceAccount: "nodes@p.iam.gserviceaccount.com",
};

/** Builds one NodePool in an empty stack (with google and google-beta providers) and returns the pool resource. */
function poolOf(props: Partial<NodePoolProps>, withBeta = true): Record<string, any> {
  const json = synthConstruct((scope) => {
    new GoogleProvider(scope, "google", { project: "p" });
    const beta = new GoogleBetaProvider(scope, "google-beta", { project: "p" });
    new NodePool(scope, "pool", { ...base, ...(withBeta ? { betaProvider: beta } : {}), ...props });
  });
  return Object.values(resources(json, "google_container_node_pool"))[0] as Record<string, any>;
}

describe("NodePool in the cluster stack", () => {
  it("keeps both pools' Terraform addresses (construct ids are API: a new address would recreate the pool)", () => {
    expect(Object.keys(byAddress).sort()).toEqual(["gke_system-pool_DF0D252E", "sandbox_pool_7FB69A50"]);
  });

  it("survives into cdk.tf.json with sandbox_config gvisor", () => {
    expect(sandbox.node_config.sandbox_config).toEqual({ sandbox_type: "gvisor" });
  });

  it("is bound to the google-beta provider, which the stack declares and pins", () => {
    expect(sandbox.provider).toBe("google-beta");
    expect(tf.provider?.["google-beta"]).toHaveLength(1);
    expect(tf.terraform.required_providers?.["google-beta"]).toEqual({ source: "google-beta", version: "6.50.0" });
  });

  it("uses COS_CONTAINERD, which GKE Sandbox requires", () => {
    expect(sandbox.node_config.image_type).toBe("COS_CONTAINERD");
  });

  it("declares neither the sandbox label nor its taint (GKE adds both; the API rejects them)", () => {
    expect(JSON.stringify(sandbox)).not.toContain("sandbox.gke.io");
    expect(sandbox.node_config.taint).toBeUndefined();
    expect(sandbox.node_config.labels).toBeUndefined();
  });

  it("limits PIDs per pod against fork bombs from untrusted code", () => {
    expect(sandbox.node_config.kubelet_config.pod_pids_limit).toBe(1024);
  });

  it("autoscales within the configured bounds across zones", () => {
    expect(sandbox.autoscaling).toEqual({ location_policy: "BALANCED", total_min_node_count: 0, total_max_node_count: 5 });
  });

  it("is the only gVisor pool: the system pool runs no sandbox and is not on the beta provider", () => {
    expect(system.node_config.sandbox_config).toBeUndefined();
    expect(system.provider).toBeUndefined();
  });

  it("gives both pools the same hardened node settings", () => {
    const hardened = (p: Record<string, any>) => ({
      image_type: p.node_config.image_type,
      shielded_instance_config: p.node_config.shielded_instance_config,
      workload_metadata_config: p.node_config.workload_metadata_config,
      metadata: p.node_config.metadata,
      oauth_scopes: p.node_config.oauth_scopes,
      network_config: p.network_config,
      management: p.management,
    });
    expect(hardened(system)).toEqual(hardened(sandbox));
    expect(hardened(sandbox)).toEqual({
      image_type: "COS_CONTAINERD",
      shielded_instance_config: { enable_integrity_monitoring: true, enable_secure_boot: true },
      workload_metadata_config: { mode: "GKE_METADATA" },
      metadata: { "disable-legacy-endpoints": "true" },
      oauth_scopes: ["https://www.googleapis.com/auth/cloud-platform"],
      network_config: { enable_private_nodes: true },
      management: { auto_repair: true, auto_upgrade: true },
    });
  });
});

describe("NodePool rules", () => {
  it("builds a plain pool on the GA binding without a beta provider", () => {
    const pool = poolOf({}, false);
    expect(pool.provider).toBeUndefined();
    expect(pool.node_config.sandbox_config).toBeUndefined();
    expect(pool.node_config.kubelet_config).toEqual({ insecure_kubelet_readonly_port_enabled: "FALSE" });
  });

  it("scales per zone when asked (min/max in every zone), in total otherwise", () => {
    expect(poolOf({ perZone: true, minNodes: 1, maxNodes: 2 }).autoscaling).toEqual({
      location_policy: "BALANCED",
      min_node_count: 1,
      max_node_count: 2,
    });
    expect(poolOf({ minNodes: 1, maxNodes: 2 }).autoscaling).toEqual({
      location_policy: "BALANCED",
      total_min_node_count: 1,
      total_max_node_count: 2,
    });
  });

  it("lets a sandbox pool set its own PID limit", () => {
    expect(poolOf({ sandbox: true, podPidsLimit: 256 }).node_config.kubelet_config.pod_pids_limit).toBe(256);
  });

  it("fails if a sandbox pool has no google-beta provider", () => {
    expect(() => poolOf({ sandbox: true }, false)).toThrow(
      "NodePool pool: 'betaProvider' is missing for a sandbox pool (got nothing). Pass the google-beta provider: GA google 6.50.0 has no sandbox_config.",
    );
  });

  it("fails if minNodes is above maxNodes, and not when they are equal", () => {
    expect(() => poolOf({ minNodes: 4, maxNodes: 3 })).toThrow(
      "NodePool pool: 'minNodes' is above 'maxNodes' (got 4 > 3). Make minNodes at most maxNodes.",
    );
    expect(poolOf({ minNodes: 3, maxNodes: 3 }).autoscaling.total_min_node_count).toBe(3);
  });

  it("fails if no zone is given", () => {
    expect(() => poolOf({ nodeLocations: [] })).toThrow("NodePool pool: 'nodeLocations' is empty (got []). List at least one zone.");
  });

  it("fails if the pool declares GKE's sandbox label, on a sandbox pool and on a plain one", () => {
    const message =
      "NodePool pool: 'labels' declares sandbox.gke.io/runtime (got sandbox.gke.io/runtime). Remove it: GKE adds it to sandbox nodes and rejects pools that declare it.";
    expect(() => poolOf({ sandbox: true, labels: { "sandbox.gke.io/runtime": "gvisor" } })).toThrow(message);
    expect(() => poolOf({ labels: { "sandbox.gke.io/runtime": "gvisor" } })).toThrow(message);
  });

  it("reports every broken rule at once", () => {
    expect(() => poolOf({ sandbox: true, minNodes: 5, maxNodes: 1, nodeLocations: [] }, false)).toThrow(
      /nodeLocations[\s\S]*minNodes[\s\S]*betaProvider/,
    );
  });
});

/** The gVisor pool, read from the real synthesized cluster stack. */
import { describe, expect, it } from "vitest";
import { resources, stack } from "../support/plan.ts";

const tf = stack("cluster");
const pools = Object.values(resources(tf, "google_container_node_pool")) as Record<string, any>[];
const sandbox = pools.find((p) => p.name === "sandbox") as Record<string, any>;
const system = pools.find((p) => p.name === "system") as Record<string, any>;

describe("SandboxNodePool", () => {
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
});

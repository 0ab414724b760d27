import { Construct } from "constructs";
import { GoogleContainerNodePool } from "@cdktf/provider-google-beta/lib/google-container-node-pool";
import type { GoogleBetaProvider } from "@cdktf/provider-google-beta/lib/provider";
import { hardenedNodeConfig, NODE_MANAGEMENT, NODE_UPGRADE_SETTINGS } from "./node-config.ts";

/** Props of {@link SandboxNodePool}. */
export interface SandboxNodePoolProps {
  /** The google-beta provider: GA google 6.50.0 has no `sandbox_config`. */
  readonly provider: GoogleBetaProvider;
  /** Cluster id (`projects/…/locations/…/clusters/…`). */
  readonly cluster: string;
  /** Pool name. */
  readonly name: string;
  /** Region of the (regional) cluster. */
  readonly location: string;
  /** Zones the pool's nodes are spread over. */
  readonly nodeLocations: readonly string[];
  readonly machineType: string;
  readonly diskSizeGb: number;
  /** Autoscaling lower bound, in nodes across all zones. */
  readonly minNodes: number;
  /** Autoscaling upper bound, in nodes across all zones. */
  readonly maxNodes: number;
  /** Node service account email. */
  readonly serviceAccount: string;
  /** Maximum PIDs per pod (fork-bomb guard for untrusted code). @default 1024 */
  readonly podPidsLimit?: number;
}

/**
 * A GKE Sandbox (gVisor) node pool for untrusted agent and workflow code. GKE itself adds the
 * `sandbox.gke.io/runtime=gvisor` label and NoSchedule taint to these nodes, so only pods that
 * tolerate it and ask for `runtimeClassName: gvisor` land here; declaring them is rejected by
 * the API, so this construct never does.
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/sandbox-pods
 */
export class SandboxNodePool extends Construct {
  /** The node pool resource (google-beta). */
  readonly pool: GoogleContainerNodePool;

  constructor(scope: Construct, id: string, props: SandboxNodePoolProps) {
    super(scope, id);
    this.pool = new GoogleContainerNodePool(this, "pool", {
      provider: props.provider,
      name: props.name,
      cluster: props.cluster,
      location: props.location,
      nodeLocations: [...props.nodeLocations],
      autoscaling: { totalMinNodeCount: props.minNodes, totalMaxNodeCount: props.maxNodes, locationPolicy: "BALANCED" },
      management: NODE_MANAGEMENT,
      upgradeSettings: NODE_UPGRADE_SETTINGS,
      networkConfig: { enablePrivateNodes: true },
      nodeConfig: {
        ...hardenedNodeConfig({
          machineType: props.machineType,
          diskSizeGb: props.diskSizeGb,
          serviceAccount: props.serviceAccount,
          podPidsLimit: props.podPidsLimit ?? 1024,
        }),
        sandboxConfig: { sandboxType: "gvisor" },
      },
    });
  }
}

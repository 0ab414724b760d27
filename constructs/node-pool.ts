import { ContainerNodePool } from "@cdktf/provider-google/lib/container-node-pool";
import { GoogleContainerNodePool } from "@cdktf/provider-google-beta/lib/google-container-node-pool";
import type { GoogleBetaProvider } from "@cdktf/provider-google-beta/lib/provider";
import { Construct } from "constructs";
import { hardenedNodeConfig, NODE_MANAGEMENT, NODE_UPGRADE_SETTINGS } from "./node-config.ts";

/** The label and taint GKE itself puts on gVisor nodes; a pool may not declare them. */
export const SANDBOX_NODE_KEY = "sandbox.gke.io/runtime";

/** PIDs per pod on a sandbox pool unless told otherwise (fork-bomb guard for untrusted code). */
export const SANDBOX_POD_PIDS_LIMIT = 1024;

/** Props of {@link NodePool}. */
export interface NodePoolProps {
  /** Cluster id (`projects/…/locations/…/clusters/…`). */
  readonly cluster: string;
  /** Pool name. */
  readonly name: string;
  /** Region of the (regional) cluster. */
  readonly location: string;
  /** Zones the pool's nodes are spread over. */
  readonly nodeLocations: readonly string[];
  /** Compute Engine machine type. */
  readonly machineType: string;
  /** Boot disk size in GB. */
  readonly diskSizeGb: number;
  /** Autoscaling lower bound: nodes across all zones, or in each zone with `perZone`. */
  readonly minNodes: number;
  /** Autoscaling upper bound: nodes across all zones, or in each zone with `perZone`. */
  readonly maxNodes: number;
  /**
   * Read `minNodes`/`maxNodes` per zone (`min_node_count`/`max_node_count`): every zone keeps at
   * least `minNodes` nodes. Totals (`total_*_node_count`, `BALANCED`) are only a preference across
   * zones, so a pool that must have a node in every zone (the NEGs of a load balancer) is per zone.
   * @default false
   */
  readonly perZone?: boolean;
  /** Node service account e-mail (never the default compute account). */
  readonly serviceAccount: string;
  /**
   * Labels on the Kubernetes nodes.
   * @default - none
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Run the pool's pods in GKE Sandbox (gVisor). GKE adds the `sandbox.gke.io/runtime=gvisor`
   * label and NoSchedule taint itself, so only pods that tolerate it and ask for
   * `runtimeClassName: gvisor` land there.
   * @default false
   */
  readonly sandbox?: boolean;
  /**
   * The google-beta provider; required with `sandbox` (GA google 6.50.0 has no `sandbox_config`).
   * @default - the stack's google provider (GA binding)
   */
  readonly betaProvider?: GoogleBetaProvider;
  /**
   * Maximum PIDs per pod.
   * @default - 1024 on a sandbox pool, the kubelet default otherwise
   */
  readonly podPidsLimit?: number;
}

/**
 * A hardened GKE node pool — every pool of the plan: Container-Optimized OS with containerd,
 * shielded nodes with secure boot, the GKE metadata server, private nodes, a dedicated service
 * account, surge upgrades, autoscaling across the given zones — and, with `sandbox`, a GKE Sandbox
 * (gVisor) pool for untrusted agent and workflow code (on the google-beta binding).
 *
 * The pool resource is the construct's `Default` child, so its Terraform address is the
 * construct's own path (`<scope>_<id>_<hash>`).
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/sandbox-pods
 */
export class NodePool extends Construct {
  /** The node pool resource (google-beta for a sandbox pool). */
  readonly pool: ContainerNodePool | GoogleContainerNodePool;

  constructor(scope: Construct, id: string, props: NodePoolProps) {
    super(scope, id);
    const where = `NodePool ${props.name}`;
    const problems: string[] = [];
    if (props.nodeLocations.length === 0) problems.push(`${where}: 'nodeLocations' is empty (got []). List at least one zone.`);
    if (props.minNodes > props.maxNodes) {
      problems.push(
        `${where}: 'minNodes' is above 'maxNodes' (got ${props.minNodes} > ${props.maxNodes}). Make minNodes at most maxNodes.`,
      );
    }
    if (props.sandbox && props.betaProvider === undefined) {
      problems.push(
        `${where}: 'betaProvider' is missing for a sandbox pool (got nothing). Pass the google-beta provider: GA google 6.50.0 has no sandbox_config.`,
      );
    }
    const reserved = Object.keys(props.labels ?? {}).filter((k) => k === SANDBOX_NODE_KEY);
    if (reserved.length > 0) {
      problems.push(
        `${where}: 'labels' declares ${SANDBOX_NODE_KEY} (got ${reserved.join(", ")}). Remove it: GKE adds it to sandbox nodes and rejects pools that declare it.`,
      );
    }
    if (problems.length > 0) throw new Error(problems.join("\n"));

    const podPidsLimit = props.podPidsLimit ?? (props.sandbox ? SANDBOX_POD_PIDS_LIMIT : undefined);
    const nodeConfig = hardenedNodeConfig({
      machineType: props.machineType,
      diskSizeGb: props.diskSizeGb,
      serviceAccount: props.serviceAccount,
      ...(props.labels !== undefined ? { labels: props.labels } : {}),
      ...(podPidsLimit !== undefined ? { podPidsLimit } : {}),
    });
    const common = {
      name: props.name,
      cluster: props.cluster,
      location: props.location,
      nodeLocations: [...props.nodeLocations],
      autoscaling: props.perZone
        ? { minNodeCount: props.minNodes, maxNodeCount: props.maxNodes, locationPolicy: "BALANCED" }
        : { totalMinNodeCount: props.minNodes, totalMaxNodeCount: props.maxNodes, locationPolicy: "BALANCED" },
      management: NODE_MANAGEMENT,
      upgradeSettings: NODE_UPGRADE_SETTINGS,
      networkConfig: { enablePrivateNodes: true },
    };
    this.pool = props.sandbox
      ? new GoogleContainerNodePool(this, "Default", {
          ...common,
          provider: props.betaProvider,
          nodeConfig: { ...nodeConfig, sandboxConfig: { sandboxType: "gvisor" } },
        })
      : new ContainerNodePool(this, "Default", { ...common, nodeConfig });
  }
}

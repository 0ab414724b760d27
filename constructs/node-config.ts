/**
 * The node settings every pool shares (system and sandbox): Container-Optimized OS with
 * containerd, shielded VMs, the GKE metadata server, no legacy metadata endpoints, a dedicated
 * least-privilege service account, and no read-only kubelet port.
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster
 */

/** Inputs of {@link hardenedNodeConfig}. */
export interface HardenedNodeConfigProps {
  /** Compute Engine machine type. */
  readonly machineType: string;
  /** Boot disk size in GB. */
  readonly diskSizeGb: number;
  /** Email of the node service account (never the default compute account). */
  readonly serviceAccount: string;
  /** Labels on the Kubernetes nodes. @default - none */
  readonly labels?: Readonly<Record<string, string>>;
  /** Maximum PIDs per pod. @default - the kubelet default */
  readonly podPidsLimit?: number;
}

/** Node image type required by GKE Sandbox and used for every pool. */
export const NODE_IMAGE_TYPE = "COS_CONTAINERD";

/** Returns the node_config shared by every pool; assignable to the GA and the beta binding. */
export function hardenedNodeConfig(props: HardenedNodeConfigProps) {
  return {
    machineType: props.machineType,
    diskSizeGb: props.diskSizeGb,
    diskType: "pd-balanced",
    imageType: NODE_IMAGE_TYPE,
    serviceAccount: props.serviceAccount,
    // Access is governed by IAM roles on the service account, not by legacy scopes.
    oauthScopes: ["https://www.googleapis.com/auth/cloud-platform"],
    shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
    workloadMetadataConfig: { mode: "GKE_METADATA" },
    metadata: { "disable-legacy-endpoints": "true" },
    kubeletConfig: {
      insecureKubeletReadonlyPortEnabled: "FALSE",
      ...(props.podPidsLimit !== undefined ? { podPidsLimit: props.podPidsLimit } : {}),
    },
    ...(props.labels ? { labels: { ...props.labels } } : {}),
  };
}

/** Pool management shared by every pool: nodes repair and upgrade themselves. */
export const NODE_MANAGEMENT = { autoRepair: true, autoUpgrade: true } as const;

/** Surge upgrades: one extra node at a time, never an unavailable one. */
export const NODE_UPGRADE_SETTINGS = { strategy: "SURGE", maxSurge: 1, maxUnavailable: 0 } as const;

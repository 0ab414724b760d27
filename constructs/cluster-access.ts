/**
 * How the platform and workloads stacks reach the cluster's API at apply time: the
 * IAM-authenticated DNS endpoint (docs/adr/0004) and a short-lived access token of whoever
 * runs `cdktf deploy` (CI through Workload Identity Federation). No kubeconfig, no static
 * credential, nothing cluster-specific in the plan but the cluster's name and location.
 */
import type { Construct } from "constructs";
import { DataGoogleClientConfig } from "@cdktf/provider-google/lib/data-google-client-config";
import { DataGoogleContainerCluster } from "@cdktf/provider-google/lib/data-google-container-cluster";

/** Host and token for a Kubernetes or Helm provider. */
export interface ClusterAccess {
  /** `https://<dns endpoint>` of the control plane. */
  readonly host: string;
  /** OAuth access token of the deploying identity. */
  readonly token: string;
}

/** Which cluster {@link clusterAccess} reaches. */
export interface ClusterAccessProps {
  /** Cluster name. */
  readonly clusterName: string;
  /** Cluster location (the region of a regional cluster). */
  readonly location: string;
}

/**
 * Declares, in `scope` (ids `cluster` and `client`), the data sources that resolve the cluster's
 * DNS endpoint and a token at apply time.
 */
export function clusterAccess(scope: Construct, props: ClusterAccessProps): ClusterAccess {
  const cluster = new DataGoogleContainerCluster(scope, "cluster", {
    name: props.clusterName,
    location: props.location,
  });
  const client = new DataGoogleClientConfig(scope, "client", {});
  const endpoint = cluster.controlPlaneEndpointsConfig.get(0).dnsEndpointConfig.get(0).endpoint;
  return { host: `https://${endpoint}`, token: client.accessToken };
}

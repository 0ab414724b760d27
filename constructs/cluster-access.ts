/**
 * How the platform and workloads stacks reach the cluster's API at apply time: the
 * IAM-authenticated DNS endpoint (docs/adr/0004) and a short-lived access token of whoever
 * runs `cdktf deploy` (CI through Workload Identity Federation). No kubeconfig, no static
 * credential, nothing cluster-specific in the plan but the cluster's name and location.
 */
import type { Construct } from "constructs";
import { DataGoogleClientConfig } from "@cdktf/provider-google/lib/data-google-client-config";
import { DataGoogleContainerCluster } from "@cdktf/provider-google/lib/data-google-container-cluster";
import type { PlueConfig } from "../config/schema.ts";
import { names } from "../config/names.ts";

/** Host and token for a Kubernetes or Helm provider. */
export interface ClusterAccess {
  /** `https://<dns endpoint>` of the control plane. */
  readonly host: string;
  /** OAuth access token of the deploying identity. */
  readonly token: string;
}

/** Declares the data sources that resolve the cluster's DNS endpoint and a token at apply time. */
export function clusterAccess(scope: Construct, config: PlueConfig): ClusterAccess {
  const cluster = new DataGoogleContainerCluster(scope, "cluster", {
    name: names(config).cluster,
    location: config.project.region,
  });
  const client = new DataGoogleClientConfig(scope, "client", {});
  const endpoint = cluster.controlPlaneEndpointsConfig.get(0).dnsEndpointConfig.get(0).endpoint;
  return { host: `https://${endpoint}`, token: client.accessToken };
}

import type { Construct } from "constructs";
import { TerraformOutput } from "cdktf";
import { GoogleBetaProvider } from "@cdktf/provider-google-beta/lib/provider";
import { PlueStack, type PlueStackProps } from "./plue-stack.ts";
import { HardenedCluster } from "../constructs/hardened-cluster.ts";
import { Construct as Group } from "constructs";
import { NodePool } from "../constructs/node-pool.ts";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account";
import { ServiceAccountIamMember } from "@cdktf/provider-google/lib/service-account-iam-member";
import { keyRingId, names, networkId, subnetworkId, workloadIdentityMember } from "../config/names.ts";
import { K8S } from "../lib/k8s-names.ts";

/**
 * The `cluster` stack: the private, hardened regional GKE cluster, its system/API pool, and
 * the GKE Sandbox (gVisor) pool that only runner pods may use.
 */
export class ClusterStack extends PlueStack {
  readonly gke: HardenedCluster;
  readonly sandboxPool: NodePool;

  constructor(scope: Construct, id: string, props: PlueStackProps) {
    super(scope, id, props);
    const { config } = props;
    const n = names(config);
    const c = config.cluster;

    const beta = new GoogleBetaProvider(this, "google-beta", {
      project: config.project.id,
      region: config.project.region,
      defaultLabels: { ...config.labels, environment: config.environment },
    });

    this.gke = new HardenedCluster(this, "gke", {
      projectId: config.project.id,
      name: n.cluster,
      region: config.project.region,
      nodeLocations: config.project.zones,
      network: networkId(config),
      subnetwork: subnetworkId(config),
      podsRangeName: n.podsRange,
      servicesRangeName: n.servicesRange,
      controlPlaneCidr: config.network.controlPlaneCidr,
      // The pods (the API starts runners; External Secrets watches) and nodes reach the private
      // endpoint whatever GKE's default for its own ranges is (docs/adr/0010, "private endpoint").
      authorizedNetworks: { ...c.authorizedNetworks, pods: config.network.podCidr, nodes: config.network.nodeCidr },
      releaseChannel: c.releaseChannel,
      maintenanceStart: c.maintenanceStart,
      binaryAuthorization: c.binaryAuthorization,
      nodeLocalDns: c.nodeLocalDns,
      keyRingId: keyRingId(config),
      secretsKeyName: n.clusterSecretsKey,
      keyRotationDays: config.state.kmsRotationDays,
      nodeServiceAccountId: n.nodeServiceAccount,
      // Per zone: the load balancer reads the API's NEG in every zone, and GKE makes one only where
      // nodes are (the config refuses fewer nodes than zones).
      systemPool: {
        machineType: c.systemPool.machineType,
        diskSizeGb: c.systemPool.diskSizeGb,
        minNodesPerZone: Math.ceil(c.systemPool.minNodes / config.project.zones.length),
        maxNodesPerZone: Math.ceil(c.systemPool.maxNodes / config.project.zones.length),
      },
      systemPoolName: n.systemPool,
    });

    // The grouping scope keeps the pool's Terraform address (`sandbox_pool_…`).
    this.sandboxPool = new NodePool(new Group(this, "sandbox"), "pool", {
      sandbox: true,
      betaProvider: beta,
      cluster: this.gke.cluster.id,
      name: n.sandboxPool,
      location: config.project.region,
      nodeLocations: config.project.zones,
      machineType: c.sandboxPool.machineType,
      diskSizeGb: c.sandboxPool.diskSizeGb,
      minNodes: c.sandboxPool.minNodes,
      maxNodes: c.sandboxPool.maxNodes,
      serviceAccount: this.gke.nodeServiceAccount.email,
    });

    // The API's Google identity (Workload Identity): no project role; secrets reach the API
    // through External Secrets, which has identities of its own.
    const apiSa = new ServiceAccount(this, "api-identity", {
      accountId: n.apiServiceAccount,
      displayName: "Plue API pods (Workload Identity)",
    });
    new ServiceAccountIamMember(this, "api-identity-workload-identity", {
      serviceAccountId: apiSa.name,
      role: "roles/iam.workloadIdentityUser",
      member: workloadIdentityMember(config, K8S.namespaces.api, K8S.serviceAccounts.api),
      dependsOn: [this.gke.cluster],
    });

    new TerraformOutput(this, "cluster-name", { value: this.gke.cluster.name });
    new TerraformOutput(this, "cluster-location", { value: this.gke.cluster.location });
    new TerraformOutput(this, "dns-endpoint", { value: this.gke.cluster.controlPlaneEndpointsConfig.dnsEndpointConfig.endpoint });
  }
}

import { Construct } from "constructs";
import { ContainerCluster } from "@cdktf/provider-google/lib/container-cluster";
import { DataGoogleProject } from "@cdktf/provider-google/lib/data-google-project";
import { KmsCryptoKey } from "@cdktf/provider-google/lib/kms-crypto-key";
import { KmsCryptoKeyIamMember } from "@cdktf/provider-google/lib/kms-crypto-key-iam-member";
import { ProjectIamMember } from "@cdktf/provider-google/lib/project-iam-member";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account";
import { IamPropagationWait } from "./iam-propagation-wait.ts";
import { hardenedNodeConfig } from "./node-config.ts";
import { NodePool } from "./node-pool.ts";

/** The only project roles the node service account gets: write logs and metrics, pull images. */
export const NODE_SERVICE_ACCOUNT_ROLES = [
  "roles/artifactregistry.reader",
  "roles/autoscaling.metricsWriter",
  "roles/logging.logWriter",
  "roles/monitoring.metricWriter",
  "roles/monitoring.viewer",
  "roles/stackdriver.resourceMetadata.writer",
] as const;

/** Machine type of the throwaway default pool GKE creates before Terraform removes it. */
export const DEFAULT_POOL_MACHINE_TYPE = "e2-small";

/** Size and bounds of a node pool. */
export interface PoolSize {
  readonly machineType: string;
  readonly diskSizeGb: number;
  /** Autoscaling lower bound, in nodes per zone (every zone keeps at least this many). */
  readonly minNodesPerZone: number;
  /** Autoscaling upper bound, in nodes per zone. */
  readonly maxNodesPerZone: number;
}

/** Props of {@link HardenedCluster}. */
export interface HardenedClusterProps {
  readonly projectId: string;
  readonly name: string;
  /** Region: the cluster is regional (control plane replicated across zones). */
  readonly region: string;
  /** Zones the nodes are spread over. */
  readonly nodeLocations: readonly string[];
  /** VPC network id. */
  readonly network: string;
  /** Subnetwork id. */
  readonly subnetwork: string;
  /** Secondary range names of the subnet. */
  readonly podsRangeName: string;
  readonly servicesRangeName: string;
  /** /28 for the control plane's private endpoint. */
  readonly controlPlaneCidr: string;
  /**
   * Networks allowed to reach the private IP endpoint, by name. CI uses the IAM-authenticated
   * DNS endpoint instead (docs/adr/0004). @default - none
   */
  readonly authorizedNetworks?: Readonly<Record<string, string>>;
  readonly releaseChannel: "RAPID" | "REGULAR" | "STABLE";
  /** Daily maintenance window start, HH:MM UTC. */
  readonly maintenanceStart: string;
  /** Enforce the project's Binary Authorization policy. @default false */
  readonly binaryAuthorization?: boolean;
  /** Run the NodeLocal DNS cache. @default false */
  readonly nodeLocalDns?: boolean;
  /** KMS key ring id for the application-layer secrets key. */
  readonly keyRingId: string;
  /** Name of the secrets encryption key. */
  readonly secretsKeyName: string;
  /** Rotation period of that key, in days. */
  readonly keyRotationDays: number;
  /** Account id of the dedicated node service account. */
  readonly nodeServiceAccountId: string;
  /** The system/API pool's size. */
  readonly systemPool: PoolSize;
  /** The system/API pool's name (also its `plue.dev/pool` node label). */
  readonly systemPoolName: string;
}

/**
 * A private, hardened, regional GKE Standard cluster, after the GKE hardening guide and the
 * CIS GKE benchmark (reference designs: terraform-google-modules `safer-cluster`,
 * cloud-foundation-fabric `gke-cluster-standard`), with its system/API node pool.
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster
 */
export class HardenedCluster extends Construct {
  readonly cluster: ContainerCluster;
  /** The system/API pool. */
  readonly systemPool: NodePool;
  /** The node service account (shared with the sandbox pool). */
  readonly nodeServiceAccount: ServiceAccount;
  /** The application-layer secrets encryption key. */
  readonly secretsKey: KmsCryptoKey;

  constructor(scope: Construct, id: string, props: HardenedClusterProps) {
    super(scope, id);

    this.nodeServiceAccount = new ServiceAccount(this, "node-sa", {
      accountId: props.nodeServiceAccountId,
      displayName: "GKE nodes (least privilege; not the default compute account)",
    });
    for (const role of NODE_SERVICE_ACCOUNT_ROLES) {
      new ProjectIamMember(this, `node-sa-${role.split("/")[1]}`, {
        project: props.projectId,
        role,
        member: this.nodeServiceAccount.member,
      });
    }

    this.secretsKey = new KmsCryptoKey(this, "secrets-key", {
      name: props.secretsKeyName,
      keyRing: props.keyRingId,
      purpose: "ENCRYPT_DECRYPT",
      rotationPeriod: `${props.keyRotationDays * 86400}s`,
      lifecycle: { preventDestroy: true },
    });
    const project = new DataGoogleProject(this, "project", { projectId: props.projectId });
    const gkeAgentCanUseKey = new KmsCryptoKeyIamMember(this, "secrets-key-gke-agent", {
      cryptoKeyId: this.secretsKey.id,
      role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
      member: `serviceAccount:service-${project.number}@container-engine-robot.iam.gserviceaccount.com`,
    });

    const authorized = Object.entries(props.authorizedNetworks ?? {}).sort(([a], [b]) => a.localeCompare(b));
    this.cluster = new ContainerCluster(this, "cluster", {
      name: props.name,
      location: props.region,
      nodeLocations: [...props.nodeLocations],
      network: props.network,
      subnetwork: props.subnetwork,
      networkingMode: "VPC_NATIVE",
      ipAllocationPolicy: { clusterSecondaryRangeName: props.podsRangeName, servicesSecondaryRangeName: props.servicesRangeName },
      removeDefaultNodePool: true,
      initialNodeCount: 1,
      // GKE creates the default pool before Terraform removes it: without this it would run as the
      // default compute account (refused where an org policy disables it). Changing node_config
      // replaces the cluster, and after the pool is gone it always differs: ignored (docs/adr/0010).
      nodeConfig: hardenedNodeConfig({
        machineType: DEFAULT_POOL_MACHINE_TYPE,
        diskSizeGb: 20,
        serviceAccount: this.nodeServiceAccount.email,
      }),
      lifecycle: { ignoreChanges: ["node_config"] },
      deletionProtection: true,
      releaseChannel: { channel: props.releaseChannel },
      maintenancePolicy: { dailyMaintenanceWindow: { startTime: props.maintenanceStart } },

      // Private nodes; the control plane's IP endpoint is private only, reachable from the
      // listed networks; CI and operators use the IAM-authenticated DNS endpoint.
      privateClusterConfig: {
        enablePrivateNodes: true,
        enablePrivateEndpoint: true,
        masterIpv4CidrBlock: props.controlPlaneCidr,
        masterGlobalAccessConfig: { enabled: false },
      },
      controlPlaneEndpointsConfig: {
        dnsEndpointConfig: { allowExternalTraffic: true },
        ipEndpointsConfig: { enabled: true },
      },
      masterAuthorizedNetworksConfig: {
        gcpPublicCidrsAccessEnabled: false,
        privateEndpointEnforcementEnabled: true,
        cidrBlocks: authorized.map(([displayName, cidrBlock]) => ({ displayName, cidrBlock })),
      },

      // Identity and authentication.
      workloadIdentityConfig: { workloadPool: `${props.projectId}.svc.id.goog` },
      masterAuth: { clientCertificateConfig: { issueClientCertificate: false } },
      enableLegacyAbac: false,
      anonymousAuthenticationConfig: { mode: "LIMITED" },
      rbacBindingConfig: { enableInsecureBindingSystemAuthenticated: false, enableInsecureBindingSystemUnauthenticated: false },

      // Dataplane V2 enforces NetworkPolicy (and FQDN policies) with eBPF.
      datapathProvider: "ADVANCED_DATAPATH",
      enableFqdnNetworkPolicy: true,
      enableIntranodeVisibility: true,

      enableShieldedNodes: true,
      databaseEncryption: { state: "ENCRYPTED", keyName: this.secretsKey.id },
      binaryAuthorization: { evaluationMode: props.binaryAuthorization ? "PROJECT_SINGLETON_POLICY_ENFORCE" : "DISABLED" },
      // Workload configuration audit stays; GKE retired its vulnerability scanning tiers
      // (VULNERABILITY_BASIC removed 2025-07-31, ENTERPRISE 2026-06-16): image scanning belongs to
      // the registry (docs/adr/0010, item 7).
      securityPostureConfig: { mode: "BASIC", vulnerabilityMode: "VULNERABILITY_DISABLED" },

      loggingConfig: { enableComponents: ["SYSTEM_COMPONENTS", "WORKLOADS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER"] },
      monitoringConfig: {
        enableComponents: ["SYSTEM_COMPONENTS"],
        managedPrometheus: { enabled: true },
        advancedDatapathObservabilityConfig: { enableMetrics: true, enableRelay: false },
      },
      addonsConfig: {
        // The NEG controller (standalone NEGs for the edge load balancer) runs with it.
        httpLoadBalancing: { disabled: false },
        horizontalPodAutoscaling: { disabled: false },
        // Dataplane V2 enforces policy itself; the Calico add-on must stay off.
        networkPolicyConfig: { disabled: true },
        dnsCacheConfig: { enabled: props.nodeLocalDns ?? false },
        gcePersistentDiskCsiDriverConfig: { enabled: true },
      },
      // Created with application-layer secrets encryption: the GKE agent's key grant must have taken effect.
      dependsOn: [
        new IamPropagationWait(this, "secrets-key-grant-propagation", { grants: { "secrets-key-gke-agent": gkeAgentCanUseKey.etag } })
          .sleep,
      ],
    });

    this.systemPool = new NodePool(this, "system-pool", {
      cluster: this.cluster.id,
      name: props.systemPoolName,
      location: props.region,
      nodeLocations: props.nodeLocations,
      machineType: props.systemPool.machineType,
      diskSizeGb: props.systemPool.diskSizeGb,
      perZone: true,
      minNodes: props.systemPool.minNodesPerZone,
      maxNodes: props.systemPool.maxNodesPerZone,
      serviceAccount: this.nodeServiceAccount.email,
      labels: { "plue.dev/pool": props.systemPoolName },
    });
  }
}

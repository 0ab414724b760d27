import type { Construct } from "constructs";
import { TerraformOutput } from "cdktf";
import { ComputeNetwork } from "@cdktf/provider-google/lib/compute-network";
import { ComputeSubnetwork } from "@cdktf/provider-google/lib/compute-subnetwork";
import { ComputeRouter } from "@cdktf/provider-google/lib/compute-router";
import { ComputeRouterNat } from "@cdktf/provider-google/lib/compute-router-nat";
import { ComputeGlobalAddress } from "@cdktf/provider-google/lib/compute-global-address";
import { ServiceNetworkingConnection } from "@cdktf/provider-google/lib/service-networking-connection";
import { ComputeFirewall } from "@cdktf/provider-google/lib/compute-firewall";
import { DnsManagedZone } from "@cdktf/provider-google/lib/dns-managed-zone";
import { DnsRecordSet } from "@cdktf/provider-google/lib/dns-record-set";
import { PlueStack, type PlueStackProps } from "./plue-stack.ts";
import { GOOGLE_API_VIPS } from "../lib/ranges.ts";
import { parseCidr } from "../lib/cidr.ts";
import { names } from "../config/names.ts";

/**
 * The `network` stack: a custom-mode VPC with one regional subnet (secondary ranges for pods
 * and services, Private Google Access, flow logs), Cloud NAT for egress from private nodes,
 * the private services access range + peering that Cloud SQL's private IP lives on, and a
 * private DNS zone that answers `*.googleapis.com` with private.googleapis.com's fixed
 * addresses — so pods reach Google APIs on a small, known range that NetworkPolicy can allow.
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/private-clusters
 * @see https://cloud.google.com/sql/docs/postgres/configure-private-services-access
 */
export class NetworkStack extends PlueStack {
  /** The VPC. */
  readonly network: ComputeNetwork;
  /** The cluster's subnet. */
  readonly subnet: ComputeSubnetwork;

  constructor(scope: Construct, id: string, props: PlueStackProps) {
    super(scope, id, props);
    const { config } = props;
    const n = names(config);
    const net = config.network;

    this.network = new ComputeNetwork(this, "vpc", {
      name: n.network,
      autoCreateSubnetworks: false,
      routingMode: "REGIONAL",
      deleteDefaultRoutesOnCreate: false,
    });

    this.subnet = new ComputeSubnetwork(this, "subnet", {
      name: n.subnet,
      network: this.network.id,
      region: config.project.region,
      ipCidrRange: net.nodeCidr,
      stackType: "IPV4_ONLY",
      privateIpGoogleAccess: true,
      secondaryIpRange: [
        { rangeName: n.podsRange, ipCidrRange: net.podCidr },
        { rangeName: n.servicesRange, ipCidrRange: net.serviceCidr },
      ],
      logConfig: {
        aggregationInterval: "INTERVAL_5_SEC",
        flowSampling: net.flowLogSampling,
        metadata: "INCLUDE_ALL_METADATA",
      },
    });

    const router = new ComputeRouter(this, "router", {
      name: n.router,
      network: this.network.id,
      region: config.project.region,
    });
    new ComputeRouterNat(this, "nat", {
      name: n.nat,
      router: router.name,
      region: config.project.region,
      natIpAllocateOption: "AUTO_ONLY",
      sourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
      subnetwork: [{ name: this.subnet.id, sourceIpRangesToNat: ["ALL_IP_RANGES"] }],
      enableEndpointIndependentMapping: false,
      logConfig: { enable: true, filter: "ERRORS_ONLY" },
    });

    // Deny all ingress explicitly at the lowest priority, with logging, so an accidental
    // allow rule elsewhere is the only way in and every denied attempt is visible.
    new ComputeFirewall(this, "deny-all-ingress", {
      name: n.denyAllIngressFirewall,
      network: this.network.id,
      direction: "INGRESS",
      priority: 65534,
      sourceRanges: ["0.0.0.0/0"],
      deny: [{ protocol: "all" }],
      logConfig: { metadata: "INCLUDE_ALL_METADATA" },
    });

    const psa = parseCidr(net.privateServicesCidr);
    if (!psa) throw new Error(`network.privateServicesCidr was validated but does not parse: ${net.privateServicesCidr}`);
    const psaRange = new ComputeGlobalAddress(this, "private-services-range", {
      name: n.privateServicesRange,
      network: this.network.id,
      purpose: "VPC_PEERING",
      addressType: "INTERNAL",
      address: net.privateServicesCidr.split("/")[0],
      prefixLength: psa.prefix,
    });
    new ServiceNetworkingConnection(this, "private-services-connection", {
      network: this.network.id,
      service: "servicenetworking.googleapis.com",
      reservedPeeringRanges: [psaRange.name],
      deletionPolicy: "ABANDON",
    });

    // private.googleapis.com: 199.36.153.8/30, reached through Private Google Access.
    const privateVip = GOOGLE_API_VIPS[0];
    const base = privateVip.split("/")[0]?.split(".").map(Number) ?? [];
    const vipAddresses = [0, 1, 2, 3].map((i) => [base[0], base[1], base[2], (base[3] ?? 0) + i].join("."));
    const zone = new DnsManagedZone(this, "googleapis-zone", {
      name: n.googleApisZone,
      dnsName: "googleapis.com.",
      description: "Google APIs through private.googleapis.com (Private Google Access)",
      visibility: "private",
      privateVisibilityConfig: { networks: [{ networkUrl: this.network.id }] },
    });
    new DnsRecordSet(this, "googleapis-private-a", {
      managedZone: zone.name,
      name: "private.googleapis.com.",
      type: "A",
      ttl: 300,
      rrdatas: vipAddresses,
    });
    new DnsRecordSet(this, "googleapis-wildcard-cname", {
      managedZone: zone.name,
      name: "*.googleapis.com.",
      type: "CNAME",
      ttl: 300,
      rrdatas: ["private.googleapis.com."],
    });

    new TerraformOutput(this, "network-id", { value: this.network.id });
    new TerraformOutput(this, "subnet-id", { value: this.subnet.id });
  }
}

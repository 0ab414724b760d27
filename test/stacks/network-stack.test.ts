import { describe, expect, it } from "vitest";
import { body, only, resources, stack, stackText } from "../support/plan.ts";

const tf = stack("network");
const subnet = only(tf, "google_compute_subnetwork") as Record<string, any>;

describe("network stack", () => {
  it("matches the snapshot", () => {
    expect(stackText("network")).toMatchSnapshot();
  });

  it("keeps its state in GCS under its own prefix", () => {
    expect(tf.terraform.backend?.gcs).toEqual({ bucket: "plue-example-tfstate", prefix: "example/network" });
  });

  it("is a custom-mode VPC", () => {
    expect(only(tf, "google_compute_network").auto_create_subnetworks).toBe(false);
  });

  it("gives the subnet secondary ranges for pods and services", () => {
    expect(subnet.ip_cidr_range).toBe("10.10.0.0/20");
    expect(subnet.secondary_ip_range).toEqual([
      { range_name: "pods", ip_cidr_range: "10.16.0.0/14" },
      { range_name: "services", ip_cidr_range: "10.20.0.0/20" },
    ]);
  });

  it("turns on Private Google Access", () => {
    expect(subnet.private_ip_google_access).toBe(true);
  });

  it("turns on flow logs with metadata", () => {
    expect(subnet.log_config).toEqual({ aggregation_interval: "INTERVAL_5_SEC", flow_sampling: 0.5, metadata: "INCLUDE_ALL_METADATA" });
  });

  it("routes egress from private nodes through Cloud NAT, with error logging", () => {
    const nat = only(tf, "google_compute_router_nat") as Record<string, any>;
    expect(nat.router).toBe("${google_compute_router.router.name}");
    expect(nat.source_subnetwork_ip_ranges_to_nat).toBe("LIST_OF_SUBNETWORKS");
    expect(nat.subnetwork).toEqual([{ name: "${google_compute_subnetwork.subnet.id}", source_ip_ranges_to_nat: ["ALL_IP_RANGES"] }]);
    expect(nat.log_config).toEqual({ enable: true, filter: "ERRORS_ONLY" });
  });

  it("reserves the private services range and peers it for Cloud SQL", () => {
    const range = only(tf, "google_compute_global_address") as Record<string, any>;
    expect(body(range)).toEqual({
      name: "plue-private-services",
      network: "${google_compute_network.vpc.id}",
      purpose: "VPC_PEERING",
      address_type: "INTERNAL",
      address: "10.30.0.0",
      prefix_length: 20,
    });
    const peering = only(tf, "google_service_networking_connection") as Record<string, any>;
    expect(peering.service).toBe("servicenetworking.googleapis.com");
    expect(peering.reserved_peering_ranges).toEqual(["${google_compute_global_address.private-services-range.name}"]);
  });

  it("answers *.googleapis.com with private.googleapis.com inside the VPC, so Google API traffic stays on 199.36.153.8/30", () => {
    const zone = only(tf, "google_dns_managed_zone") as Record<string, any>;
    expect(body(zone)).toEqual({
      name: "plue-vpc-googleapis",
      description: "Google APIs through private.googleapis.com (Private Google Access)",
      dns_name: "googleapis.com.",
      visibility: "private",
      private_visibility_config: { networks: [{ network_url: "${google_compute_network.vpc.id}" }] },
    });
    const records = Object.values(resources(tf, "google_dns_record_set")) as Record<string, any>[];
    expect(records.map((r) => [r.name, r.type, r.rrdatas])).toEqual(
      expect.arrayContaining([
        ["private.googleapis.com.", "A", ["199.36.153.8", "199.36.153.9", "199.36.153.10", "199.36.153.11"]],
        ["*.googleapis.com.", "CNAME", ["private.googleapis.com."]],
      ]),
    );
  });

  it("denies all ingress explicitly, with logging", () => {
    const fw = only(tf, "google_compute_firewall") as Record<string, any>;
    expect(body(fw)).toEqual({
      name: "plue-vpc-deny-all-ingress",
      network: "${google_compute_network.vpc.id}",
      direction: "INGRESS",
      priority: 65534,
      source_ranges: ["0.0.0.0/0"],
      deny: [{ protocol: "all" }],
      log_config: { metadata: "INCLUDE_ALL_METADATA" },
    });
  });
});

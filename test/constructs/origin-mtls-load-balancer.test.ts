/** OriginMtlsLoadBalancer's own rules, built alone (the edge stack test reads the load balancer the plan uses). */
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { describe, expect, it } from "vitest";
import { OriginMtlsLoadBalancer, type OriginMtlsLoadBalancerProps } from "../../constructs/origin-mtls-load-balancer.ts";
import { synthConstruct } from "../support/build.ts";
import { resources, type TfJson } from "../support/plan.ts";

const base: OriginMtlsLoadBalancerProps = {
  namePrefix: "edge",
  address: "203.0.113.10",
  certificatePem: "${data.cert.pem}",
  privateKeyPem: "${data.google_secret_manager_secret_version.key.secret_data}",
  trustAnchors: { current: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" },
  backends: { "us-central1-a": "neg-a" },
  port: 4000,
  healthCheckPath: "/api/health",
  securityPolicy: "policy-id",
};

function build(props: Partial<OriginMtlsLoadBalancerProps>): TfJson {
  return synthConstruct((scope) => {
    new GoogleProvider(scope, "google", { project: "p" });
    new OriginMtlsLoadBalancer(scope, "lb", { ...base, ...props });
  });
}

describe("OriginMtlsLoadBalancer", () => {
  it("puts the anchors into the TrustConfig in key order, and one backend per NEG in key order", () => {
    const json = build({
      trustAnchors: { next: "NEXT", current: "CURRENT" },
      backends: { "us-central1-b": "neg-b", "us-central1-a": "neg-a" },
    });
    const trust = Object.values(resources(json, "google_certificate_manager_trust_config"))[0] as Record<string, any>;
    expect(trust.trust_stores).toEqual([{ trust_anchors: [{ pem_certificate: "CURRENT" }, { pem_certificate: "NEXT" }] }]);
    const backend = Object.values(resources(json, "google_compute_backend_service"))[0] as Record<string, any>;
    expect(backend.backend.map((b: Record<string, unknown>) => b.group)).toEqual(["neg-a", "neg-b"]);
  });

  it("rejects every connection without a valid client certificate", () => {
    const json = build({});
    const [trustId] = Object.keys(resources(json, "google_certificate_manager_trust_config"));
    const policy = Object.values(resources(json, "google_network_security_server_tls_policy"))[0] as Record<string, any>;
    expect(policy.mtls_policy).toEqual({
      client_validation_mode: "REJECT_INVALID",
      client_validation_trust_config: `\${google_certificate_manager_trust_config.${trustId}.id}`,
    });
  });

  it("fails if there is no trust anchor (every client would be rejected)", () => {
    expect(() => build({ trustAnchors: {} })).toThrow(
      "OriginMtlsLoadBalancer edge: 'trustAnchors' is empty (got {}). Pass the client CA certificate, or every client is rejected.",
    );
  });

  it("fails if there is no backend", () => {
    expect(() => build({ backends: {} })).toThrow(
      "OriginMtlsLoadBalancer edge: 'backends' is empty (got {}). Pass one network endpoint group per zone.",
    );
  });
});

/** The edge stack as synthesized for the example environment (real output, no mocks). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stackFor } from "../support/build.ts";
import type { PlueConfig } from "../../config/schema.ts";
import { scanText } from "../../review/key-scan.ts";
import { loadPublicCerts, type PublicCerts } from "../../config/public-certs.ts";
import { REPO_ROOT } from "../../lib/paths.ts";
import { certificateId } from "../../lib/cert-id.ts";
import { normalisePem } from "../../lib/pem.ts";
import { exampleConfig } from "../support/config.ts";
import { body, only, resources, stack, stackText } from "../support/plan.ts";

const config = exampleConfig();
const tf = stack("edge");
const text = stackText("edge");
const committed = (file: string) => readFileSync(join(REPO_ROOT, config.pki.publicDir, file), "utf8");

type Json = Record<string, any>;
const SECRET_REF = /^\$\{data\.google_secret_manager_secret_version\.([A-Za-z0-9_-]+)\.secret_data\}$/;

/** The data source a `${data.google_secret_manager_secret_version.<id>.secret_data}` reference names. */
function secretSource(ref: unknown): Json {
  const m = SECRET_REF.exec(String(ref));
  expect(m, `not a Secret Manager reference: ${String(ref).slice(0, 40)}`).not.toBeNull();
  const source = tf.data?.google_secret_manager_secret_version?.[m?.[1] ?? ""];
  expect(source).toBeDefined();
  return source as Json;
}

/** `<type>.<id>` of the only resource of a type (as `depends_on` names it). */
function addr(type: string, containing?: string): string {
  const ids = Object.keys(resources(tf, type)).filter((id) => containing === undefined || id.includes(`_${containing}_`));
  expect(ids).toHaveLength(1);
  return `${type}.${ids[0]}`;
}

/** `${<type>.<id>.<attr>}`: a reference to the only resource of a type. */
const ref = (type: string, attr: string): string => `\${${addr(type)}.${attr}}`;

const settings = Object.values(resources(tf, "cloudflare_zone_setting")) as Json[];
const setting = (id: string) => settings.find((s) => s.setting_id === id)?.value;
const policy = only(tf, "google_compute_security_policy") as Json;
const rules = policy.rule as Json[];
const allowRules = rules.filter((r) => r.action === "allow");
const throttleRules = rules.filter((r) => r.action === "throttle");
const backend = only(tf, "google_compute_backend_service") as Json;
const proxy = only(tf, "google_compute_target_https_proxy") as Json;
const cidrs = config.edge.cloudflareRanges.cidrs;

describe("edge stack", () => {
  it("matches the snapshot", () => {
    expect(text).toMatchSnapshot();
  });

  it("keeps its state in GCS under its own prefix", () => {
    expect(tf.terraform.backend?.gcs).toEqual({ bucket: "plue-example-tfstate", prefix: "example/edge" });
  });

  it("declares the Cloudflare provider without any credential (CLOUDFLARE_API_TOKEN at apply)", () => {
    expect(tf.terraform.required_providers?.cloudflare).toEqual({ source: "cloudflare/cloudflare", version: "5.14.0" });
    expect(tf.provider?.cloudflare).toEqual([{}]);
    expect(text).not.toMatch(/api_token|api_key|api_user_service_key/);
  });

  it("sets the zone's SSL mode to Full (strict)", () => {
    expect(setting("ssl")).toBe("strict");
  });

  it("sets the zone's minimum TLS version to 1.2", () => {
    expect(setting("min_tls_version")).toBe("1.2");
  });

  it("turns Always Use HTTPS on", () => {
    expect(setting("always_use_https")).toBe("on");
    expect(settings.every((s) => s.zone_id === config.edge.cloudflareZoneId)).toBe(true);
  });

  it("normalises URLs at Cloudflare, also those sent to the origin", () => {
    expect(body(only(tf, "cloudflare_url_normalization_settings"))).toEqual({
      scope: "both",
      type: "cloudflare",
      zone_id: config.edge.cloudflareZoneId,
    });
  });

  it("uploads the committed client certificate for AOP, normalised with exactly one trailing newline", () => {
    const cert = only(tf, "cloudflare_authenticated_origin_pulls_certificate") as Json;
    expect(cert.zone_id).toBe(config.edge.cloudflareZoneId);
    expect(cert.certificate).toBe(normalisePem(committed("client.pem")));
    expect(cert.certificate).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/);
    expect(cert.certificate.endsWith("\n\n")).toBe(false);
  });

  it("reads the AOP client key from Secret Manager at apply time", () => {
    const cert = only(tf, "cloudflare_authenticated_origin_pulls_certificate") as Json;
    expect(cert.private_key).toMatch(SECRET_REF);
    expect(secretSource(cert.private_key).secret).toBe(`${config.name}-origin-client-key`);
  });

  it("uploads a new AOP certificate before deleting the old one, and never re-uploads one for a new key version (rotation leaves no gap)", () => {
    // The key is read only when a certificate is uploaded: during a rotation the newest version
    // of the client-key secret is the next certificate's key, which the serving one must ignore.
    expect((only(tf, "cloudflare_authenticated_origin_pulls_certificate") as Json).lifecycle).toEqual({
      create_before_destroy: true,
      ignore_changes: ["private_key"],
    });
  });

  it("keys the AOP certificate by its fingerprint and uploads it only after the TrustConfig holds its CA", () => {
    const [address, cert] = Object.entries(resources(tf, "cloudflare_authenticated_origin_pulls_certificate"))[0] as [string, Json];
    expect(address).toContain(`origin-pull-certificate-${certificateId(committed("client.pem"))}`);
    expect(cert.depends_on).toEqual([addr("google_certificate_manager_trust_config")]);
  });

  it("enables zone-level AOP after the certificate is uploaded", () => {
    const aop = only(tf, "cloudflare_authenticated_origin_pulls_settings") as Json;
    expect(body(aop)).toEqual({
      enabled: true,
      zone_id: config.edge.cloudflareZoneId,
      depends_on: [addr("cloudflare_authenticated_origin_pulls_certificate")],
    });
  });

  it("points a proxied A record for the domain at the reserved address, once AOP and the listener are up", () => {
    const record = only(tf, "cloudflare_dns_record") as Json;
    expect(body(record)).toEqual({
      name: config.edge.domain,
      type: "A",
      proxied: true,
      ttl: 1,
      zone_id: config.edge.cloudflareZoneId,
      content: ref("google_compute_global_address", "address"),
      comment: "Managed by plue-infra: proxied to the origin load balancer (origin mTLS).",
      depends_on: [
        ...["ssl", "min-tls-version", "always-use-https"].map((id) => addr("cloudflare_zone_setting", `setting-${id}`)),
        addr("cloudflare_url_normalization_settings"),
        addr("cloudflare_authenticated_origin_pulls_settings"),
        addr("google_compute_global_forwarding_rule"),
      ],
    });
    expect(body(only(tf, "google_compute_global_address"))).toEqual({
      name: `${config.name}-edge`,
      description: "The origin's address (Cloudflare's proxied record points here)",
      address_type: "EXTERNAL",
      ip_version: "IPV4",
    });
  });

  it("requests the Origin CA certificate from the committed CSR, with the configured hostnames and validity", () => {
    const origin = only(tf, "cloudflare_origin_ca_certificate") as Json;
    expect(origin).toEqual(
      expect.objectContaining({
        csr: normalisePem(committed("origin.csr.pem")),
        hostnames: [...config.pki.originHostnames].sort(),
        request_type: "origin-rsa",
        requested_validity: config.edge.originCertValidityDays,
      }),
    );
  });

  it("lists the Origin CA hostnames sorted, as the API returns them (a ForceNew list in any other order is replaced at every deploy)", () => {
    // The example configures the apex first; the API answers the wildcard first.
    expect(config.pki.originHostnames).toEqual(["plue.example.com", "*.plue.example.com"]);
    expect((only(tf, "cloudflare_origin_ca_certificate") as Json).hostnames).toEqual(["*.plue.example.com", "plue.example.com"]);
  });

  it("renews the Origin CA certificate when the operator's renewal marker changes, issuing the new one before the old one is revoked", () => {
    // cloudflare 5.14.0 never renews it (update is a no-op): a terraform_data holding
    // edge.originCertRenewal replaces it; a new CSR (a new key) does too (docs/adr/0010, item 4).
    const origin = only(tf, "cloudflare_origin_ca_certificate") as Json;
    expect(origin.lifecycle).toEqual({ create_before_destroy: true, replace_triggered_by: ["terraform_data.origin-certificate-renewal"] });
    expect(resources(tf, "terraform_data")["origin-certificate-renewal"]).toEqual({ "//": expect.anything(), input: { renewal: "none" } });
    const renewed = build((c) => ({ ...c, edge: { ...c.edge, originCertRenewal: "2027-10-01" } }));
    expect(renewed.resource["terraform_data"]["origin-certificate-renewal"].input).toEqual({ renewal: "2027-10-01" });
  });

  it("names the served certificate after its own text and replaces it create-before-destroy (ForceNew, in use by the map entry)", () => {
    const cert = only(tf, "google_certificate_manager_certificate") as Json;
    expect(cert.name).toBe(
      `${config.name}-edge-origin-\${substr(sha256(${ref("cloudflare_origin_ca_certificate", "certificate").slice(2, -1)}), 0, 8)}`,
    );
    // The key is ignored on its own: a new origin key goes into Secret Manager before the CSR
    // that needs it is deployed, and must not replace the served certificate with the old one.
    expect(cert.lifecycle).toEqual({ create_before_destroy: true, ignore_changes: ["self_managed[0].pem_private_key"] });
  });

  it("serves the Origin CA certificate with its key from Secret Manager, through a certificate map", () => {
    const cert = only(tf, "google_certificate_manager_certificate") as Json;
    expect(cert.self_managed.pem_certificate).toBe(ref("cloudflare_origin_ca_certificate", "certificate"));
    expect(secretSource(cert.self_managed.pem_private_key).secret).toBe(`${config.name}-origin-key`);
    const entry = only(tf, "google_certificate_manager_certificate_map_entry") as Json;
    expect(body(entry)).toEqual({
      name: `${config.name}-edge-primary`,
      description: "Served for every SNI name (Cloudflare connects with the origin hostname)",
      map: ref("google_certificate_manager_certificate_map", "name"),
      matcher: "PRIMARY",
      certificates: [ref("google_certificate_manager_certificate", "id")],
    });
    expect(proxy.certificate_map).toBe(`//certificatemanager.googleapis.com/${ref("google_certificate_manager_certificate_map", "id")}`);
  });

  it("rejects clients without a valid certificate (ServerTlsPolicy REJECT_INVALID with the trust config)", () => {
    const tls = only(tf, "google_network_security_server_tls_policy") as Json;
    expect(tls.mtls_policy).toEqual({
      client_validation_mode: "REJECT_INVALID",
      client_validation_trust_config: ref("google_certificate_manager_trust_config", "id"),
    });
    expect(tls.location).toBe("global");
    expect(tls.allow_open).toBeUndefined();
  });

  it("trusts exactly the committed CA", () => {
    const trust = only(tf, "google_certificate_manager_trust_config") as Json;
    expect(trust.location).toBe("global");
    expect(trust.trust_stores).toEqual([{ trust_anchors: [{ pem_certificate: normalisePem(committed("ca.pem")) }] }]);
    expect(trust.allowlisted_certificates).toBeUndefined();
  });

  it("has the HTTPS proxy use the server TLS policy", () => {
    expect(proxy.server_tls_policy).toBe(ref("google_network_security_server_tls_policy", "id"));
  });

  it("has the HTTPS proxy use an SSL policy with TLS 1.2 minimum and the RESTRICTED profile", () => {
    expect(proxy.ssl_policy).toBe(ref("google_compute_ssl_policy", "id"));
    expect(body(only(tf, "google_compute_ssl_policy"))).toEqual({
      name: `${config.name}-edge-restricted`,
      description: "TLS 1.2+ with the RESTRICTED cipher profile",
      min_tls_version: "TLS_1_2",
      profile: "RESTRICTED",
    });
  });

  it("turns QUIC off, so every connection takes the TCP + TLS path where the client certificate is checked", () => {
    expect(proxy.quic_override).toBe("DISABLE");
  });

  it("listens on 443 only, EXTERNAL_MANAGED, on the reserved address (no HTTP listener)", () => {
    const rules = Object.values(resources(tf, "google_compute_global_forwarding_rule")) as Json[];
    expect(rules).toHaveLength(1);
    expect(body(rules[0])).toEqual({
      name: `${config.name}-edge-https`,
      load_balancing_scheme: "EXTERNAL_MANAGED",
      port_range: "443",
      ip_protocol: "TCP",
      ip_address: ref("google_compute_global_address", "address"),
      target: ref("google_compute_target_https_proxy", "id"),
    });
    expect(tf.resource?.google_compute_target_http_proxy).toBeUndefined();
  });

  it("has one backend per zone's API NEG, keyed by zone", () => {
    const negs = tf.data?.google_compute_network_endpoint_group ?? {};
    expect(Object.keys(negs).sort()).toEqual(config.project.zones.map((z) => `api-neg-${z}`).sort());
    for (const zone of config.project.zones) expect(body(negs[`api-neg-${zone}`])).toEqual({ name: "api-neg", zone });
    expect(backend.backend).toEqual(
      [...config.project.zones].sort().map((zone) => ({
        group: `\${data.google_compute_network_endpoint_group.api-neg-${zone}.self_link}`,
        balancing_mode: "RATE",
        capacity_scaler: 1,
        max_rate_per_endpoint: 100,
      })),
    );
  });

  it("adds each of the seed's security headers to every response", () => {
    const headers = [
      "Content-Security-Policy: default-src 'self'",
      "X-Content-Type-Options: nosniff",
      "X-Frame-Options: DENY",
      "X-XSS-Protection: 1; mode=block",
      "Strict-Transport-Security: max-age=31536000; includeSubDomains",
    ];
    for (const h of headers) expect(backend.custom_response_headers, h).toContain(h);
    expect(backend.custom_response_headers).toHaveLength(headers.length);
  });

  it("health-checks the API over HTTP on its port and health path", () => {
    expect(backend.health_checks).toEqual([ref("google_compute_health_check", "id")]);
    expect((only(tf, "google_compute_health_check") as Json).http_health_check).toEqual({
      port: config.api.port,
      request_path: config.api.healthPath,
    });
  });

  it("is an EXTERNAL_MANAGED HTTP backend service with logging on", () => {
    expect(body(backend)).toEqual({
      name: `${config.name}-edge-api`,
      description: "The API's network endpoint groups",
      load_balancing_scheme: "EXTERNAL_MANAGED",
      protocol: "HTTP",
      timeout_sec: 30,
      connection_draining_timeout_sec: 30,
      log_config: { enable: true, sample_rate: 1 },
      health_checks: [ref("google_compute_health_check", "id")],
      security_policy: ref("google_compute_security_policy", "id"),
      custom_response_headers: backend.custom_response_headers,
      backend: backend.backend,
    });
  });

  it("attaches the Cloud Armor policy to the backend service", () => {
    expect(backend.security_policy).toBe(ref("google_compute_security_policy", "id"));
  });

  it("denies everything by default in Cloud Armor (403)", () => {
    const last = rules.find((r) => r.priority === 2147483647);
    expect(last).toEqual({
      priority: 2147483647,
      action: "deny(403)",
      description: `Default: deny everything not from Cloudflare (${config.edge.cloudflareRanges.source}, ${config.edge.cloudflareRanges.retrieved})`,
      match: { versioned_expr: "SRC_IPS_V1", config: { src_ip_ranges: ["*"] } },
    });
  });

  it("allows exactly config's Cloudflare ranges (the union of the allow rules)", () => {
    const union = allowRules.flatMap((r) => r.match.config.src_ip_ranges as string[]);
    expect(union).toHaveLength(cidrs.length);
    expect([...union].sort()).toEqual([...cidrs].sort());
    expect(allowRules.map((r) => r.priority)).toEqual(allowRules.map((_, i) => 1000 + i));
  });

  it("puts at most 10 ranges in each allow rule", () => {
    expect(allowRules.length).toBe(Math.ceil(cidrs.length / 10));
    for (const r of allowRules) expect((r.match.config.src_ip_ranges as string[]).length).toBeLessThanOrEqual(10);
  });

  it("has no other rules than the rate limit, the allow rules and the default deny", () => {
    expect(rules.length).toBe(throttleRules.length + allowRules.length + 1);
  });

  it("rate-limits /api/auth/ at 10 per 60 s per CF-Connecting-IP, ahead of the allow rules", () => {
    expect(throttleRules.length).toBeGreaterThan(0);
    for (const r of throttleRules) {
      expect(r.match.expr.expression).toMatch(/^request\.path\.lower\(\)\.startsWith\('\/api\/auth\/'\) && \(/);
      expect(r.rate_limit_options).toEqual({
        conform_action: "allow",
        exceed_action: "deny(429)",
        enforce_on_key: "HTTP_HEADER",
        enforce_on_key_name: "CF-Connecting-IP",
        rate_limit_threshold: { count: config.edge.authRateLimitPerMinute, interval_sec: 60 },
      });
      expect(r.priority).toBeLessThan(Math.min(...allowRules.map((a) => a.priority)));
    }
    expect(config.edge.authRateLimitPerMinute).toBe(10);
  });

  it("lets the rate-limit rules admit only Cloudflare's ranges (no path-only bypass of the allow-list)", () => {
    const union = throttleRules.flatMap((r) =>
      [...(r.match.expr.expression as string).matchAll(/inIpRange\(origin\.ip, '([^']+)'\)/g)].map((m) => m[1]),
    );
    expect([...union].sort()).toEqual([...cidrs].sort());
    // The rules language allows five subexpressions: the path and at most four ranges.
    for (const r of throttleRules) expect((r.match.expr.expression as string).match(/inIpRange/g)?.length).toBeLessThanOrEqual(4);
  });

  it("allows Google's load balancer ranges to the API pods on the API port only", () => {
    const fw = only(tf, "google_compute_firewall") as Json;
    expect(body(fw)).toEqual({
      name: `${config.name}-vpc-allow-lb-to-api`,
      description: "Google front ends and health checks to the API pods (standalone NEGs)",
      direction: "INGRESS",
      priority: 1000,
      network: `projects/${config.project.id}/global/networks/${config.name}-vpc`,
      source_ranges: ["35.191.0.0/16", "130.211.0.0/22"],
      destination_ranges: [config.network.podCidr],
      target_service_accounts: [`${config.name}-gke-nodes@${config.project.id}.iam.gserviceaccount.com`],
      allow: [{ protocol: "tcp", ports: [String(config.api.port)] }],
      log_config: { metadata: "INCLUDE_ALL_METADATA" },
    });
  });

  it("holds no private key: every key field is a Secret Manager reference, and the scan finds nothing", () => {
    expect(scanText(text)).toEqual([]);
    const keyFields = [...text.matchAll(/"(private_key|pem_private_key)": "([^"]*)"/g)].map((m) => m[2]);
    expect(keyFields).toHaveLength(2);
    for (const v of keyFields) expect(v).toMatch(SECRET_REF);
  });
});

/** Builds the edge stack through the plan (for inputs the example environment does not have). */
function build(mutate: (c: PlueConfig) => PlueConfig = (c) => c, certs: PublicCerts = loadPublicCerts(config)): Json {
  return stackFor(mutate(exampleConfig()), "edge", certs) as Json;
}

describe("edge stack, other inputs", () => {
  it("trusts both CAs, current then next, while a CA rotation is under way", () => {
    const certs = loadPublicCerts(config);
    const next = normalisePem(committed("client.pem")); // any certificate stands in for the next CA here
    const out = build(undefined, { ...certs, nextCaPem: next });
    const trust = Object.values(out.resource.google_certificate_manager_trust_config as Json)[0] as Json;
    expect(trust.trust_stores).toEqual([{ trust_anchors: [{ pem_certificate: certs.caPem }, { pem_certificate: next }] }]);
  });

  it("follows the configured rate limit and ranges", () => {
    const out = build((c) => ({
      ...c,
      edge: { ...c.edge, authRateLimitPerMinute: 25, cloudflareRanges: { ...c.edge.cloudflareRanges, cidrs: ["198.51.100.0/24"] } },
    }));
    const r = (Object.values(out.resource.google_compute_security_policy as Json)[0] as Json).rule as Json[];
    expect(r.map((x) => [x.priority, x.action])).toEqual([
      [900, "throttle"],
      [1000, "allow"],
      [2147483647, "deny(403)"],
    ]);
    expect(r[0]?.rate_limit_options.rate_limit_threshold).toEqual({ count: 25, interval_sec: 60 });
    expect(r[1]?.match.config.src_ip_ranges).toEqual(["198.51.100.0/24"]);
  });

  it("fails if a Cloudflare range is listed twice", () => {
    expect(() =>
      build((c) => ({
        ...c,
        edge: { ...c.edge, cloudflareRanges: { ...c.edge.cloudflareRanges, cidrs: ["198.51.100.0/24", "198.51.100.0/24"] } },
      })),
    ).toThrow(/'allowedSourceRanges' lists a range twice \(got 198\.51\.100\.0\/24, 198\.51\.100\.0\/24\)\. List each range once\./);
  });
});

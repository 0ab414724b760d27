/** The edge: Cloudflare in front, the mTLS load balancer behind it. */
import { type Block, isLiteral } from "../plan-model.ts";
import { finding, get, list, referenced, resourcesOf } from "./helpers.ts";
import type { Finding, PostureRule, ReviewContext } from "./types.ts";

const SEED_ORIGIN = "000 Origin Protection";

/** The cloudflare_zone_setting of `id`, by zone. */
function zoneSettings(ctx: ReviewContext, id: string): Block[] {
  return resourcesOf(ctx, "cloudflare_zone_setting").filter((b) => b.body.setting_id === id);
}

/** Zones the plan configures (by zone_id), each with one block to point a finding at. */
function zones(ctx: ReviewContext): Map<string, Block> {
  const out = new Map<string, Block>();
  for (const type of ["cloudflare_zone_setting", "cloudflare_dns_record", "cloudflare_authenticated_origin_pulls_settings"]) {
    for (const b of resourcesOf(ctx, type)) if (isLiteral(b.body.zone_id) && !out.has(b.body.zone_id)) out.set(b.body.zone_id, b);
  }
  return out;
}

/** A rule that requires a zone setting with an accepted value in every zone. */
function zoneSettingRule(
  spec: Omit<PostureRule, "check"> & { readonly setting: string; readonly accept: readonly unknown[]; readonly want: string },
): PostureRule {
  const rule: PostureRule = {
    ...spec,
    check(ctx) {
      const out: Finding[] = [];
      for (const [zone, anchor] of zones(ctx)) {
        const s = zoneSettings(ctx, spec.setting).filter((b) => b.body.zone_id === zone);
        if (s.length === 0)
          out.push(
            finding(
              rule,
              anchor,
              `zone ${zone} has no ${spec.setting} setting (Cloudflare's default applies)`,
              `cloudflare_zone_setting { setting_id = "${spec.setting}", value = "${spec.want}" }`,
            ),
          );
        for (const b of s)
          if (!spec.accept.includes(b.body.value))
            out.push(finding(rule, b, `${spec.setting} is ${JSON.stringify(b.body.value)}`, `value = "${spec.want}"`));
      }
      return out;
    },
  };
  return rule;
}

export const sslStrict = zoneSettingRule({
  id: "EDGE01",
  title: "Cloudflare SSL mode Full (strict)",
  severity: "error",
  rationale: "Cloudflare validates the origin's certificate; flexible or full mode let anyone in the path impersonate the origin",
  references: { seed: SEED_ORIGIN, docs: "https://developers.cloudflare.com/ssl/origin-configuration/ssl-modes/full-strict/" },
  setting: "ssl",
  accept: ["strict"],
  want: "strict",
});

export const authenticatedOriginPulls: PostureRule = {
  id: "EDGE02",
  title: "Authenticated Origin Pulls on, with our client certificate",
  severity: "error",
  rationale:
    "Cloudflare presents the client certificate our CA issued on every origin pull; without it the origin's mTLS check has nothing to verify",
  references: {
    seed: `${SEED_ORIGIN} (Client Certificate)`,
    docs: "https://developers.cloudflare.com/ssl/origin-configuration/authenticated-origin-pull/",
  },
  check(ctx) {
    const out: Finding[] = [];
    const certs = resourcesOf(ctx, "cloudflare_authenticated_origin_pulls_certificate");
    for (const [zone, anchor] of zones(ctx)) {
      const settings = resourcesOf(ctx, "cloudflare_authenticated_origin_pulls_settings").filter((b) => b.body.zone_id === zone);
      if (!settings.some((s) => s.body.enabled === true))
        out.push(
          finding(
            authenticatedOriginPulls,
            settings[0] ?? anchor,
            `zone ${zone}: authenticated origin pulls are not enabled`,
            "cloudflare_authenticated_origin_pulls_settings { enabled = true }",
          ),
        );
      if (!certs.some((c) => c.body.zone_id === zone))
        out.push(
          finding(
            authenticatedOriginPulls,
            anchor,
            `zone ${zone}: no authenticated origin pulls certificate`,
            "cloudflare_authenticated_origin_pulls_certificate with the client certificate (npm run pki)",
          ),
        );
    }
    return out;
  },
};

export const originMtls: PostureRule = {
  id: "EDGE03",
  title: "the origin load balancer rejects connections without a valid client certificate",
  severity: "error",
  rationale:
    "ServerTlsPolicy REJECT_INVALID with a TrustConfig of our CA, attached to the HTTPS proxy: a direct connection without Cloudflare's certificate fails in the handshake",
  references: { seed: `${SEED_ORIGIN} (Origin Verification)`, docs: "docs/adr/0008-origin-mtls.md" },
  check(ctx) {
    const out: Finding[] = [];
    for (const proxy of resourcesOf(ctx, "google_compute_target_https_proxy")) {
      const policy = referenced(ctx.plan, proxy, proxy.body.server_tls_policy);
      if (!policy) {
        out.push(
          finding(
            originMtls,
            proxy,
            "has no server_tls_policy of this plan: any client may connect",
            "server_tls_policy = google_network_security_server_tls_policy.<mtls>.id",
          ),
        );
        continue;
      }
      if (get(policy.body, "mtls_policy.client_validation_mode") !== "REJECT_INVALID")
        out.push(
          finding(
            originMtls,
            policy,
            `mtls_policy.client_validation_mode is ${JSON.stringify(get(policy.body, "mtls_policy.client_validation_mode"))}`,
            'client_validation_mode = "REJECT_INVALID"',
          ),
        );
      const trust = referenced(ctx.plan, policy, get(policy.body, "mtls_policy.client_validation_trust_config"));
      if (!trust || list(trust.body, "trust_stores").flatMap((s) => list(s, "trust_anchors")).length === 0) {
        out.push(
          finding(
            originMtls,
            policy,
            "client_validation_trust_config is not a TrustConfig of this plan with a trust anchor",
            "a google_certificate_manager_trust_config holding our CA",
          ),
        );
      }
    }
    return out;
  },
};

export const cloudArmorDefaultDeny: PostureRule = {
  id: "EDGE04",
  title: "Cloud Armor on every backend, default rule deny",
  severity: "error",
  rationale:
    "only Cloudflare's ranges pass (a second layer under mTLS); the default rule at priority 2147483647 must deny, or everything not matched is allowed",
  references: { docs: "https://cloud.google.com/armor/docs/security-policy-overview#default-rule", seed: SEED_ORIGIN },
  check(ctx) {
    const out: Finding[] = [];
    for (const b of resourcesOf(ctx, "google_compute_backend_service")) {
      if (!referenced(ctx.plan, b, b.body.security_policy))
        out.push(
          finding(
            cloudArmorDefaultDeny,
            b,
            "has no security_policy of this plan",
            "security_policy = google_compute_security_policy.<policy>.id",
          ),
        );
    }
    for (const p of resourcesOf(ctx, "google_compute_security_policy")) {
      const dflt = list(p.body, "rule").find((r) => get(r, "priority") === 2147483647);
      if (!dflt || !String(get(dflt, "action")).startsWith("deny") || !list(dflt, "match.config.src_ip_ranges").includes("*")) {
        out.push(
          finding(
            cloudArmorDefaultDeny,
            p,
            `the default rule (priority 2147483647) is ${dflt ? JSON.stringify(get(dflt, "action")) : "absent (allow)"}`,
            'rule { priority = 2147483647, action = "deny(403)", match { versioned_expr = "SRC_IPS_V1", config { src_ip_ranges = ["*"] } } }',
          ),
        );
      }
    }
    return out;
  },
};

/** The response headers of the platform's security documents (seed 000, "Security Headers"). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": "default-src 'self'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "X-XSS-Protection": "1; mode=block",
  "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
};

export const securityHeaders: PostureRule = {
  id: "EDGE05",
  title: "security headers on every response",
  severity: "error",
  rationale: "CSP, nosniff, frame denial and HSTS are added at the edge, so no API path can forget them",
  references: { seed: "000 Security Headers", docs: "https://cloud.google.com/load-balancing/docs/https/custom-headers" },
  check: (ctx) =>
    resourcesOf(ctx, "google_compute_backend_service").flatMap((b) => {
      const headers = new Map(
        list(b.body, "custom_response_headers")
          .filter((h): h is string => typeof h === "string")
          .map((h) => [h.slice(0, h.indexOf(":")).trim().toLowerCase(), h.slice(h.indexOf(":") + 1).trim()]),
      );
      const missing = Object.entries(SECURITY_HEADERS).filter(([k, v]) => headers.get(k.toLowerCase()) !== v);
      return missing.length === 0
        ? []
        : [
            finding(
              securityHeaders,
              b,
              `custom_response_headers lack ${missing.map(([k, v]) => `${k}: ${v}`).join(", ")}`,
              "add them to custom_response_headers",
            ),
          ];
    }),
};

export const modernTls: PostureRule = {
  id: "EDGE06",
  title: "TLS 1.2+ everywhere: RESTRICTED/MODERN SSL policy, Cloudflare min TLS 1.2, always HTTPS",
  severity: "error",
  rationale: "no client or Cloudflare pull negotiates a protocol or cipher with known weaknesses; plain HTTP is redirected",
  references: { checkov: "CKV_GCP_4", seed: "004 TLS Configuration" },
  check(ctx) {
    const out: Finding[] = [];
    for (const proxy of resourcesOf(ctx, "google_compute_target_https_proxy")) {
      const pol = referenced(ctx.plan, proxy, proxy.body.ssl_policy);
      if (!pol)
        out.push(
          finding(
            modernTls,
            proxy,
            "has no ssl_policy of this plan (the default allows TLS 1.0)",
            "ssl_policy = google_compute_ssl_policy.<restricted>.id",
          ),
        );
      else if (
        !["TLS_1_2", "TLS_1_3"].includes(String(pol.body.min_tls_version)) ||
        !["RESTRICTED", "MODERN"].includes(String(pol.body.profile))
      ) {
        out.push(
          finding(
            modernTls,
            pol,
            `min_tls_version ${JSON.stringify(pol.body.min_tls_version)}, profile ${JSON.stringify(pol.body.profile)}`,
            'min_tls_version = "TLS_1_2", profile = "RESTRICTED"',
          ),
        );
      }
    }
    return [...out, ...minTls.check(ctx), ...alwaysHttps.check(ctx)];
  },
};

const minTls = zoneSettingRule({ ...modernTls, setting: "min_tls_version", accept: ["1.2", "1.3"], want: "1.2" });
const alwaysHttps = zoneSettingRule({ ...modernTls, setting: "always_use_https", accept: ["on"], want: "on" });

export const proxiedRecords: PostureRule = {
  id: "EDGE07",
  title: "DNS records of the origin are proxied through Cloudflare",
  severity: "error",
  rationale: "an unproxied record publishes the origin's address and bypasses Cloudflare (WAF, DDoS, AOP)",
  references: { seed: SEED_ORIGIN, docs: "https://developers.cloudflare.com/dns/proxy-status/" },
  check: (ctx) =>
    resourcesOf(ctx, "cloudflare_dns_record")
      .filter((r) => ["A", "AAAA", "CNAME"].includes(String(r.body.type)) && r.body.proxied !== true)
      .map((r) => finding(proxiedRecords, r, `${String(r.body.type)} ${String(r.body.name)} is not proxied`, "proxied = true")),
};

/** Every edge rule, in id order. */
export const EDGE_RULES: readonly PostureRule[] = [
  sslStrict,
  authenticatedOriginPulls,
  originMtls,
  cloudArmorDefaultDeny,
  securityHeaders,
  modernTls,
  proxiedRecords,
];

/** CloudArmorSecurityPolicy's own rules, built alone (the edge stack test reads the policy the plan uses). */
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { describe, expect, it } from "vitest";
import {
  ALLOW_PRIORITY_BASE,
  CloudArmorSecurityPolicy,
  type CloudArmorSecurityPolicyProps,
  chunk,
  DEFAULT_RULE_PRIORITY,
  RATE_LIMIT_PRIORITY_BASE,
} from "../../constructs/cloud-armor-security-policy.ts";
import { synthConstruct } from "../support/build.ts";
import { resources } from "../support/plan.ts";

/** `n` distinct /32 ranges. */
const ranges = (n: number) => Array.from({ length: n }, (_, i) => `10.${Math.floor(i / 256)}.${i % 256}.1/32`);

function rulesOf(props: Partial<CloudArmorSecurityPolicyProps>): any[] {
  const json = synthConstruct((scope) => {
    new GoogleProvider(scope, "google", { project: "p" });
    new CloudArmorSecurityPolicy(scope, "armor", { name: "edge", allowedSourceRanges: ["198.51.100.0/24"], ...props });
  });
  return (Object.values(resources(json, "google_compute_security_policy"))[0] as Record<string, any>).rule;
}

const limit = { pathPrefix: "/api/auth/", count: 10, clientKeyHeader: "CF-Connecting-IP" };

describe("CloudArmorSecurityPolicy", () => {
  it("denies everything by default and allows the ranges in chunks of ten, in order", () => {
    const rules = rulesOf({ allowedSourceRanges: ranges(11) });
    expect(rules.map((r) => [r.priority, r.action])).toEqual([
      [ALLOW_PRIORITY_BASE, "allow"],
      [ALLOW_PRIORITY_BASE + 1, "allow"],
      [DEFAULT_RULE_PRIORITY, "deny(403)"],
    ]);
    expect(rules[0].match.config.src_ip_ranges).toEqual(ranges(10));
    expect(rules[1].match.config.src_ip_ranges).toEqual(ranges(11).slice(10));
    expect(rules[2].match).toEqual({ versioned_expr: "SRC_IPS_V1", config: { src_ip_ranges: ["*"] } });
  });

  it("throttles the path per client header, repeating at most four ranges per rule", () => {
    const rules = rulesOf({ allowedSourceRanges: ranges(5), rateLimit: limit });
    const throttles: any[] = rules.filter((r) => r.action === "throttle");
    expect(throttles.map((r) => r.priority)).toEqual([RATE_LIMIT_PRIORITY_BASE, RATE_LIMIT_PRIORITY_BASE + 1]);
    expect(throttles[0].rate_limit_options).toEqual({
      conform_action: "allow",
      exceed_action: "deny(429)",
      enforce_on_key: "HTTP_HEADER",
      enforce_on_key_name: "CF-Connecting-IP",
      rate_limit_threshold: { count: 10, interval_sec: 60 },
    });
    expect(throttles[1].match.expr.expression).toBe(
      "request.path.lower().startsWith('/api/auth/') && (inIpRange(origin.ip, '10.0.4.1/32'))",
    );
  });

  it("fails if no range is allowed", () => {
    expect(() => rulesOf({ allowedSourceRanges: [] })).toThrow(
      "CloudArmorSecurityPolicy edge: 'allowedSourceRanges' is empty (got []). List at least one range, or nothing will be admitted.",
    );
  });

  it("fails if a range is listed twice, next to each other or apart", () => {
    expect(() => rulesOf({ allowedSourceRanges: ["10.0.0.0/8", "10.0.0.0/8"] })).toThrow("'allowedSourceRanges' lists a range twice");
    expect(() => rulesOf({ allowedSourceRanges: ["10.0.0.0/8", "192.0.2.0/24", "10.0.0.0/8"] })).toThrow(
      "'allowedSourceRanges' lists a range twice",
    );
  });

  it("fails if the rate-limited path is not a lowercase path: no leading slash, upper case, a quote", () => {
    for (const pathPrefix of ["api/auth/", "/API/auth/", "/api/auth'/"]) {
      expect(() => rulesOf({ rateLimit: { ...limit, pathPrefix } }), pathPrefix).toThrow(
        `CloudArmorSecurityPolicy edge: 'rateLimit.pathPrefix' is not a lowercase URL path (got ${pathPrefix}). Write it as /path/, e.g. /api/auth/.`,
      );
    }
  });

  it("fails if the ranges need more rate-limit rules than there are priorities before the allow rules, and not at the limit", () => {
    const room = (ALLOW_PRIORITY_BASE - RATE_LIMIT_PRIORITY_BASE) * 4;
    expect(rulesOf({ allowedSourceRanges: ranges(room), rateLimit: limit }).filter((r) => r.action === "throttle")).toHaveLength(100);
    expect(() => rulesOf({ allowedSourceRanges: ranges(room + 1), rateLimit: limit })).toThrow(
      `'allowedSourceRanges' needs 101 rate-limit rules (got ${room + 1} ranges). Keep it under ${room} ranges.`,
    );
  });

  it("fails if a range cannot be quoted safely in a rule expression", () => {
    expect(() => rulesOf({ allowedSourceRanges: ["10.0.0.0/8') || true || ('"], rateLimit: limit })).toThrow(
      "CloudArmorSecurityPolicy: cannot quote '10.0.0.0/8') || true || ('' in a rule expression",
    );
  });

  it("keeps adaptive protection on unless turned off", () => {
    const policy = (adaptiveProtection?: boolean) => {
      const json = synthConstruct((scope) => {
        new GoogleProvider(scope, "google", { project: "p" });
        new CloudArmorSecurityPolicy(scope, "armor", {
          name: "edge",
          allowedSourceRanges: ["198.51.100.0/24"],
          ...(adaptiveProtection === undefined ? {} : { adaptiveProtection }),
        });
      });
      return Object.values(resources(json, "google_compute_security_policy"))[0] as Record<string, any>;
    };
    expect(policy().adaptive_protection_config).toEqual({ layer_7_ddos_defense_config: { enable: true } });
    expect(policy(false).adaptive_protection_config).toBeUndefined();
  });
});

describe("chunk", () => {
  it("splits in order, the last chunk shorter", () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 3)).toEqual([]);
  });

  it("fails if the size is zero, negative or not whole", () => {
    for (const size of [0, -1, 1.5]) {
      expect(() => chunk([1], size)).toThrow(`chunk: 'size' is not a positive whole number (got ${size}). Pass 1 or more.`);
    }
  });
});

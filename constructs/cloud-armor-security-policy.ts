import { Construct } from "constructs";
import { ComputeSecurityPolicy, type ComputeSecurityPolicyRule } from "@cdktf/provider-google/lib/compute-security-policy";

/** Cloud Armor's lowest priority: the policy's default rule. */
export const DEFAULT_RULE_PRIORITY = 2147483647;
/** Priority of the first rate-limit rule; one per chunk of allowed ranges after it. */
export const RATE_LIMIT_PRIORITY_BASE = 900;
/** Priority of the first allow rule; one per chunk of allowed ranges after it. */
export const ALLOW_PRIORITY_BASE = 1000;
/**
 * Most ranges in one basic match condition (`src_ip_ranges`).
 * @see https://cloud.google.com/armor/quotas#limits
 */
export const MAX_RANGES_PER_BASIC_RULE = 10;
/**
 * Most ranges in one rate-limit rule: an advanced (CEL) match holds at most five
 * subexpressions, and one of them is the path.
 * @see https://cloud.google.com/armor/docs/rules-language-reference
 */
export const MAX_RANGES_PER_RATE_LIMIT_RULE = 4;

/** A per-client request limit on one path prefix (a `throttle` rule). */
export interface PathRateLimit {
  /** Lowercase path prefix the limit applies to, e.g. `/api/auth/`. */
  readonly pathPrefix: string;
  /** Requests allowed per client in each interval. */
  readonly count: number;
  /**
   * Length of the counting interval, in seconds.
   * @default 60
   */
  readonly intervalSec?: number;
  /**
   * Request header that identifies the client (`enforce_on_key = "HTTP_HEADER"`): behind a
   * proxy the source address is the proxy's, not the client's.
   */
  readonly clientKeyHeader: string;
}

/** Props of {@link CloudArmorSecurityPolicy}. */
export interface CloudArmorSecurityPolicyProps {
  /** Policy name. */
  readonly name: string;
  /** The only source ranges allowed (IPv4 and IPv6 CIDRs); everything else gets 403. */
  readonly allowedSourceRanges: readonly string[];
  /**
   * Where the allowed ranges come from, for the rule descriptions.
   * @default "allowed ranges"
   */
  readonly sourceDescription?: string;
  /**
   * A per-client limit on one path prefix, evaluated before the allow rules.
   * @default - no rate limit
   */
  readonly rateLimit?: PathRateLimit;
  /**
   * Layer-7 DDoS Adaptive Protection (alerts only on Cloud Armor Standard).
   * @default true
   */
  readonly adaptiveProtection?: boolean;
}

/** Splits `items` into consecutive chunks of at most `size`, in order. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new Error(`chunk: 'size' is not a positive whole number (got ${size}). Pass 1 or more.`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Quotes a string literal for the Cloud Armor rules language. */
function literal(value: string): string {
  if (!/^[A-Za-z0-9/:._*-]+$/.test(value))
    throw new Error(
      `CloudArmorSecurityPolicy: cannot quote '${value}' in a rule expression (got ${JSON.stringify(value)}). Use letters, digits and / : . _ * - only.`,
    );
  return `'${value}'`;
}

/**
 * A Cloud Armor security policy that admits only the given source ranges: a default rule
 * that denies (403) everything, allow rules for the ranges (basic `src_ip_ranges` matches,
 * at most 10 ranges each, priorities 1000, 1001, …), and optionally a per-client `throttle`
 * on a path prefix ahead of them (priorities 900, 901, …).
 *
 * The throttle rules repeat the source ranges in their own match (at most 4 per rule, the
 * CEL limit), because a `throttle` rule's conforming requests are allowed outright: a rule on
 * the path alone would let requests from any address through on that path.
 * @see https://cloud.google.com/armor/docs/security-policy-overview
 * @see https://cloud.google.com/armor/docs/rate-limiting-overview
 */
export class CloudArmorSecurityPolicy extends Construct {
  /** The policy (attach its `id` to a backend service's `security_policy`). */
  readonly policy: ComputeSecurityPolicy;

  constructor(scope: Construct, id: string, props: CloudArmorSecurityPolicyProps) {
    super(scope, id);
    const where = `CloudArmorSecurityPolicy ${props.name}`;
    const ranges = [...props.allowedSourceRanges];
    if (ranges.length === 0)
      throw new Error(`${where}: 'allowedSourceRanges' is empty (got []). List at least one range, or nothing will be admitted.`);
    if (new Set(ranges).size !== ranges.length)
      throw new Error(`${where}: 'allowedSourceRanges' lists a range twice (got ${ranges.join(", ")}). List each range once.`);
    const source = props.sourceDescription ?? "allowed ranges";

    const rules: ComputeSecurityPolicyRule[] = [];
    const rl = props.rateLimit;
    if (rl) {
      if (!/^\/[a-z0-9/_.-]*$/.test(rl.pathPrefix)) {
        throw new Error(
          `${where}: 'rateLimit.pathPrefix' is not a lowercase URL path (got ${rl.pathPrefix}). Write it as /path/, e.g. /api/auth/.`,
        );
      }
      const throttleChunks = chunk(ranges, MAX_RANGES_PER_RATE_LIMIT_RULE);
      if (throttleChunks.length > ALLOW_PRIORITY_BASE - RATE_LIMIT_PRIORITY_BASE) {
        throw new Error(
          `${where}: 'allowedSourceRanges' needs ${throttleChunks.length} rate-limit rules (got ${ranges.length} ranges). Keep it under ${(ALLOW_PRIORITY_BASE - RATE_LIMIT_PRIORITY_BASE) * MAX_RANGES_PER_RATE_LIMIT_RULE} ranges.`,
        );
      }
      throttleChunks.forEach((part, i) => {
        const fromSource = part.map((r) => `inIpRange(origin.ip, ${literal(r)})`).join(" || ");
        rules.push({
          priority: RATE_LIMIT_PRIORITY_BASE + i,
          action: "throttle",
          description: `${rl.count} requests per ${rl.intervalSec ?? 60} s per ${rl.clientKeyHeader} on ${rl.pathPrefix}* from ${source} (${i + 1}/${throttleChunks.length})`,
          match: { expr: { expression: `request.path.lower().startsWith(${literal(rl.pathPrefix)}) && (${fromSource})` } },
          rateLimitOptions: {
            conformAction: "allow",
            exceedAction: "deny(429)",
            enforceOnKey: "HTTP_HEADER",
            enforceOnKeyName: rl.clientKeyHeader,
            rateLimitThreshold: { count: rl.count, intervalSec: rl.intervalSec ?? 60 },
          },
        });
      });
    }

    chunk(ranges, MAX_RANGES_PER_BASIC_RULE).forEach((part, i, all) => {
      rules.push({
        priority: ALLOW_PRIORITY_BASE + i,
        action: "allow",
        description: `Allow ${source} (${i + 1}/${all.length})`,
        match: { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: part } },
      });
    });

    rules.push({
      priority: DEFAULT_RULE_PRIORITY,
      action: "deny(403)",
      description: `Default: deny everything not from ${source}`,
      match: { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } },
    });

    this.policy = new ComputeSecurityPolicy(this, "policy", {
      name: props.name,
      type: "CLOUD_ARMOR",
      description: `Admits only ${source}`,
      rule: rules,
      ...((props.adaptiveProtection ?? true) ? { adaptiveProtectionConfig: { layer7DdosDefenseConfig: { enable: true } } } : {}),
    });
  }
}

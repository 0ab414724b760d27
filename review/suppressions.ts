/**
 * Suppressions from the environment file (`review.suppressions`): accepted findings, each with
 * the rule, the resource as the review prints it, a reason and an expiry date. They live in the
 * config, not in the synthesized JSON, so they survive every synth.
 */
import type { PlueConfig } from "../config/schema.ts";
import type { Finding } from "./readiness/types.ts";

/** One suppression as the config holds it. */
export type Suppression = PlueConfig["review"]["suppressions"][number];

/** How a finding's resource is printed and matched: `<stack> <address>`, or the address alone outside every stack. */
export function resourceKey(f: Pick<Finding, "stack" | "address">): string {
  return f.stack ? `${f.stack} ${f.address}` : f.address;
}

/** Findings split by the suppressions, and the suppressions that need attention. */
export interface SuppressionOutcome {
  /** Findings no (valid) suppression covers. */
  readonly active: readonly Finding[];
  /** Findings covered, each with its suppression. */
  readonly suppressed: readonly { readonly finding: Finding; readonly suppression: Suppression }[];
  /** Suppressions past their date: each fails the review, and covers nothing. */
  readonly expired: readonly Suppression[];
  /** Valid suppressions that cover no finding (stale: remove them). */
  readonly unmatched: readonly Suppression[];
}

/** Applies `suppressions` on `today` (`YYYY-MM-DD`, UTC): a suppression holds through its expiry day. */
export function applySuppressions(findings: readonly Finding[], suppressions: readonly Suppression[], today: string): SuppressionOutcome {
  const expired = suppressions.filter((s) => s.expires < today);
  const valid = suppressions.filter((s) => s.expires >= today);
  const used = new Set<Suppression>();
  const active: Finding[] = [];
  const suppressed: { finding: Finding; suppression: Suppression }[] = [];
  for (const f of findings) {
    const s = valid.find((x) => x.rule === f.rule && x.resource === resourceKey(f));
    if (s) {
      used.add(s);
      suppressed.push({ finding: f, suppression: s });
    } else active.push(f);
  }
  return { active, suppressed, expired, unmatched: valid.filter((s) => !used.has(s)) };
}

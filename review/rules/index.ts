/**
 * Every posture rule of the review, in report order: the cluster, stateful resources, IAM,
 * workloads, network, admission, edge, secrets, the cross-layer rules, and the deploy-readiness
 * rules (docs/adr/0011) adapted to the same shape.
 */
import { RULES as READINESS_RULES } from "../readiness/index.ts";
import { ADMISSION_RULES } from "./admission.ts";
import { CLUSTER_RULES } from "./cluster.ts";
import { CROSS_LAYER_RULES } from "./cross-layer.ts";
import { DATA_RULES } from "./data.ts";
import { EDGE_RULES } from "./edge.ts";
import { IAM_RULES } from "./iam.ts";
import { NETWORK_RULES } from "./network.ts";
import { SECRET_RULES } from "./secrets.ts";
import type { PostureRule } from "./types.ts";
import { WORKLOAD_RULES } from "./workloads.ts";

export type { Finding, PostureRule, References, ReviewContext, Severity } from "./types.ts";

/** The deploy-readiness rules as posture rules (their own ids, DR001-DR015). */
export const READINESS_AS_POSTURE: readonly PostureRule[] = READINESS_RULES.map((r) => ({
  id: r.id,
  title: r.title,
  severity: r.severity,
  rationale: r.rationale,
  references: { docs: `${r.source}; docs/adr/0010-apply-time-traps.md` },
  check: (ctx) => r.check(ctx.plan),
}));

/** The rules this repository's own posture asks for (not the readiness ones). */
export const POSTURE_RULES: readonly PostureRule[] = [
  ...CLUSTER_RULES,
  ...DATA_RULES,
  ...IAM_RULES,
  ...WORKLOAD_RULES,
  ...NETWORK_RULES,
  ...ADMISSION_RULES,
  ...EDGE_RULES,
  ...SECRET_RULES,
  ...CROSS_LAYER_RULES,
];

/** Every rule the review runs. */
export const ALL_RULES: readonly PostureRule[] = [...POSTURE_RULES, ...READINESS_AS_POSTURE];

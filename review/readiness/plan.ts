/**
 * The plan model moved to review/plan-model.ts (shared by the readiness and posture rules); this
 * re-export keeps imports written before the move working. New code imports ../plan-model.ts.
 */
export * from "../plan-model.ts";

/** Network isolation: NetworkPolicy in the cluster (evaluated, not pattern-matched) and the VPC. */
import { planEndpoints, planFlows, SYSTEM_NAMESPACES } from "../connectivity.ts";
import { type MatrixCheck, type MatrixRow, matrix } from "../netpol/index.ts";
import { K8S } from "../../lib/k8s-names.ts";
import { finding, get, list, namespaces, objects, objectsOfKind, resourcesOf, type Target } from "./helpers.ts";
import type { Finding, PostureRule, ReviewContext } from "./types.ts";

const SEED_NETPOL = "000 Sandboxed Execution (gVisor): Network Policy";

/** The matrix rows of `checks` over every Kubernetes object the plan applies. */
function evaluate(ctx: ReviewContext, checks: readonly MatrixCheck[]): MatrixRow[] {
  return matrix(
    objects(ctx).map((a) => a.object),
    planEndpoints(ctx.config),
    checks,
    SYSTEM_NAMESPACES,
  );
}

/** The object a runner finding points at: the runner PodTemplate, else the runners namespace. */
function runnerTarget(ctx: ReviewContext): Target | undefined {
  const all = objects(ctx);
  return (
    all.find((a) => a.object.kind === "PodTemplate" && a.object.metadata.namespace === K8S.namespaces.runners) ??
    all.find((a) => a.object.kind === "Namespace" && a.object.metadata.name === K8S.namespaces.runners)
  );
}

export const defaultDeny: PostureRule = {
  id: "NET01",
  title: "default-deny NetworkPolicy (ingress and egress) in every namespace the plan creates",
  severity: "error",
  rationale: "every flow is then an explicit, named exception; a namespace without one lets any pod talk to anything",
  references: { cis: "4.3.2", kubeLinter: "non-isolated-pod", seed: SEED_NETPOL },
  check(ctx) {
    const policies = objectsOfKind(ctx, "NetworkPolicy");
    return namespaces(ctx).flatMap((ns) => {
      const denies = policies.filter((p) => {
        const o = p.object;
        const sel = get(o, "spec.podSelector");
        const types = list(o, "spec.policyTypes");
        return (
          o.metadata.namespace === ns.name &&
          sel !== undefined &&
          Object.keys((sel ?? {}) as object).every(
            (k) => Object.keys(((sel as Record<string, unknown>)[k] ?? {}) as object).length === 0,
          ) &&
          types.includes("Ingress") &&
          types.includes("Egress") &&
          list(o, "spec.ingress").length === 0 &&
          list(o, "spec.egress").length === 0
        );
      });
      return denies.length > 0
        ? []
        : [
            finding(
              defaultDeny,
              ns.target,
              `namespace ${ns.name} has no NetworkPolicy selecting every pod with policyTypes [Ingress, Egress] and no rule`,
              "a default-deny-all NetworkPolicy: podSelector {}, policyTypes [Ingress, Egress]",
            ),
          ];
    });
  },
};

/** Destinations a runner must never reach (endpoints of review/connectivity.ts), with the ports tried. */
export const RUNNER_FORBIDDEN: readonly MatrixCheck[] = [
  // No DNS at all: name queries carry data out (<data>.attacker.example).
  { from: "runner", to: "kube-dns", port: 53, protocol: "UDP" },
  { from: "runner", to: "kube-dns", port: 53, protocol: "TCP" },
  // Anthropic only through the egress gateway, which holds the key.
  { from: "runner", to: "api.anthropic.com", port: 443 },
  { from: "runner", to: "api.anthropic.com (v6)", port: 443 },
  { from: "runner", to: "metadata-server", port: 80 },
  { from: "runner", to: "metadata-server", port: 443 },
  { from: "runner", to: "metadata-server", port: 988 },
  { from: "runner", to: "cloud-sql", port: 5432 },
  { from: "runner", to: "internet 8.8.8.8", port: 443 },
  { from: "runner", to: "internet 8.8.8.8", port: 80 },
  { from: "runner", to: "internet 8.8.8.8", port: 53, protocol: "UDP" },
  { from: "runner", to: "internet 8.8.8.8", port: 53, protocol: "TCP" },
  { from: "runner", to: "other-runner", port: 8080 },
];

export const runnerEgress: PostureRule = {
  id: "NET02",
  title: "runners cannot reach DNS, Anthropic directly, the metadata server, the database, the internet or each other",
  severity: "error",
  rationale:
    "untrusted agent code must not get the node's or a Google identity (metadata), the platform's data (Cloud SQL) or an exfiltration path (internet, DNS queries), and reaches Anthropic only through the egress gateway that holds the key; evaluated over the synthesized NetworkPolicies",
  references: { seed: SEED_NETPOL, docs: "README.md (Network)" },
  check(ctx) {
    const target = runnerTarget(ctx);
    if (!target) return [];
    return evaluate(ctx, RUNNER_FORBIDDEN)
      .filter((r) => r.allowed)
      .map((r) =>
        finding(
          runnerEgress,
          target,
          `runner -> ${r.to}:${r.port}/${r.protocol} is allowed (${r.reason})`,
          "narrow the runners' egress policies: only the flows the runners need, nothing to this destination",
        ),
      );
  },
};

export const promisedFlows: PostureRule = {
  id: "NET03",
  title: "the connectivity matrix is as the plan promises",
  severity: "error",
  rationale: "every promised flow (review/connectivity.ts) holds and every forbidden one is denied, over the synthesized policies",
  references: { seed: SEED_NETPOL, docs: "README.md (Network)" },
  check(ctx) {
    const flows = planFlows(ctx.config);
    const rows = evaluate(ctx, flows);
    const anchor = runnerTarget(ctx);
    if (!anchor) return [];
    return rows.flatMap((r, i) => {
      const expect = flows[i]?.expect;
      if (r.allowed === (expect === "allow")) return [];
      return [
        finding(
          promisedFlows,
          anchor,
          `expected ${expect}: ${r.from} -> ${r.to}:${r.port}/${r.protocol}, got ${r.allowed ? "allow" : "deny"} (${r.reason})`,
          "fix the NetworkPolicies, or the promise in review/connectivity.ts when the flow changed on purpose",
        ),
      ];
    });
  },
};

/** Sources that must never reach a runner. */
export const RUNNER_UNREACHABLE: readonly MatrixCheck[] = [
  { from: "api", to: "runner", port: 8080 },
  { from: "internet client", to: "runner", port: 8080 },
  { from: "kube-dns", to: "runner", port: 8080 },
  { from: "other-runner", to: "runner", port: 8080 },
];

export const runnerIngress: PostureRule = {
  id: "NET04",
  title: "nothing reaches a runner",
  severity: "error",
  rationale: "a runner only calls out (and back to the API); no other pod, runner or address opens a connection to it",
  references: { seed: SEED_NETPOL },
  check(ctx) {
    const target = runnerTarget(ctx);
    if (!target) return [];
    return evaluate(ctx, RUNNER_UNREACHABLE)
      .filter((r) => r.allowed)
      .map((r) =>
        finding(
          runnerIngress,
          target,
          `${r.from} -> runner:${r.port}/${r.protocol} is allowed (${r.reason})`,
          "no ingress rule may select runner pods",
        ),
      );
  },
};

export const vpcFirewall: PostureRule = {
  id: "NET05",
  title: "VPC: logged deny-all ingress, no allow from 0.0.0.0/0",
  severity: "error",
  rationale: "the VPC admits only the load balancer's and health checks' ranges; everything else is denied and logged",
  references: { checkov: "CKV_GCP_2, CKV_GCP_3, CKV_GCP_106", cis: "5.6.6" },
  check(ctx) {
    const fws = resourcesOf(ctx, "google_compute_firewall");
    const out: Finding[] = [];
    for (const f of fws) {
      const sources = list(f.body, "source_ranges");
      if (
        (f.body.direction ?? "INGRESS") === "INGRESS" &&
        list(f.body, "allow").length > 0 &&
        sources.some((s) => s === "0.0.0.0/0" || s === "::/0")
      ) {
        out.push(finding(vpcFirewall, f, `allows ingress from ${sources.join(", ")}`, "allow only the ranges that need it"));
      }
    }
    for (const net of resourcesOf(ctx, "google_compute_network")) {
      const denyAll = fws.some(
        (f) =>
          (f.body.direction ?? "INGRESS") === "INGRESS" &&
          list(f.body, "deny").some((d) => get(d, "protocol") === "all") &&
          list(f.body, "source_ranges").includes("0.0.0.0/0") &&
          get(f.body, "log_config.metadata") !== undefined,
      );
      if (!denyAll)
        out.push(
          finding(
            vpcFirewall,
            net,
            "no logged deny-all ingress firewall rule",
            'google_compute_firewall { direction = "INGRESS", deny { protocol = "all" }, source_ranges = ["0.0.0.0/0"], priority = 65534, log_config { ... } }',
          ),
        );
    }
    return out;
  },
};

export const subnetFlowLogs: PostureRule = {
  id: "NET06",
  title: "subnets log flows and use Private Google Access",
  severity: "warning",
  rationale: "flow logs show what talked to what; Private Google Access keeps Google API traffic off the internet",
  references: { cis: "5.6.1", checkov: "CKV_GCP_26, CKV_GCP_74" },
  check: (ctx) =>
    resourcesOf(ctx, "google_compute_subnetwork").flatMap((s) => {
      const problems: string[] = [];
      if (get(s.body, "log_config") === undefined) problems.push("no log_config");
      if (s.body.private_ip_google_access !== true) problems.push("private_ip_google_access is not true");
      return problems.length === 0
        ? []
        : [finding(subnetFlowLogs, s, problems.join("; "), "log_config { ... } and private_ip_google_access = true")];
    }),
};

/** Every network rule, in id order. */
export const NETWORK_RULES: readonly PostureRule[] = [defaultDeny, runnerEgress, promisedFlows, runnerIngress, vpcFirewall, subnetFlowLogs];

import { describe, expect, it } from "vitest";
import { evaluate } from "../../review/netpol/index.ts";
import { chartFor, chartObjects } from "../support/build.ts";
import { exampleConfig } from "../support/config.ts";
import { chart, chartText } from "../support/plan.ts";

const objects = chart("network-policies");

describe("network policies chart", () => {
  it("matches the snapshot", () => {
    expect(chartText("network-policies")).toMatchSnapshot();
  });

  it("gives runners no ingress rule at all", () => {
    const runnerIngress = objects.filter((o: any) => o.metadata.namespace === "runners" && (o.spec.policyTypes ?? []).includes("Ingress"));
    expect(runnerIngress).toEqual([]);
  });

  it("lets runners reach exactly two pods: the egress gateway's proxy port and the API's callback port (no DNS, no address block, no name)", () => {
    const runnerPolicies = objects.filter((o) => o.metadata.namespace === "runners").map((o: any) => [o.kind, o.metadata.name, o.spec]);
    const runnerPods = { matchLabels: { "app.kubernetes.io/name": "runner" } };
    expect(runnerPolicies).toEqual([
      [
        "NetworkPolicy",
        "runner-egress-gateway",
        {
          podSelector: runnerPods,
          policyTypes: ["Egress"],
          egress: [
            {
              to: [
                {
                  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "egress" } },
                  podSelector: { matchLabels: { "app.kubernetes.io/name": "egress-gateway" } },
                },
              ],
              ports: [{ protocol: "TCP", port: 8080 }],
            },
          ],
        },
      ],
      [
        "NetworkPolicy",
        "runner-egress-api-callback",
        {
          podSelector: runnerPods,
          policyTypes: ["Egress"],
          egress: [
            {
              to: [
                {
                  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "api" } },
                  podSelector: { matchLabels: { "app.kubernetes.io/name": "api" } },
                },
              ],
              ports: [{ protocol: "TCP", port: 4001 }],
            },
          ],
        },
      ],
    ]);
  });

  it("gives runners no FQDN policy, no ipBlock and no port 53 (Anthropic only through the gateway, and no DNS)", () => {
    const runnerText = JSON.stringify(objects.filter((o) => o.metadata.namespace === "runners"));
    expect(objects.filter((o) => o.kind === "FQDNNetworkPolicy" && o.metadata.namespace === "runners")).toEqual([]);
    expect(runnerText).not.toContain("ipBlock");
    expect(runnerText).not.toContain('"port":53');
    expect(runnerText).not.toContain("kube-dns");
  });

  it("adds the NodeLocal DNS cache address to the API's DNS, only on port 53, and never to the runners', when the config enables it", () => {
    const config = exampleConfig();
    const withCache = { ...config, cluster: { ...config.cluster, nodeLocalDns: true } };
    const policies = chartFor(withCache, "network-policies");
    const runner = { kind: "pod" as const, namespace: "runners", labels: { "app.kubernetes.io/name": "runner" } };
    const api = { kind: "pod" as const, namespace: "api", labels: { "app.kubernetes.io/name": "api" } };
    const cache = { kind: "external" as const, ip: "169.254.20.10" };
    expect(evaluate(policies, { from: api, to: cache, port: 53, protocol: "UDP" }).allowed).toBe(true);
    expect(evaluate(policies, { from: api, to: cache, port: 80 }).allowed).toBe(false);
    for (const protocol of ["UDP", "TCP"] as const) {
      expect(evaluate(policies, { from: runner, to: cache, port: 53, protocol }).allowed, protocol).toBe(false);
    }
    expect(evaluate(policies, { from: runner, to: { kind: "external", ip: "169.254.169.254" }, port: 80 }).allowed).toBe(false);
    expect(JSON.stringify(policies.filter((o) => o.metadata.namespace === "runners"))).not.toContain("169.254.");
  });

  it("adds SSH ingress and a LoadBalancer limited to the configured source ranges when enabled", () => {
    const config = exampleConfig();
    const ssh = { enabled: true, port: 2222, sourceRanges: ["198.51.100.0/24"] };
    const withSsh = { ...config, api: { ...config.api, ssh } };
    const built = chartObjects(withSsh);
    const policies = built["network-policies"] ?? [];
    const api = built.api ?? [];
    const lb = api.find((o: any) => o.kind === "Service" && o.spec.type === "LoadBalancer") as any;
    expect(lb.spec).toEqual({
      type: "LoadBalancer",
      externalTrafficPolicy: "Local",
      loadBalancerSourceRanges: ["198.51.100.0/24"],
      selector: { "app.kubernetes.io/name": "api" },
      ports: [{ name: "ssh", port: 22, targetPort: "ssh", protocol: "TCP" }],
    });
    const apiPod = { kind: "pod" as const, namespace: "api", labels: { "app.kubernetes.io/name": "api" } };
    expect(evaluate(policies, { from: { kind: "external", ip: "198.51.100.7" }, to: apiPod, port: 2222 }).allowed).toBe(true);
    expect(evaluate(policies, { from: { kind: "external", ip: "203.0.113.7" }, to: apiPod, port: 2222 }).allowed).toBe(false);
  });
});

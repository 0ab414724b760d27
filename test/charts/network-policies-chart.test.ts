import { describe, expect, it } from "vitest";
import { evaluate } from "../../review/netpol/index.ts";
import { chartFor, chartObjects } from "../support/build.ts";
import { exampleConfig } from "../support/config.ts";
import { chart, chartText } from "../support/plan.ts";

const objects = chart("network-policies");
const named = (ns: string, name: string): any => objects.find((o) => o.metadata.namespace === ns && o.metadata.name === name);

describe("network policies chart", () => {
  it("matches the snapshot", () => {
    expect(chartText("network-policies")).toMatchSnapshot();
  });

  it("gives runners no ingress rule at all", () => {
    const runnerIngress = objects.filter((o: any) => o.metadata.namespace === "runners" && (o.spec.policyTypes ?? []).includes("Ingress"));
    expect(runnerIngress).toEqual([]);
  });

  it("allows runner DNS to kube-dns on UDP and TCP 53", () => {
    expect(named("runners", "runner-egress-dns").spec.egress[0].ports).toEqual([
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ]);
  });

  it("reaches api.anthropic.com:443 by name (FQDNNetworkPolicy) and by published ranges (NetworkPolicy)", () => {
    const fqdn = named("runners", "runner-egress-anthropic-fqdn");
    expect(fqdn.apiVersion).toBe("networking.gke.io/v1alpha1");
    expect(fqdn.spec.egress).toEqual([{ matches: [{ name: "api.anthropic.com" }], ports: [{ protocol: "TCP", port: 443 }] }]);
    expect(named("runners", "runner-egress-anthropic").spec.egress).toEqual([
      { to: [{ ipBlock: { cidr: "160.79.104.0/23" } }, { ipBlock: { cidr: "2607:6bc0::/48" } }], ports: [{ protocol: "TCP", port: 443 }] },
    ]);
  });

  it("never allows a runner any 169.254.0.0/16 address while NodeLocal DNS is off", () => {
    expect(JSON.stringify(objects.filter((o) => o.metadata.namespace === "runners"))).not.toContain("169.254.");
  });

  it("adds the NodeLocal DNS cache address, and only on port 53, when the config enables it", () => {
    const config = exampleConfig();
    const withCache = { ...config, cluster: { ...config.cluster, nodeLocalDns: true } };
    const policies = chartFor(withCache, "network-policies");
    const runner = { kind: "pod" as const, namespace: "runners", labels: { "app.kubernetes.io/name": "runner" } };
    const cache = { kind: "external" as const, ip: "169.254.20.10" };
    expect(evaluate(policies, { from: runner, to: cache, port: 53, protocol: "UDP" }).allowed).toBe(true);
    expect(evaluate(policies, { from: runner, to: cache, port: 80 }).allowed).toBe(false);
    expect(evaluate(policies, { from: runner, to: { kind: "external", ip: "169.254.169.254" }, port: 80 }).allowed).toBe(false);
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

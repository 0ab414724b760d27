/** The connectivity matrix, evaluated over every synthesized NetworkPolicy of the plan. */
import { describe, expect, it } from "vitest";
import { planEndpoints, planMatrix, SYSTEM_NAMESPACES } from "../../review/connectivity.ts";
import { evaluate, fqdnAllows, formatMatrix, type Endpoint } from "../../review/netpol/index.ts";
import { exampleConfig } from "../support/config.ts";
import { allObjects } from "../support/plan.ts";

const config = exampleConfig();
const objects = allObjects();
const rows = planMatrix(objects, config);
const endpoints = planEndpoints(config);
const decide = (from: string, to: string, port: number, protocol: "TCP" | "UDP" = "TCP") =>
  evaluate(objects, { from: endpoints[from] as Endpoint, to: endpoints[to] as Endpoint, port, protocol }, SYSTEM_NAMESPACES);
const GW = config.egressGateway;

describe("connectivity matrix", () => {
  for (const row of rows) {
    it(`${row.expect === "allow" ? "allows" : "denies"} ${row.from} -> ${row.to}:${row.port}/${row.protocol}`, () => {
      expect({ allowed: row.allowed, reason: row.reason }).toMatchObject({ allowed: row.expect === "allow" });
    });
  }

  it("denies every flow into a runner pod, from anywhere, on any port", () => {
    const runner = { kind: "pod" as const, namespace: "runners", labels: { "app.kubernetes.io/name": "runner" } };
    const sources: Endpoint[] = [
      { kind: "pod" as const, namespace: "api", labels: { "app.kubernetes.io/name": "api" } },
      { kind: "pod" as const, namespace: "runners", labels: { "app.kubernetes.io/name": "runner" } },
      { kind: "pod" as const, namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
      { kind: "pod" as const, namespace: "egress", labels: { "app.kubernetes.io/name": "egress-gateway" } },
      { kind: "external" as const, ip: "35.191.0.1" },
      { kind: "external" as const, ip: "10.10.0.7" },
    ];
    for (const from of sources) {
      for (const port of [22, 53, 80, 443, 4000, 4001, 8080, 65535]) {
        expect(evaluate(objects, { from, to: runner, port }).allowed).toBe(false);
      }
    }
  });

  it("promises every flow issue 15 names (runner DNS, public DNS, Anthropic only through the gateway, the gateway's own flows)", () => {
    const promised = rows.map((r) => `${r.from} -> ${r.to}:${r.port}/${r.protocol} ${r.expect}`);
    expect(promised).toEqual(
      expect.arrayContaining([
        "runner -> kube-dns:53/UDP deny",
        "runner -> kube-dns:53/TCP deny",
        "runner -> internet 8.8.8.8:53/UDP deny",
        "runner -> internet 8.8.8.8:53/TCP deny",
        "runner -> api.anthropic.com:443/TCP deny",
        "runner -> api.anthropic.com (v6):443/TCP deny",
        `runner -> egress-gateway:${GW.port}/TCP allow`,
        `runner -> egress-gateway:${GW.healthPort}/TCP deny`,
        `runner -> api:${config.api.callbackPort}/TCP allow`,
        "egress-gateway -> api.anthropic.com:443/TCP allow",
        "egress-gateway -> api.anthropic.com (v6):443/TCP allow",
        "egress-gateway -> kube-dns:53/UDP allow",
        "egress-gateway -> kube-dns:53/TCP allow",
        "egress-gateway -> metadata-server:80/TCP deny",
        "egress-gateway -> cloud-sql:5432/TCP deny",
        "egress-gateway -> runner:8080/TCP deny",
        "egress-gateway -> internet 8.8.8.8:443/TCP deny",
        `api -> egress-gateway:${GW.port}/TCP deny`,
        `default pod -> egress-gateway:${GW.port}/TCP deny`,
      ]),
    );
  });

  it("prints as a stable table for review", () => {
    const text = formatMatrix(rows);
    expect(text.split("\n").length).toBeGreaterThanOrEqual(rows.length);
    expect(text).toContain("runner");
  });
});

/**
 * Each layer of the runner and gateway policies on its own: the source's egress verdict and the
 * destination's ingress verdict, each deciding without the other, so a hole in one layer is
 * caught even while the other still holds.
 */
describe("each policy layer on its own", () => {
  it("runner egress alone allows exactly the gateway's proxy port and the API's callback port, each by its named rule", () => {
    expect(decide("runner", "egress-gateway", GW.port).egress).toMatchObject({
      allowed: true,
      matchedBy: "runners/runner-egress-gateway rule 0",
    });
    expect(decide("runner", "api", config.api.callbackPort).egress).toMatchObject({
      allowed: true,
      matchedBy: "runners/runner-egress-api-callback rule 0",
    });
  });

  it("runner egress alone denies DNS (kube-dns and public), Anthropic directly, the gateway's health port and everything else", () => {
    const denied: [string, number, "TCP" | "UDP"][] = [
      ["kube-dns", 53, "UDP"],
      ["kube-dns", 53, "TCP"],
      ["internet 8.8.8.8", 53, "UDP"],
      ["internet 8.8.8.8", 53, "TCP"],
      ["api.anthropic.com", 443, "TCP"],
      ["api.anthropic.com (v6)", 443, "TCP"],
      ["egress-gateway", GW.healthPort, "TCP"],
      ["api", config.api.port, "TCP"],
      ["metadata-server", 80, "TCP"],
      ["cloud-sql", 5432, "TCP"],
      ["internet 8.8.8.8", 443, "TCP"],
    ];
    for (const [to, port, protocol] of denied) {
      const { egress } = decide("runner", to, port, protocol);
      expect({ to, port, protocol, allowed: egress.allowed, isolated: egress.isolated }).toEqual({
        to,
        port,
        protocol,
        allowed: false,
        isolated: true,
      });
    }
  });

  it("gateway ingress alone admits runner pods on the proxy port and nothing else: not its health port, not any other pod or address", () => {
    expect(decide("runner", "egress-gateway", GW.port).ingress).toMatchObject({
      allowed: true,
      matchedBy: "egress/gateway-ingress-runners rule 0",
    });
    expect(decide("runner", "egress-gateway", GW.healthPort).ingress.allowed).toBe(false);
    for (const from of ["api", "schema-migrate", "external-secrets", "default pod", "kube-dns", "internet client", "load-balancer"]) {
      const { ingress } = decide(from, "egress-gateway", GW.port);
      expect({ from, allowed: ingress.allowed, isolated: ingress.isolated }).toEqual({ from, allowed: false, isolated: true });
    }
  });

  it("the API's and the schema Job's egress alone deny the gateway too", () => {
    for (const from of ["api", "schema-migrate"]) {
      const { egress } = decide(from, "egress-gateway", GW.port);
      expect({ from, allowed: egress.allowed, isolated: egress.isolated }).toEqual({ from, allowed: false, isolated: true });
    }
  });

  it("gateway egress alone allows DNS and Anthropic on 443 (by range, and by name), and denies everything else", () => {
    for (const [to, port, protocol] of [
      ["api.anthropic.com", 443, "TCP"],
      ["api.anthropic.com (v6)", 443, "TCP"],
      ["kube-dns", 53, "UDP"],
      ["kube-dns", 53, "TCP"],
    ] as const) {
      expect(decide("egress-gateway", to, port, protocol).egress.allowed, `${to}:${port}/${protocol}`).toBe(true);
    }
    const gateway = endpoints["egress-gateway"] as Endpoint;
    expect(fqdnAllows(objects, gateway, "api.anthropic.com", 443).allowed).toBe(true);
    expect(fqdnAllows(objects, gateway, "api.anthropic.com", 80).allowed).toBe(false);
    expect(fqdnAllows(objects, gateway, "evil.example", 443).allowed).toBe(false);
    for (const [to, port, protocol] of [
      ["api.anthropic.com", 80, "TCP"],
      ["internet 8.8.8.8", 53, "UDP"],
      ["internet 8.8.8.8", 443, "TCP"],
      ["metadata-server", 80, "TCP"],
      ["cloud-sql", 5432, "TCP"],
      ["runner", 8080, "TCP"],
      ["api", config.api.callbackPort, "TCP"],
    ] as const) {
      const { egress } = decide("egress-gateway", to, port, protocol);
      expect({ to, port, allowed: egress.allowed, isolated: egress.isolated }).toEqual({ to, port, allowed: false, isolated: true });
    }
  });

  it("no FQDN policy lets a runner reach Anthropic by name", () => {
    const runner = endpoints.runner as Endpoint;
    expect(fqdnAllows(objects, runner, "api.anthropic.com", 443)).toMatchObject({ allowed: false, isolated: false });
  });
});

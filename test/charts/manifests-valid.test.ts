/**
 * Every synthesized Kubernetes object validates against the Kubernetes schema
 * (`kubernetes-models`), or, for CRD-backed kinds without a model, against the checks named
 * below. A kind with neither fails the test.
 */
import { describe, expect, it } from "vitest";
import { allObjects, chartNames, chart, type K8sObject } from "../support/plan.ts";

/** CRD kinds validated by their own tests (no kubernetes-models model exists for them). */
const CRD_KINDS: Record<string, string> = {
  "networking.gke.io/v1alpha1/FQDNNetworkPolicy":
    "test/charts/network-policies-chart.test.ts, test/charts/egress-gateway-chart.test.ts (pinned whole) and review/netpol parsing",
  "external-secrets.io/v1/ExternalSecret": "test/charts/external-secrets-chart.test.ts (every chart's, the egress gateway's included)",
  "external-secrets.io/v1/ClusterSecretStore": "test/charts/external-secrets-chart.test.ts",
};

async function modelFor(o: K8sObject): Promise<(new (data: unknown) => { validate(): void }) | undefined> {
  const path = o.apiVersion.includes("/") ? `${o.apiVersion}/${o.kind}` : `v1/${o.kind}`;
  try {
    const mod = (await import(`kubernetes-models/${path}`)) as Record<string, new (data: unknown) => { validate(): void }>;
    return mod[o.kind];
  } catch {
    return undefined;
  }
}

describe("manifest validation", () => {
  it("covers every chart of the plan, the egress gateway's included", () => {
    expect(chartNames()).toEqual([
      "api",
      "egress-gateway",
      "external-secrets",
      "namespaces",
      "network-policies",
      "runner-sandbox",
      "schema-job",
    ]);
  });

  it("validates the objects issue 15 adds: the gateway's workload, the fixed-address Services and the DNS-less runner template", () => {
    const kinds = (name: string) => chart(name).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds("egress-gateway")).toEqual(
      expect.arrayContaining([
        "Namespace/egress",
        "Deployment/egress-gateway",
        "Service/egress-gateway",
        "PodDisruptionBudget/egress-gateway",
      ]),
    );
    expect(kinds("api")).toContain("Service/api-callback");
    const template = chart("runner-sandbox").find((o) => o.kind === "PodTemplate") as K8sObject & { template: { spec: object } };
    expect(template.template.spec).toMatchObject({ dnsPolicy: "None", dnsConfig: { nameservers: ["127.0.0.1"] } });
  });

  for (const name of chartNames()) {
    it(`every object of ${name} is valid`, async () => {
      for (const o of chart(name)) {
        const key = `${o.apiVersion}/${o.kind}`;
        if (CRD_KINDS[key]) continue;
        const Model = await modelFor(o);
        expect(Model, `no schema for ${key} (${o.metadata.name}); add a model or a CRD check`).toBeDefined();
        if (Model) expect(() => new Model(o).validate(), `${key} ${o.metadata.namespace ?? ""}/${o.metadata.name}`).not.toThrow();
      }
    });
  }

  it("catches an invalid object (the validator is live)", async () => {
    const bad = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "x" },
      spec: { replicas: "two", selector: {}, template: {} },
    };
    const Model = await modelFor(bad as unknown as K8sObject);
    expect(() => new (Model as NonNullable<typeof Model>)(bad).validate()).toThrow();
  });

  it("gives every namespaced object a namespace the plan declares or the platform owns", () => {
    const declared = new Set(
      allObjects()
        .filter((o) => o.kind === "Namespace")
        .map((o) => o.metadata.name),
    );
    declared.add("external-secrets");
    for (const o of allObjects()) {
      if (o.metadata.namespace) expect(declared.has(o.metadata.namespace), `${o.kind} ${o.metadata.name}`).toBe(true);
    }
  });
});

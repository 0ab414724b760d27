import { describe, expect, it } from "vitest";
import { allObjects, resources, stack, stackText } from "../support/plan.ts";
import { manifestId } from "../../stacks/workloads-stack.ts";
import { chartNames, chart } from "../support/plan.ts";

const tf = stack("workloads");
const manifests = resources(tf, "kubernetes_manifest") as Record<string, any>;
const manifest = (id: string): any => {
  const m = manifests[id];
  if (!m) throw new Error(`no manifest ${id}`);
  return m;
};

describe("workloads stack", () => {
  it("matches the snapshot", () => {
    expect(stackText("workloads")).toMatchSnapshot();
  });

  it("holds exactly one kubernetes_manifest per chart object, with the object unchanged", () => {
    const expected = chartNames().flatMap((c) => chart(c).map((o) => [manifestId(c, o), o] as const));
    expect(Object.keys(manifests).sort()).toEqual(expected.map(([id]) => id).sort());
    expect(Object.keys(manifests)).toHaveLength(allObjects().length);
    for (const [id, o] of expected) expect(manifest(id).manifest, id).toEqual(o);
  });

  it("reaches the cluster through its DNS endpoint with a short-lived token, and no static credential", () => {
    const [provider] = tf.provider?.kubernetes ?? [];
    expect(provider).toEqual({
      host: "https://${data.google_container_cluster.cluster.control_plane_endpoints_config[0].dns_endpoint_config[0].endpoint}",
      token: "${data.google_client_config.client.access_token}",
    });
  });

  it("applies namespaced objects after their namespace", () => {
    for (const [id, m] of Object.entries(manifests)) {
      const ns = m.manifest.metadata.namespace;
      if (ns === "api" || ns === "runners") {
        expect(m.depends_on, id).toContain(`kubernetes_manifest.namespaces-namespace-cluster-${ns}`);
      } else if (ns === "egress") {
        // The egress gateway chart creates its own namespace.
        expect(m.depends_on, id).toContain("kubernetes_manifest.egress-gateway-namespace-cluster-egress");
      } else {
        // The operator's namespace belongs to the platform stack, applied before this one.
        expect(ns, id).toBeUndefined();
      }
    }
  });

  it("comes after the platform stack, whose CRDs the ExternalSecrets need", () => {
    expect(stack("workloads")["//"]).toBeDefined();
    const manifestJson = JSON.parse(require_manifest());
    expect(manifestJson.stacks.workloads.dependencies).toContain("platform");
  });

  it("waits for the schema Job to complete, and rolls the API out only after it", () => {
    const [jobId, job] = Object.entries(manifests).find(([, m]) => m.manifest.kind === "Job") ?? [];
    expect(job, "a schema Job").toBeDefined();
    expect(job.wait).toEqual({ condition: [{ type: "Complete", status: "True" }] });
    // The Job's own deadline is 600 s; the wait never stops on Failed, so it ends soon after.
    expect(job.timeouts).toEqual({ create: "12m", update: "12m" });
    const api = manifest("api-deployment-api-api");
    expect(api.depends_on).toContain(`kubernetes_manifest.${jobId}`);
    expect(api.wait).toEqual({ rollout: true });
  });

  it("treats the labels the API server adds to a Job's pod template as computed (else every apply is an inconsistent result)", () => {
    const jobs = Object.values(manifests).filter((m) => m.manifest.kind === "Job");
    expect(jobs.length).toBe(1);
    for (const job of jobs)
      expect(job.computed_fields).toEqual(["metadata.annotations", "metadata.labels", "spec.template.metadata.labels"]);
    // Every other kind keeps the provider's default (setting computed_fields replaces it).
    for (const m of Object.values(manifests).filter((x) => x.manifest.kind !== "Job")) expect(m.computed_fields).toBeUndefined();
  });

  it("waits for every ExternalSecret and store to be Ready, so a broken store fails there and not as the Job's timeout", () => {
    const eso = Object.values(manifests).filter((m) => ["ExternalSecret", "ClusterSecretStore", "SecretStore"].includes(m.manifest.kind));
    // Three stores (api, migrate, egress) and three ExternalSecrets (api-env, schema-migrate-env, the gateway's key).
    expect(eso.length).toBe(6);
    for (const m of eso) {
      expect(m.wait).toEqual({ condition: [{ type: "Ready", status: "True" }] });
      expect(m.timeouts).toEqual({ create: "5m", update: "5m" });
    }
  });

  it("sets no replica count on a Deployment its HPA scales", () => {
    const scaled = Object.values(manifests)
      .filter((m) => m.manifest.kind === "HorizontalPodAutoscaler")
      .map((m) => m.manifest.spec.scaleTargetRef.name);
    expect(scaled).toEqual(["api"]);
    for (const m of Object.values(manifests).filter((x) => x.manifest.kind === "Deployment" && scaled.includes(x.manifest.metadata.name))) {
      expect(m.manifest.spec.replicas).toBeUndefined();
    }
  });

  it("rolls the API out only after every runner guardrail and network policy exists", () => {
    const api = manifest("api-deployment-api-api");
    const guardrails = Object.entries(manifests).filter(([, m]) =>
      [
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ResourceQuota",
        "LimitRange",
        "Role",
        "RoleBinding",
        "NetworkPolicy",
        "FQDNNetworkPolicy",
      ].includes(m.manifest.kind),
    );
    expect(guardrails.length).toBeGreaterThan(15);
    for (const [id] of guardrails) expect(api.depends_on, id).toContain(`kubernetes_manifest.${id}`);
  });

  it("rolls the API out only after the egress gateway exists and has rolled out (runners have no other way to Anthropic)", () => {
    const api = manifest("api-deployment-api-api");
    const gateway = Object.keys(manifests).filter((id) => id.startsWith("egress-gateway-"));
    expect(gateway).toContain("egress-gateway-deployment-egress-egress-gateway");
    expect(gateway.length).toBe(12);
    for (const id of gateway) expect(api.depends_on, id).toContain(`kubernetes_manifest.${id}`);
    expect(manifest("egress-gateway-deployment-egress-egress-gateway").wait).toEqual({ rollout: true });
  });

  it("starts the egress gateway behind its own policies, with its configuration and its key in place, and nothing of the API", () => {
    expect(manifest("egress-gateway-deployment-egress-egress-gateway").depends_on).toEqual([
      "kubernetes_manifest.egress-gateway-namespace-cluster-egress",
      "kubernetes_manifest.egress-gateway-networkpolicy-egress-default-deny-all",
      "kubernetes_manifest.egress-gateway-serviceaccount-egress-egress-gateway",
      "kubernetes_manifest.egress-gateway-configmap-egress-egress-gateway-nginx",
      "kubernetes_manifest.egress-gateway-externalsecret-egress-egress-gateway-upstream-auth",
      "kubernetes_manifest.egress-gateway-networkpolicy-egress-gateway-ingress-runners",
      "kubernetes_manifest.egress-gateway-networkpolicy-egress-gateway-egress-dns",
      "kubernetes_manifest.egress-gateway-networkpolicy-egress-gateway-egress-anthropic",
      "kubernetes_manifest.egress-gateway-fqdnnetworkpolicy-egress-gateway-egress-anthropic-fqdn",
    ]);
  });

  it("creates each ExternalSecret after the store it reads through", () => {
    const externalSecrets = Object.values(manifests).filter((m) => m.manifest.kind === "ExternalSecret");
    expect(externalSecrets).toHaveLength(3);
    for (const e of externalSecrets) {
      const store = `kubernetes_manifest.external-secrets-clustersecretstore-cluster-${e.manifest.spec.secretStoreRef.name}`;
      expect(manifests[store.replace("kubernetes_manifest.", "")], store).toBeDefined();
      expect(e.depends_on, e.manifest.metadata.name).toContain(store);
    }
  });

  it("binds each admission policy only after the policy exists", () => {
    const bindings = Object.values(manifests).filter((m) => m.manifest.kind === "ValidatingAdmissionPolicyBinding");
    expect(bindings).toHaveLength(2);
    for (const b of bindings) {
      expect(b.depends_on).toContain(`kubernetes_manifest.runner-sandbox-validatingadmissionpolicy-cluster-${b.manifest.spec.policyName}`);
    }
  });

  it("runs the schema Job only after its ExternalSecret and NetworkPolicy exist", () => {
    const job = Object.values(manifests).find((m) => m.manifest.kind === "Job");
    expect(job.depends_on).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/externalsecret-api-schema-migrate-env$/),
        expect.stringMatching(/schema-job-networkpolicy-api-/),
      ]),
    );
  });

  it("rolls the API out only after its ExternalSecret exists", () => {
    const api = manifest("api-deployment-api-api");
    const externalSecrets = Object.entries(manifests).filter(
      ([, m]) => m.manifest.kind === "ExternalSecret" && m.manifest.metadata.namespace === "api",
    );
    for (const [id] of externalSecrets) expect(api.depends_on).toContain(`kubernetes_manifest.${id}`);
  });
});

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { planDir } from "../support/plan.ts";
function require_manifest(): string {
  return readFileSync(join(planDir(), "manifest.json"), "utf8");
}

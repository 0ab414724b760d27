import { describe, expect, it } from "vitest";
import { chart, chartText } from "../support/plan.ts";

const objects = chart("api");
const find = (kind: string, name: string): any => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const deployment = find("Deployment", "api");
const pod = deployment.spec.template.spec;
const container = pod.containers[0];

describe("api chart", () => {
  it("matches the snapshot", () => {
    expect(chartText("api")).toMatchSnapshot();
  });

  it("leaves the replica count to its autoscaler, which keeps at least two, and rolls without losing one", () => {
    // A manifest that set spec.replicas would conflict with the HPA's field manager on the next
    // apply (docs/adr/0010, item 8): the Deployment sets none.
    expect(deployment.spec.replicas).toBeUndefined();
    const hpa = objects.find((o) => o.kind === "HorizontalPodAutoscaler") as any;
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
  });

  it("spreads replicas across zones", () => {
    expect(pod.topologySpreadConstraints[0]).toEqual({
      topologyKey: "topology.kubernetes.io/zone",
      maxSkew: 1,
      whenUnsatisfiable: "DoNotSchedule",
      labelSelector: { matchLabels: { "app.kubernetes.io/name": "api" } },
    });
  });

  it("never schedules on the sandbox pool", () => {
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: "sandbox.gke.io/runtime", operator: "DoesNotExist" }] },
    ]);
    expect(pod.tolerations).toBeUndefined();
    expect(pod.runtimeClassName).toBeUndefined();
  });

  it("has readiness, liveness and startup probes on the health path", () => {
    for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) {
      expect(container[probe].httpGet).toEqual({ path: "/api/health", port: "http" });
    }
  });

  it("uses the same restricted container settings as the runners", () => {
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.containers).toHaveLength(1);
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container.resources.requests).toEqual(container.resources.limits);
  });

  it("uses a service account annotated for Workload Identity", () => {
    expect(pod.serviceAccountName).toBe("api");
    expect(find("ServiceAccount", "api").metadata.annotations).toEqual({
      "iam.gke.io/gcp-service-account": "plue-api@plue-example.iam.gserviceaccount.com",
    });
  });

  it("takes its secrets from the Secret External Secrets creates", () => {
    expect(container.envFrom).toEqual([{ secretRef: { name: "api-env" } }]);
    expect(JSON.stringify(container.env)).not.toMatch(/SECRET|PASSWORD|KEY"/);
  });

  it("exposes the API through a Service with a standalone NEG for the edge load balancer", () => {
    const svc = find("Service", "api");
    expect(svc.spec.type).toBe("ClusterIP");
    expect(JSON.parse(svc.metadata.annotations["cloud.google.com/neg"])).toEqual({ exposed_ports: { "4000": { name: "api-neg" } } });
    // The HTTP port only: runners call back through their own Service.
    expect(svc.spec.ports).toEqual([{ name: "http", port: 4000, targetPort: "http", protocol: "TCP" }]);
  });

  it("serves runner callbacks on a fixed cluster IP (runners have no DNS), the callback port only", () => {
    expect(find("Service", "api-callback").spec).toEqual({
      type: "ClusterIP",
      clusterIP: "10.20.0.65",
      selector: { "app.kubernetes.io/name": "api" },
      ports: [{ name: "callback", port: 4001, targetPort: "callback", protocol: "TCP" }],
    });
  });

  it("no longer receives the Anthropic API key (the egress gateway holds it)", () => {
    expect(JSON.stringify(objects)).not.toContain("ANTHROPIC");
  });

  it("autoscales between the configured bounds", () => {
    expect(find("HorizontalPodAutoscaler", "api").spec).toEqual({
      minReplicas: 2,
      maxReplicas: 10,
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "api" },
      metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
    });
  });

  it("keeps a disruption budget", () => {
    expect(find("PodDisruptionBudget", "api").spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: { "app.kubernetes.io/name": "api" } },
    });
  });

  it("has no SSH load balancer in the example environment", () => {
    expect(objects.filter((o) => o.kind === "Service" && (o as any).spec.type === "LoadBalancer")).toEqual([]);
  });
});

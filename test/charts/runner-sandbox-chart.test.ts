import { describe, expect, it } from "vitest";
import { RUNNER_SECRET_RULES } from "../../charts/runner-secret-rules.ts";
import { chart, chartText, type K8sObject } from "../support/plan.ts";

const objects = chart("runner-sandbox");
const find = (kind: string, name: string): any => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const template = find("PodTemplate", "runner").template;
const pod = template.spec;
const container = pod.containers[0];

describe("runner sandbox chart", () => {
  it("matches the snapshot", () => {
    expect(chartText("runner-sandbox")).toMatchSnapshot();
  });

  it("keeps everything but the cluster-scoped admission policies in the runners namespace", () => {
    for (const o of objects as K8sObject[]) {
      if (o.kind.startsWith("ValidatingAdmissionPolicy")) expect(o.metadata.namespace).toBeUndefined();
      else expect(o.metadata.namespace).toBe("runners");
    }
  });

  it("runs runner pods under gVisor", () => {
    expect(pod.runtimeClassName).toBe("gvisor");
  });

  it("schedules runner pods only on the sandbox pool (nodeSelector + toleration of GKE's taint)", () => {
    expect(pod.nodeSelector).toEqual({ "sandbox.gke.io/runtime": "gvisor" });
    expect(pod.tolerations).toEqual([{ key: "sandbox.gke.io/runtime", operator: "Equal", value: "gvisor", effect: "NoSchedule" }]);
  });

  it("runs as non-root user 1000, RuntimeDefault seccomp, at pod level", () => {
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: "RuntimeDefault" },
    });
  });

  it("has a read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp, as user 1000", () => {
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
  });

  it("limits cpu to 2 and memory to 4Gi with equal requests, and limits ephemeral storage", () => {
    expect(container.resources.limits).toEqual({ cpu: "2", memory: "4Gi", "ephemeral-storage": "2Gi" });
    expect(container.resources.requests).toEqual(container.resources.limits);
  });

  it("mounts no service-account token and uses a runner account that has none either", () => {
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe("runner");
    const sa = find("ServiceAccount", "runner");
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(sa.metadata.annotations?.["iam.gke.io/gcp-service-account"]).toBeUndefined();
  });

  it("shares no host namespace and gets no service links", () => {
    expect([pod.hostNetwork, pod.hostPID, pod.hostIPC, pod.enableServiceLinks]).toEqual([false, false, false, false]);
  });

  it("gives runner pods no DNS: dnsPolicy None, only the pod's own loopback as nameserver, no search domain", () => {
    expect(pod.dnsPolicy).toBe("None");
    expect(pod.dnsConfig).toEqual({ nameservers: ["127.0.0.1"] });
  });

  it("maps the egress gateway and the API callback to their Services' fixed cluster IPs, and points the runner at them (plain HTTP in the cluster)", () => {
    expect(pod.hostAliases).toEqual([
      { ip: "10.20.0.64", hostnames: ["egress-gateway"] },
      { ip: "10.20.0.65", hostnames: ["api-callback"] },
    ]);
    expect(container.env).toEqual([
      { name: "ANTHROPIC_BASE_URL", value: "http://egress-gateway:8080" },
      { name: "CALLBACK_URL", value: "http://api-callback:4001" },
    ]);
    expect(container.envFrom).toBeUndefined();
    expect(pod.volumes.map((v: Record<string, unknown>) => Object.keys(v).sort())).toEqual([
      ["emptyDir", "name"],
      ["emptyDir", "name"],
    ]);
  });

  it("holds the same fixed addresses as the gateway's and the callback Services", () => {
    const services = [...chart("egress-gateway"), ...chart("api")].filter((o) => o.kind === "Service") as any[];
    const ipOf = (name: string) => services.find((s) => s.metadata.name === name)?.spec.clusterIP;
    expect(pod.hostAliases.map((h: { ip: string }) => h.ip)).toEqual([ipOf("egress-gateway"), ipOf("api-callback")]);
  });

  it("bounds a runner's lifetime", () => {
    expect(pod.activeDeadlineSeconds).toBe(3600);
    expect(pod.restartPolicy).toBe("Never");
  });

  it("enforces the template with a ValidatingAdmissionPolicy bound to the runners namespace", () => {
    const policy = find("ValidatingAdmissionPolicy", "plue-runner-sandbox");
    expect(policy.apiVersion).toBe("admissionregistration.k8s.io/v1");
    expect(policy.spec.failurePolicy).toBe("Fail");
    expect(policy.spec.matchConstraints.resourceRules).toEqual([
      { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["pods"] },
    ]);
    const binding = find("ValidatingAdmissionPolicyBinding", "plue-runner-sandbox");
    expect(binding.spec).toEqual({
      policyName: "plue-runner-sandbox",
      validationActions: ["Deny"],
      matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "runners" } } },
    });
  });

  it("rejects pods lacking gVisor, the security context or limits (one rule each)", () => {
    const exprs: string[] = find("ValidatingAdmissionPolicy", "plue-runner-sandbox").spec.validations.map(
      (v: { expression: string }) => v.expression,
    );
    // The template's twelve rules, then the seven that keep Secrets, tokens and DNS out.
    expect(exprs).toHaveLength(12 + 7);
    expect(exprs.slice(12)).toEqual(RUNNER_SECRET_RULES.map((r) => r.expression));
    for (const needle of [
      "runtimeClassName == 'gvisor'",
      "runAsNonRoot == true",
      "seccompProfile.type == 'RuntimeDefault'",
      "readOnlyRootFilesystem == true",
      "allowPrivilegeEscalation == false",
      "'ALL' in c.securityContext.capabilities.drop",
      "'cpu' in c.resources.limits && 'memory' in c.resources.limits",
      "automountServiceAccountToken == false",
      "object.spec.activeDeadlineSeconds <= 3600",
    ]) {
      expect(
        exprs.some((e) => e.includes(needle)),
        needle,
      ).toBe(true);
    }
    // Init containers are checked too.
    expect(find("ValidatingAdmissionPolicy", "plue-runner-sandbox").spec.variables[0].expression).toContain("initContainers");
  });

  it("keeps pods of every namespace but runners and the system ones off the gVisor pool", () => {
    const policy = find("ValidatingAdmissionPolicy", "plue-sandbox-pool-reserved");
    expect(policy.spec.validations.map((v: { expression: string }) => v.expression).join(" ")).toContain("sandbox.gke.io/runtime");
    const binding = find("ValidatingAdmissionPolicyBinding", "plue-sandbox-pool-reserved");
    const [selector] = binding.spec.matchResources.namespaceSelector.matchExpressions;
    expect(selector.operator).toBe("NotIn");
    expect(selector.values).toContain("runners");
    expect(selector.values).toContain("kube-system");
    for (const ns of ["api", "external-secrets", "default"]) expect(selector.values).not.toContain(ns);
  });

  it("caps the namespace with a ResourceQuota: pod count, compute, and no services or volumes", () => {
    const hard = find("ResourceQuota", "runner-quota").spec.hard;
    // Five runners: what five n2-standard-4 sandbox nodes can hold (one 2-CPU runner each); the
    // config refuses a quota the pool cannot run (docs/adr/0010, item 12).
    expect(hard).toEqual({
      pods: "5",
      "requests.cpu": "10",
      "limits.cpu": "10",
      "requests.memory": "20Gi",
      "limits.memory": "20Gi",
      "requests.ephemeral-storage": "10Gi",
      "limits.ephemeral-storage": "10Gi",
      services: "0",
      "services.loadbalancers": "0",
      "services.nodeports": "0",
      persistentvolumeclaims: "0",
    });
  });

  it("defaults and caps container resources with a LimitRange", () => {
    const [limit] = find("LimitRange", "runner-limits").spec.limits;
    expect(limit.max).toEqual({ cpu: "2", memory: "4Gi", "ephemeral-storage": "2Gi" });
    expect(limit.default).toEqual(limit.max);
  });

  it("lets only the API's service account manage runner pods, in this namespace only", () => {
    const binding = find("RoleBinding", "runner-manager-api");
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "api", namespace: "api" }]);
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "runner-manager" });
    const rules = find("Role", "runner-manager").rules;
    const verbs = rules.flatMap((r: { verbs: string[] }) => r.verbs);
    expect(verbs).not.toContain("*");
    expect(verbs).not.toContain("escalate");
    expect(rules.flatMap((r: { resources: string[] }) => r.resources)).not.toContain("pods/exec");
    const clusterWide = objects.filter((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding");
    expect(clusterWide).toEqual([]);
  });
});

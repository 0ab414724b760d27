/**
 * The ValidatingAdmissionPolicies, run for real: their CEL expressions (as synthesized) are
 * evaluated by a CEL interpreter against the runner template's pod and against pods that
 * drift from it. A pod is admitted only when every validation is true (an evaluation error
 * rejects too: failurePolicy Fail).
 */
import { evaluate } from "@marcbachmann/cel-js";
import { describe, expect, it } from "vitest";
import { chart } from "../support/plan.ts";
import { smuggledRunnerPods } from "../support/runner-pods.ts";

type Pod = { metadata: Record<string, unknown>; spec: Record<string, any> };
interface Policy {
  spec: { variables?: { name: string; expression: string }[]; validations: { expression: string; message: string }[] };
}

const objects = chart("runner-sandbox");
const policy = (name: string): Policy =>
  objects.find((o) => o.kind === "ValidatingAdmissionPolicy" && o.metadata.name === name) as unknown as Policy;
const runnerPolicy = policy("plue-runner-sandbox");
const reservedPolicy = policy("plue-sandbox-pool-reserved");

/** The messages of the validations that reject `pod` ([] = admitted). */
function rejections(p: Policy, pod: Pod, operation: "CREATE" | "UPDATE" = "CREATE"): string[] {
  const request = { operation };
  const variables: Record<string, unknown> = {};
  for (const v of p.spec.variables ?? []) variables[v.name] = evaluate(v.expression, { object: pod, variables, request });
  return p.spec.validations.flatMap((v) => {
    try {
      return evaluate(v.expression, { object: pod, variables, request }) === true ? [] : [v.message];
    } catch {
      return [v.message];
    }
  });
}

const template = (objects.find((o) => o.kind === "PodTemplate") as any).template;
const runnerPod = (): Pod => structuredClone({ metadata: template.metadata, spec: template.spec });
const apiPod = (): Pod => {
  const d = chart("api").find((o) => o.kind === "Deployment") as any;
  return structuredClone({ metadata: d.spec.template.metadata, spec: d.spec.template.spec });
};

const drifts: Record<string, (pod: Pod) => void> = {
  "no runtimeClassName": (p) => delete p.spec.runtimeClassName,
  "runtimeClassName runc": (p) => (p.spec.runtimeClassName = "runc"),
  "no sandbox nodeSelector": (p) => delete p.spec.nodeSelector,
  "a service-account token": (p) => (p.spec.automountServiceAccountToken = true),
  "token automount unset": (p) => delete p.spec.automountServiceAccountToken,
  "the host network": (p) => (p.spec.hostNetwork = true),
  "no deadline": (p) => delete p.spec.activeDeadlineSeconds,
  "a deadline past the maximum run time": (p) => (p.spec.activeDeadlineSeconds = 86400),
  "runAsNonRoot false": (p) => (p.spec.securityContext.runAsNonRoot = false),
  "no pod securityContext": (p) => delete p.spec.securityContext,
  "seccomp Unconfined": (p) => (p.spec.securityContext.seccompProfile = { type: "Unconfined" }),
  "a writable root filesystem": (p) => (p.spec.containers[0].securityContext.readOnlyRootFilesystem = false),
  "privilege escalation": (p) => (p.spec.containers[0].securityContext.allowPrivilegeEscalation = true),
  "an added capability": (p) => (p.spec.containers[0].securityContext.capabilities.add = ["NET_RAW"]),
  "capabilities not dropped": (p) => (p.spec.containers[0].securityContext.capabilities.drop = []),
  "a privileged container": (p) => (p.spec.containers[0].securityContext.privileged = true),
  "no container securityContext": (p) => delete p.spec.containers[0].securityContext,
  "no limits": (p) => delete p.spec.containers[0].resources.limits,
  "no ephemeral-storage limit": (p) => delete p.spec.containers[0].resources.limits["ephemeral-storage"],
  "an unhardened init container": (p) => (p.spec.initContainers = [{ name: "init", image: "busybox" }]),
  "a second unhardened container": (p) =>
    p.spec.containers.push({ name: "sidecar", image: "busybox", resources: p.spec.containers[0].resources }),
};

describe("runner admission policy (CEL evaluated)", () => {
  it("admits the runner template's own pod", () => {
    expect(rejections(runnerPolicy, runnerPod())).toEqual([]);
  });

  it("admits a compliant pod that differs in what the policy does not govern", () => {
    const pod = runnerPod();
    pod.spec.containers[0].image = `ghcr.io/plue/other@sha256:${"1".repeat(64)}`;
    pod.spec.containers[0].env = [{ name: "TASK_ID", value: "42" }];
    expect(rejections(runnerPolicy, pod)).toEqual([]);
  });

  for (const [what, drift] of Object.entries(drifts)) {
    it(`rejects a runner pod with ${what}`, () => {
      const pod = runnerPod();
      drift(pod);
      expect(rejections(runnerPolicy, pod).length).toBeGreaterThan(0);
    });
  }

  it("admits the template with no DNS: dnsPolicy None and only the loopback nameserver", () => {
    expect([runnerPod().spec.dnsPolicy, runnerPod().spec.dnsConfig]).toEqual(["None", { nameservers: ["127.0.0.1"] }]);
  });

  // Each way of giving a runner a Secret, a token or DNS, denied by the synthesized policy for
  // exactly the rule it breaks (and nothing else of the template changed).
  for (const [what, [change, expected]] of Object.entries(smuggledRunnerPods(template))) {
    it(`rejects a runner pod with ${what}`, () => {
      const pod = runnerPod();
      change(pod);
      expect(rejections(runnerPolicy, pod)).toEqual(expected);
    });
  }
});

describe("sandbox-pool reservation policy (CEL evaluated)", () => {
  it("admits the API's pod", () => {
    expect(rejections(reservedPolicy, apiPod())).toEqual([]);
  });

  it("admits ordinary tolerations", () => {
    const pod = apiPod();
    pod.spec.tolerations = [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 }];
    expect(rejections(reservedPolicy, pod)).toEqual([]);
  });

  it("rejects a pod asking for gVisor outside runners", () => {
    const pod = apiPod();
    pod.spec.runtimeClassName = "gvisor";
    expect(rejections(reservedPolicy, pod)).toEqual(["only pods in the runners namespace may use the gVisor runtime"]);
  });

  it("rejects a pod created with spec.nodeName (it would skip the scheduler and the taint), but not its later updates", () => {
    const pod = apiPod();
    pod.spec.nodeName = "gke-plue-gke-sandbox-1234";
    expect(rejections(reservedPolicy, pod)).toEqual([
      "pods may not be created with spec.nodeName (it bypasses scheduling and the gVisor pool's taint)",
    ]);
    expect(rejections(reservedPolicy, pod, "UPDATE")).toEqual([]);
  });

  it("rejects a pod tolerating the sandbox taint, or every taint", () => {
    for (const toleration of [
      { key: "sandbox.gke.io/runtime", operator: "Equal", value: "gvisor", effect: "NoSchedule" },
      { key: "sandbox.gke.io/runtime", operator: "Exists" },
      { operator: "Exists" },
    ]) {
      const pod = apiPod();
      pod.spec.tolerations = [toleration];
      expect(rejections(reservedPolicy, pod), JSON.stringify(toleration)).toEqual([
        "only pods in the runners namespace may tolerate the gVisor pool's taint",
      ]);
    }
  });
});

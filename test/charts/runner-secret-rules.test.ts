/**
 * The runner Secret and DNS rules, run for real: their CEL (as the policy will carry it) is
 * evaluated by the CEL interpreter, with the runner policy's own `containers` variable from the
 * synthesized plan, against the runner template's pod as synthesized (dnsPolicy None, loopback
 * nameserver) and against one pod per way of giving a runner a Secret, a token or DNS.
 * An evaluation error counts as a denial (the policy fails closed).
 */
import { evaluate } from "@marcbachmann/cel-js";
import { describe, expect, it } from "vitest";
import { RUNNER_DNS_NAMESERVER, RUNNER_SECRET_RULES, type AdmissionRule } from "../../charts/runner-secret-rules.ts";
import { chart } from "../support/plan.ts";
import { DNS_POLICY, NAMESERVERS, type RunnerPod, smuggledRunnerPods } from "../support/runner-pods.ts";

type Pod = RunnerPod;
interface Policy {
  spec: { variables: { name: string; expression: string }[]; validations: AdmissionRule[] };
}

const runnerObjects = chart("runner-sandbox");
const runnerPolicy = runnerObjects.find(
  (o) => o.kind === "ValidatingAdmissionPolicy" && o.metadata.name === "plue-runner-sandbox",
) as unknown as Policy;
const template = (runnerObjects.find((o) => o.kind === "PodTemplate") as any).template;

/** The messages of the rules that reject `pod`, evaluated with the runner policy's variables ([] = admitted). */
function rejections(rules: readonly AdmissionRule[], pod: Pod): string[] {
  const variables: Record<string, unknown> = {};
  const context = { object: pod, variables, request: { operation: "CREATE" } };
  for (const v of runnerPolicy.spec.variables) variables[v.name] = evaluate(v.expression, context);
  return rules.flatMap((rule) => {
    try {
      return evaluate(rule.expression, context) === true ? [] : [rule.message];
    } catch {
      return [rule.message];
    }
  });
}

/** The runner template's pod, exactly as synthesized. */
const admittedPod = (): Pod => structuredClone({ metadata: template.metadata, spec: template.spec }) as Pod;

describe("runner Secret and DNS rules (CEL evaluated)", () => {
  it("admits the runner template's pod as synthesized (dnsPolicy None, the loopback nameserver), under these rules and the whole runner policy", () => {
    expect(admittedPod().spec.dnsPolicy).toBe("None");
    expect(admittedPod().spec.dnsConfig).toEqual({ nameservers: [RUNNER_DNS_NAMESERVER] });
    expect(rejections(RUNNER_SECRET_RULES, admittedPod())).toEqual([]);
    expect(rejections(runnerPolicy.spec.validations, admittedPod())).toEqual([]);
  });

  it("rejects the template with the cluster's DNS back (dnsPolicy ClusterFirst, no dnsConfig) for exactly its DNS", () => {
    const pod = admittedPod();
    pod.spec.dnsPolicy = "ClusterFirst";
    delete pod.spec.dnsConfig;
    expect(rejections(RUNNER_SECRET_RULES, pod)).toEqual([DNS_POLICY, NAMESERVERS]);
  });

  it("admits what is not a credential: plain env, env from a ConfigMap, configMap, downwardAPI and their projections", () => {
    const pod = admittedPod();
    pod.spec.containers[0].env = [
      { name: "TASK_ID", value: "42" },
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "SETTING", valueFrom: { configMapKeyRef: { name: "runner-settings", key: "x" } } },
    ];
    pod.spec.containers[0].envFrom = [{ configMapRef: { name: "runner-settings" } }];
    pod.spec.volumes.push(
      { name: "settings", configMap: { name: "runner-settings" } },
      { name: "podinfo", downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }] } },
      {
        name: "projected",
        projected: {
          sources: [
            { configMap: { name: "runner-settings" } },
            { downwardAPI: { items: [{ path: "name", fieldRef: { fieldPath: "metadata.name" } }] } },
          ],
        },
      },
    );
    pod.spec.hostAliases = [{ ip: "10.20.0.64", hostnames: ["anthropic-gateway"] }];
    expect(rejections(RUNNER_SECRET_RULES, pod)).toEqual([]);
  });

  const smuggled = smuggledRunnerPods(template);

  for (const [what, [change, expected]] of Object.entries(smuggled)) {
    it(`rejects a runner pod with ${what}`, () => {
      const pod = admittedPod();
      change(pod);
      expect(rejections(RUNNER_SECRET_RULES, pod)).toEqual(expected);
    });
  }
});

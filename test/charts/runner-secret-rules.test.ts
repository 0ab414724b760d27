/**
 * The runner Secret and DNS rules, run for real: their CEL (as the policy will carry it) is
 * evaluated by the CEL interpreter, with the runner policy's own `containers` variable from the
 * synthesized plan, against the runner template's pod as phase 2 will make it (dnsPolicy None,
 * loopback nameserver) and against one pod per way of giving a runner a Secret, a token or DNS.
 * An evaluation error counts as a denial (the policy fails closed).
 */
import { evaluate } from "@marcbachmann/cel-js";
import { describe, expect, it } from "vitest";
import { RUNNER_DNS_NAMESERVER, RUNNER_SECRET_RULES, type AdmissionRule } from "../../charts/runner-secret-rules.ts";
import { chart } from "../support/plan.ts";

type Pod = { metadata: Record<string, unknown>; spec: Record<string, any> };
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

const message = (start: string): string => {
  const found = RUNNER_SECRET_RULES.filter((r) => r.message.startsWith(start));
  expect(found, start).toHaveLength(1);
  return (found[0] as AdmissionRule).message;
};
const SECRET_ENV = message("runner containers must not read a Secret");
const SECRET_ENV_FROM = message("runner containers must not load a Secret");
const SECRET_VOLUME = message("runner pods must not mount a Secret");
const PROJECTED = message("runner pods must not project");
const VOLUME_KINDS = message("runner pods may only use");
const DNS_POLICY = message("runner pods must set dnsPolicy");
const NAMESERVERS = message("runner pods must list no nameserver");

/** The runner template's pod with the DNS settings phase 2 gives the template. */
const admittedPod = (): Pod => {
  const pod = structuredClone({ metadata: template.metadata, spec: template.spec }) as Pod;
  pod.spec.dnsPolicy = "None";
  pod.spec.dnsConfig = { nameservers: [RUNNER_DNS_NAMESERVER] };
  return pod;
};
const hardenedInit = () => ({ ...structuredClone(template.spec.containers[0]), name: "init" });

describe("runner Secret and DNS rules (CEL evaluated)", () => {
  it("admits the runner template's pod with dnsPolicy None and the loopback nameserver, under these rules and the whole runner policy", () => {
    expect(rejections(RUNNER_SECRET_RULES, admittedPod())).toEqual([]);
    expect(rejections([...runnerPolicy.spec.validations, ...RUNNER_SECRET_RULES], admittedPod())).toEqual([]);
  });

  it("rejects today's runner template for its DNS only (phase 2 sets dnsPolicy None there)", () => {
    const today = structuredClone({ metadata: template.metadata, spec: template.spec }) as Pod;
    expect(rejections(RUNNER_SECRET_RULES, today)).toEqual([DNS_POLICY, NAMESERVERS]);
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

  const smuggled: Record<string, [(pod: Pod) => void, string[]]> = {
    "an env var from a Secret": [
      (p) => {
        p.spec.containers[0].env = [
          { name: "ANTHROPIC_API_KEY", valueFrom: { secretKeyRef: { name: "api-env", key: "ANTHROPIC_API_KEY" } } },
        ];
      },
      [SECRET_ENV],
    ],
    "an env var from a Secret in an init container": [
      (p) => {
        p.spec.initContainers = [{ ...hardenedInit(), env: [{ name: "K", valueFrom: { secretKeyRef: { name: "api-env", key: "K" } } }] }];
      },
      [SECRET_ENV],
    ],
    "envFrom a Secret": [
      (p) => {
        p.spec.containers[0].envFrom = [{ configMapRef: { name: "ok" } }, { secretRef: { name: "api-env" } }];
      },
      [SECRET_ENV_FROM],
    ],
    "envFrom a Secret in an init container": [
      (p) => {
        p.spec.initContainers = [{ ...hardenedInit(), envFrom: [{ secretRef: { name: "api-env" } }] }];
      },
      [SECRET_ENV_FROM],
    ],
    "a Secret volume": [
      (p) => {
        p.spec.volumes.push({ name: "key", secret: { secretName: "egress-gateway-upstream-auth" } });
      },
      [SECRET_VOLUME, VOLUME_KINDS],
    ],
    "a projected Secret": [
      (p) => {
        p.spec.volumes.push({ name: "key", projected: { sources: [{ configMap: { name: "ok" } }, { secret: { name: "api-env" } }] } });
      },
      [PROJECTED, VOLUME_KINDS],
    ],
    "a projected service-account token": [
      (p) => {
        p.spec.volumes.push({ name: "token", projected: { sources: [{ serviceAccountToken: { path: "token", audience: "api" } }] } });
      },
      [PROJECTED, VOLUME_KINDS],
    ],
    "a CSI volume (e.g. the Secret Manager CSI driver)": [
      (p) => {
        p.spec.volumes.push({
          name: "sm",
          csi: { driver: "secrets-store-gke.csi.k8s.io", volumeAttributes: { secretProviderClass: "x" } },
        });
      },
      [VOLUME_KINDS],
    ],
    "a persistent volume claim": [
      (p) => {
        p.spec.volumes.push({ name: "data", persistentVolumeClaim: { claimName: "data" } });
      },
      [VOLUME_KINDS],
    ],
    "dnsPolicy ClusterFirst": [
      (p) => {
        p.spec.dnsPolicy = "ClusterFirst";
      },
      [DNS_POLICY],
    ],
    "dnsPolicy Default (the node's resolver)": [
      (p) => {
        p.spec.dnsPolicy = "Default";
      },
      [DNS_POLICY],
    ],
    "dnsPolicy ClusterFirstWithHostNet": [
      (p) => {
        p.spec.dnsPolicy = "ClusterFirstWithHostNet";
      },
      [DNS_POLICY],
    ],
    "no dnsPolicy": [
      (p) => {
        delete p.spec.dnsPolicy;
      },
      [DNS_POLICY],
    ],
    "kube-dns as nameserver under dnsPolicy None": [
      (p) => {
        p.spec.dnsConfig = { nameservers: ["10.20.0.10"] };
      },
      [NAMESERVERS],
    ],
    "a public resolver beside the loopback one": [
      (p) => {
        p.spec.dnsConfig = { nameservers: [RUNNER_DNS_NAMESERVER, "8.8.8.8"] };
      },
      [NAMESERVERS],
    ],
    "no dnsConfig": [
      (p) => {
        delete p.spec.dnsConfig;
      },
      [NAMESERVERS],
    ],
  };

  for (const [what, [change, expected]] of Object.entries(smuggled)) {
    it(`rejects a runner pod with ${what}`, () => {
      const pod = admittedPod();
      change(pod);
      expect(rejections(RUNNER_SECRET_RULES, pod)).toEqual(expected);
    });
  }
});

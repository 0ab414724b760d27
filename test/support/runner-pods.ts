/**
 * Every way of giving a runner pod a Secret, a service-account token or DNS, each with the
 * messages of the runner Secret and DNS rules that must deny it: shared by the rules' own test
 * (runner-secret-rules.test.ts) and the synthesized runner policy's (admission-policy.test.ts).
 */
import { type AdmissionRule, RUNNER_DNS_NAMESERVER, RUNNER_SECRET_RULES } from "../../charts/runner-secret-rules.ts";

/** A pod as the admission policy sees it. */
export type RunnerPod = { metadata: Record<string, unknown>; spec: Record<string, any> };

/** The message of the one rule whose message starts with `start`. */
function message(start: string): string {
  const found = RUNNER_SECRET_RULES.filter((r) => r.message.startsWith(start));
  if (found.length !== 1) throw new Error(`${found.length} rules start with "${start}"`);
  return (found[0] as AdmissionRule).message;
}
export const SECRET_ENV = message("runner containers must not read a Secret");
export const SECRET_ENV_FROM = message("runner containers must not load a Secret");
export const SECRET_VOLUME = message("runner pods must not mount a Secret");
export const PROJECTED = message("runner pods must not project");
export const VOLUME_KINDS = message("runner pods may only use");
export const DNS_POLICY = message("runner pods must set dnsPolicy");
export const NAMESERVERS = message("runner pods must list no nameserver");

/** Each smuggling change to an admitted runner pod, and the messages that deny it (in rule order). */
export function smuggledRunnerPods(template: { readonly spec: Record<string, any> }): Record<string, [(pod: RunnerPod) => void, string[]]> {
  const hardenedInit = () => ({ ...structuredClone(template.spec.containers[0]), name: "init" });
  return {
    "an env var from a Secret": [
      (p: RunnerPod) => {
        p.spec.containers[0].env = [
          { name: "ANTHROPIC_API_KEY", valueFrom: { secretKeyRef: { name: "api-env", key: "ANTHROPIC_API_KEY" } } },
        ];
      },
      [SECRET_ENV],
    ],
    "an env var from a Secret in an init container": [
      (p: RunnerPod) => {
        p.spec.initContainers = [{ ...hardenedInit(), env: [{ name: "K", valueFrom: { secretKeyRef: { name: "api-env", key: "K" } } }] }];
      },
      [SECRET_ENV],
    ],
    "envFrom a Secret": [
      (p: RunnerPod) => {
        p.spec.containers[0].envFrom = [{ configMapRef: { name: "ok" } }, { secretRef: { name: "api-env" } }];
      },
      [SECRET_ENV_FROM],
    ],
    "envFrom a Secret in an init container": [
      (p: RunnerPod) => {
        p.spec.initContainers = [{ ...hardenedInit(), envFrom: [{ secretRef: { name: "api-env" } }] }];
      },
      [SECRET_ENV_FROM],
    ],
    "a Secret volume": [
      (p: RunnerPod) => {
        p.spec.volumes.push({ name: "key", secret: { secretName: "egress-gateway-upstream-auth" } });
      },
      [SECRET_VOLUME, VOLUME_KINDS],
    ],
    "a projected Secret": [
      (p: RunnerPod) => {
        p.spec.volumes.push({ name: "key", projected: { sources: [{ configMap: { name: "ok" } }, { secret: { name: "api-env" } }] } });
      },
      [PROJECTED, VOLUME_KINDS],
    ],
    "a projected service-account token": [
      (p: RunnerPod) => {
        p.spec.volumes.push({ name: "token", projected: { sources: [{ serviceAccountToken: { path: "token", audience: "api" } }] } });
      },
      [PROJECTED, VOLUME_KINDS],
    ],
    "a CSI volume (e.g. the Secret Manager CSI driver)": [
      (p: RunnerPod) => {
        p.spec.volumes.push({
          name: "sm",
          csi: { driver: "secrets-store-gke.csi.k8s.io", volumeAttributes: { secretProviderClass: "x" } },
        });
      },
      [VOLUME_KINDS],
    ],
    "a persistent volume claim": [
      (p: RunnerPod) => {
        p.spec.volumes.push({ name: "data", persistentVolumeClaim: { claimName: "data" } });
      },
      [VOLUME_KINDS],
    ],
    "dnsPolicy ClusterFirst": [
      (p: RunnerPod) => {
        p.spec.dnsPolicy = "ClusterFirst";
      },
      [DNS_POLICY],
    ],
    "dnsPolicy Default (the node's resolver)": [
      (p: RunnerPod) => {
        p.spec.dnsPolicy = "Default";
      },
      [DNS_POLICY],
    ],
    "dnsPolicy ClusterFirstWithHostNet": [
      (p: RunnerPod) => {
        p.spec.dnsPolicy = "ClusterFirstWithHostNet";
      },
      [DNS_POLICY],
    ],
    "no dnsPolicy": [
      (p: RunnerPod) => {
        delete p.spec.dnsPolicy;
      },
      [DNS_POLICY],
    ],
    "kube-dns as nameserver under dnsPolicy None": [
      (p: RunnerPod) => {
        p.spec.dnsConfig = { nameservers: ["10.20.0.10"] };
      },
      [NAMESERVERS],
    ],
    "a public resolver beside the loopback one": [
      (p: RunnerPod) => {
        p.spec.dnsConfig = { nameservers: [RUNNER_DNS_NAMESERVER, "8.8.8.8"] };
      },
      [NAMESERVERS],
    ],
    "no dnsConfig": [
      (p: RunnerPod) => {
        delete p.spec.dnsConfig;
      },
      [NAMESERVERS],
    ],
  };
}

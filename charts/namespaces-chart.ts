import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { k8s } from "./k8s-object.ts";

/** Namespaces the workloads chart owns (External Secrets' namespace belongs to the platform stack). */
export const WORKLOAD_NAMESPACES = ["api", "runners"] as const;

/** Pod Security Admission labels: `restricted`, enforced, audited and warned. */
export const RESTRICTED_PSA_LABELS: Readonly<Record<string, string>> = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/enforce-version": "latest",
  "pod-security.kubernetes.io/audit": "restricted",
  "pod-security.kubernetes.io/warn": "restricted",
};

/** Props of {@link NamespacesChart}. */
export interface NamespacesChartProps {
  /** `app.kubernetes.io/part-of` label of every object (the environment's name prefix). */
  readonly partOf: string;
}

/**
 * Namespaces with Pod Security Admission `restricted` and a default-deny NetworkPolicy
 * (ingress and egress) in each; every allowed flow is added by a named policy elsewhere.
 * @see https://kubernetes.io/docs/concepts/security/pod-security-admission/
 * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-and-all-egress-traffic
 */
export class NamespacesChart extends Chart {
  constructor(scope: Construct, id: string, props: NamespacesChartProps) {
    super(scope, id, { disableResourceNameHashes: true, labels: { "app.kubernetes.io/part-of": props.partOf } });
    for (const ns of WORKLOAD_NAMESPACES) {
      k8s<INamespace>(this, `ns-${ns}`, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: ns, labels: { ...RESTRICTED_PSA_LABELS, "kubernetes.io/metadata.name": ns } },
      });
      k8s<INetworkPolicy>(this, `default-deny-${ns}`, {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "default-deny-all", namespace: ns },
        spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
      });
    }
  }
}

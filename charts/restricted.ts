/**
 * The restricted security settings every Plue container and pod carries, written out in full
 * (Pod Security Standards "restricted", plus a read-only root filesystem and a fixed non-root
 * user). cdk8s-plus-28's L2 defaults leave out `seccompProfile` and `capabilities.drop`, so the
 * charts write these values out on typed objects instead (docs/adr/0006).
 * @see https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 */
import type { IAffinity } from "kubernetes-models/v1/Affinity";
import type { IPodSecurityContext } from "kubernetes-models/v1/PodSecurityContext";
import type { IResourceRequirements } from "kubernetes-models/v1/ResourceRequirements";
import type { ISecurityContext } from "kubernetes-models/v1/SecurityContext";
import type { IToleration } from "kubernetes-models/v1/Toleration";
import type { INetworkPolicyPeer } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer";
import type { INetworkPolicyPort } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort";
import { K8S } from "../config/names.ts";

/** The non-root user and group every Plue container runs as. */
export const NON_ROOT_UID = 1000;

/** Pod-level: non-root user, RuntimeDefault seccomp. */
export function restrictedPodSecurityContext(uid: number = NON_ROOT_UID): IPodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Container-level: no privilege, no escalation, no capabilities, read-only root filesystem. */
export function restrictedContainerSecurityContext(uid: number = NON_ROOT_UID): ISecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Requests equal to limits (Guaranteed QoS) for cpu, memory and ephemeral storage. */
export function guaranteedResources(r: {
  readonly cpu: string;
  readonly memory: string;
  readonly ephemeralStorage: string;
}): IResourceRequirements {
  const q = { cpu: r.cpu, memory: r.memory, "ephemeral-storage": r.ephemeralStorage };
  return { requests: q, limits: { ...q } };
}

/** Node affinity that keeps a pod off the gVisor pool (GKE labels those nodes). */
export const NOT_ON_SANDBOX_NODES: IAffinity = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchExpressions: [{ key: K8S.sandboxNodeLabel, operator: "DoesNotExist" }] }],
    },
  },
};

/** Toleration of the taint GKE puts on gVisor nodes. */
export const SANDBOX_TOLERATION: IToleration = { key: K8S.sandboxNodeLabel, operator: "Equal", value: "gvisor", effect: "NoSchedule" };

/** kube-dns pods, the cluster's DNS servers. */
export const KUBE_DNS_PEER: INetworkPolicyPeer = {
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
  podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
};

/** The NodeLocal DNS cache's link-local address. */
export const NODE_LOCAL_DNS_IP = "169.254.20.10";

/** DNS over UDP and TCP. */
export const DNS_PORTS: INetworkPolicyPort[] = [
  { protocol: "UDP", port: 53 },
  { protocol: "TCP", port: 53 },
];

/** Egress rule peers for DNS: kube-dns, and the NodeLocal DNS cache when it is enabled. */
export function dnsPeers(nodeLocalDns: boolean): INetworkPolicyPeer[] {
  return nodeLocalDns ? [KUBE_DNS_PEER, { ipBlock: { cidr: `${NODE_LOCAL_DNS_IP}/32` } }] : [KUBE_DNS_PEER];
}

/** A TCP port for a NetworkPolicy rule. */
export function tcp(port: number): INetworkPolicyPort {
  return { protocol: "TCP", port };
}

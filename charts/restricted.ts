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
import type { ITopologySpreadConstraint } from "kubernetes-models/v1/TopologySpreadConstraint";
import { K8S } from "../lib/k8s-names.ts";

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

/** Requests (= limits) of one container: cpu, memory and ephemeral storage quantities. */
export interface ContainerResources {
  readonly cpu: string;
  readonly memory: string;
  readonly ephemeralStorage: string;
}

/** Requests equal to limits (Guaranteed QoS) for cpu, memory and ephemeral storage. */
export function guaranteedResources(r: ContainerResources): IResourceRequirements {
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

/**
 * Replicas spread over zones (strictly: one zone going down leaves the others serving) and, where
 * it can, over nodes.
 */
export function spreadOverZonesAndNodes(matchLabels: Readonly<Record<string, string>>): ITopologySpreadConstraint[] {
  return [
    {
      maxSkew: 1,
      topologyKey: "topology.kubernetes.io/zone",
      whenUnsatisfiable: "DoNotSchedule",
      labelSelector: { matchLabels: { ...matchLabels } },
    },
    {
      maxSkew: 1,
      topologyKey: "kubernetes.io/hostname",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels: { ...matchLabels } },
    },
  ];
}

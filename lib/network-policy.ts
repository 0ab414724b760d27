/**
 * NetworkPolicy building blocks shared by the charts and the External Secrets construct: the
 * cluster DNS peers and ports, and TCP ports.
 */
import type { INetworkPolicyPeer } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer";
import type { INetworkPolicyPort } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort";

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

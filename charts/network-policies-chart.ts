import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { INetworkPolicyEgressRule } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyEgressRule";
import type { INetworkPolicyIngressRule } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyIngressRule";
import { k8s } from "./k8s-object.ts";

type ILabelSelector = NonNullable<INetworkPolicy["spec"]>["podSelector"];
import { K8S } from "../lib/k8s-names.ts";
import { DNS_PORTS, dnsPeers, tcp } from "../lib/network-policy.ts";
import { GOOGLE_API_VIPS, GOOGLE_LB_RANGES, METADATA_SERVER_IP } from "../lib/ranges.ts";

/** Git over SSH as the API serves it. */
export interface SshIngress {
  /** Whether the API serves Git over SSH. */
  readonly enabled: boolean;
  /** The API container's SSH port. */
  readonly port: number;
  /** Source ranges allowed to reach it. */
  readonly sourceRanges: readonly string[];
}

/** Props of {@link NetworkPoliciesChart}. */
export interface NetworkPoliciesChartProps {
  /** `app.kubernetes.io/part-of` label of every object (the environment's name prefix). */
  readonly partOf: string;
  /** The API's HTTP port (the load balancer's target). */
  readonly apiPort: number;
  /** The API's runner callback port. */
  readonly callbackPort: number;
  /** The egress gateway runners reach the Anthropic API through: its namespace, pod labels and proxy port. */
  readonly gateway: {
    readonly namespace: string;
    readonly podLabels: Readonly<Record<string, string>>;
    readonly port: number;
  };
  /** Git over SSH ingress. */
  readonly ssh: SshIngress;
  /** Also allow the NodeLocal DNS cache address for the API's DNS. */
  readonly nodeLocalDns: boolean;
  /** Cloud SQL's private services range (the API's database egress). */
  readonly privateServicesCidr: string;
  /** The control plane's private range (the API's Kubernetes API egress). */
  readonly controlPlaneCidr: string;
}

/**
 * The allowed flows, on top of the default-deny policy in every namespace (namespaces chart).
 * Runner pods reach the egress gateway's proxy port (their only way to `api.anthropic.com`; the
 * gateway chart holds its own policies) and the API's callback port — nothing else: no DNS (an
 * exfiltration channel), not Anthropic directly, not the metadata server, the database, other
 * namespaces, or the internet. Nothing reaches a runner. The API accepts the load balancer on
 * its port and runners on the callback port, and reaches DNS, Cloud SQL, Google APIs, the
 * metadata server (Workload Identity) and the Kubernetes API (to start runners).
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/fqdn-network-policies
 */
export class NetworkPoliciesChart extends Chart {
  constructor(scope: Construct, id: string, props: NetworkPoliciesChartProps) {
    super(scope, id, { disableResourceNameHashes: true, labels: { "app.kubernetes.io/part-of": props.partOf } });
    const runners = K8S.namespaces.runners;
    const api = K8S.namespaces.api;
    const runnerPods: ILabelSelector = { matchLabels: { "app.kubernetes.io/name": K8S.apps.runner } };
    const apiPods: ILabelSelector = { matchLabels: { "app.kubernetes.io/name": K8S.apps.api } };
    const dns: INetworkPolicyEgressRule = { to: dnsPeers(props.nodeLocalDns), ports: DNS_PORTS };

    const egress = (name: string, namespace: string, podSelector: ILabelSelector, rules: INetworkPolicyEgressRule[]) =>
      k8s<INetworkPolicy>(this, `${namespace}-${name}`, {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name, namespace },
        spec: { podSelector, policyTypes: ["Egress"], egress: rules },
      });
    const ingress = (name: string, namespace: string, podSelector: ILabelSelector, rules: INetworkPolicyIngressRule[]) =>
      k8s<INetworkPolicy>(this, `${namespace}-${name}`, {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name, namespace },
        spec: { podSelector, policyTypes: ["Ingress"], ingress: rules },
      });

    // --- runners: egress to two pods only, no DNS, no ingress rule at all ------------------
    // (A Service's cluster IP is translated to the pod before policy applies: these rules name
    // the pods and their ports, which the Services' ports equal.)
    egress("runner-egress-gateway", runners, runnerPods, [
      {
        to: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": props.gateway.namespace } },
            podSelector: { matchLabels: { ...props.gateway.podLabels } },
          },
        ],
        ports: [tcp(props.gateway.port)],
      },
    ]);
    egress("runner-egress-api-callback", runners, runnerPods, [
      {
        to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": api } }, podSelector: apiPods }],
        ports: [tcp(props.callbackPort)],
      },
    ]);

    // --- api ----------------------------------------------------------------------------
    ingress("api-ingress-load-balancer", api, apiPods, [
      { from: GOOGLE_LB_RANGES.map((cidr) => ({ ipBlock: { cidr } })), ports: [tcp(props.apiPort)] },
    ]);
    ingress("api-ingress-runner-callback", api, apiPods, [
      {
        from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": runners } }, podSelector: runnerPods }],
        ports: [tcp(props.callbackPort)],
      },
    ]);
    if (props.ssh.enabled) {
      ingress("api-ingress-ssh", api, apiPods, [
        { from: props.ssh.sourceRanges.map((cidr) => ({ ipBlock: { cidr } })), ports: [tcp(props.ssh.port)] },
      ]);
    }
    egress("api-egress-dns", api, apiPods, [dns]);
    egress("api-egress-cloud-sql", api, apiPods, [{ to: [{ ipBlock: { cidr: props.privateServicesCidr } }], ports: [tcp(5432)] }]);
    egress("api-egress-google", api, apiPods, [
      { to: GOOGLE_API_VIPS.map((cidr) => ({ ipBlock: { cidr } })), ports: [tcp(443)] },
      // The GKE metadata server (Workload Identity tokens) answers on port 80 under Dataplane V2.
      { to: [{ ipBlock: { cidr: `${METADATA_SERVER_IP}/32` } }], ports: [tcp(80)] },
    ]);
    k8s(this, "api-api-egress-google-fqdn", {
      apiVersion: "networking.gke.io/v1alpha1",
      kind: "FQDNNetworkPolicy",
      metadata: { name: "api-egress-google-fqdn", namespace: api },
      spec: {
        podSelector: apiPods,
        egress: [{ matches: [{ pattern: "*.googleapis.com" }], ports: [{ protocol: "TCP", port: 443 }] }],
      },
    });
    // The API server's private endpoint lives in the control plane range; Dataplane V2
    // applies policy after the kubernetes.default Service is translated to it.
    egress("api-egress-kubernetes-api", api, apiPods, [{ to: [{ ipBlock: { cidr: props.controlPlaneCidr } }], ports: [tcp(443)] }]);
  }
}

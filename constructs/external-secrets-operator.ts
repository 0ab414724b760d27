import { Construct } from "constructs";
import { stringify } from "yaml";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { INetworkPolicyEgressRule } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyEgressRule";
import type { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import type { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { Release } from "@cdktf/provider-helm/lib/release";
import { ServiceAccountIamMember } from "@cdktf/provider-google/lib/service-account-iam-member";
import { DNS_PORTS, dnsPeers, tcp } from "../lib/network-policy.ts";
import { GOOGLE_API_VIPS } from "../lib/ranges.ts";

/** Where the chart comes from. */
export const EXTERNAL_SECRETS_CHART = { repository: "https://charts.external-secrets.io", chart: "external-secrets" } as const;

/** Helm release name; the chart derives its pods' `app.kubernetes.io/name` labels from it. */
export const EXTERNAL_SECRETS_RELEASE = "external-secrets";

/** Pod labels the chart sets on each component (release `external-secrets`). */
export const OPERATOR_POD_LABELS = {
  controller: { "app.kubernetes.io/name": "external-secrets", "app.kubernetes.io/instance": EXTERNAL_SECRETS_RELEASE },
  webhook: { "app.kubernetes.io/name": "external-secrets-webhook", "app.kubernetes.io/instance": EXTERNAL_SECRETS_RELEASE },
  certController: { "app.kubernetes.io/name": "external-secrets-cert-controller", "app.kubernetes.io/instance": EXTERNAL_SECRETS_RELEASE },
} as const;

/** Port the validating webhook listens on (chart value `webhook.port`; a port GKE's control plane may reach). */
export const WEBHOOK_PORT = 10250;

/**
 * The Google APIs the controller calls with Workload Identity through a service account
 * reference (ESO v2 `providers/v1/gcp/secretmanager`): the identity binding token
 * (securetoken), the service account's access token (iamcredentials), then Secret Manager.
 */
export const GOOGLE_API_HOSTS = ["iamcredentials.googleapis.com", "secretmanager.googleapis.com", "securetoken.googleapis.com"] as const;

/** Requests and limits of one container. */
export interface ComponentResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

/** Resources of the three components. */
export interface OperatorResources {
  readonly controller: ComponentResources;
  readonly webhook: ComponentResources;
  readonly certController: ComponentResources;
}

/** Default resources: small requests, memory limits with headroom for a few hundred secrets. */
export const DEFAULT_OPERATOR_RESOURCES: OperatorResources = {
  controller: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
  webhook: { requests: { cpu: "20m", memory: "64Mi" }, limits: { cpu: "200m", memory: "256Mi" } },
  certController: { requests: { cpu: "20m", memory: "64Mi" }, limits: { cpu: "200m", memory: "256Mi" } },
};

/** An identity External Secrets impersonates: a Kubernetes service account bound to a Google one. */
export interface OperatorIdentity {
  /** Kubernetes service account name, created in the operator's namespace. */
  readonly kubernetesServiceAccount: string;
  /** E-mail of the Google service account it impersonates (created elsewhere, e.g. the data stack). */
  readonly googleServiceAccountEmail: string;
}

/** Inputs of {@link operatorNetworkPolicies}. */
export interface OperatorNetworkPolicyProps {
  /** The operator's namespace. */
  readonly namespace: string;
  /** The control plane's private range: the Kubernetes API, and the webhook's only caller. */
  readonly controlPlaneCidr: string;
  /** Allow the NodeLocal DNS cache address as well as kube-dns. */
  readonly nodeLocalDns: boolean;
}

/**
 * The operator namespace's network policies: deny everything, then allow every pod DNS and the
 * Kubernetes API (control plane range, 443); the controller Google APIs on 443 — the Private
 * Google Access VIPs by address, and the three APIs it calls by name (GKE FQDNNetworkPolicy);
 * and the webhook ingress from the control plane on its port. Nothing may reach the metadata
 * server: with `clusterName`/`clusterLocation`/`clusterProjectID` in the store and a service
 * account reference, ESO gets its tokens from the Kubernetes API and securetoken.googleapis.com,
 * never from the metadata server.
 *
 * Google APIs: the network has no private DNS zone for googleapis.com, so the APIs resolve to
 * public Google addresses (reached over Private Google Access, the nodes having no external IP).
 * Those addresses are many and change, so they are allowed by name, never by a wide range such
 * as 0.0.0.0/0; the VIP ranges keep working if a private.googleapis.com zone is added later.
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/fqdn-network-policies
 * @see https://cloud.google.com/vpc/docs/configure-private-google-access
 */
export function operatorNetworkPolicies(props: OperatorNetworkPolicyProps): Record<string, unknown>[] {
  const { namespace } = props;
  const np = (name: string, spec: INetworkPolicy["spec"]): INetworkPolicy => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace },
    spec,
  });
  const dns: INetworkPolicyEgressRule = { to: dnsPeers(props.nodeLocalDns), ports: DNS_PORTS };
  const policies: (INetworkPolicy | Record<string, unknown>)[] = [
    np("default-deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
    np("allow-dns-egress", { podSelector: {}, policyTypes: ["Egress"], egress: [dns] }),
    np("allow-kube-apiserver-egress", {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: props.controlPlaneCidr } }], ports: [tcp(443)] }],
    }),
    np("allow-google-apis-egress", {
      podSelector: { matchLabels: { ...OPERATOR_POD_LABELS.controller } },
      policyTypes: ["Egress"],
      egress: [{ to: GOOGLE_API_VIPS.map((cidr) => ({ ipBlock: { cidr } })), ports: [tcp(443)] }],
    }),
    {
      apiVersion: "networking.gke.io/v1alpha1",
      kind: "FQDNNetworkPolicy",
      metadata: { name: "allow-google-apis-fqdn", namespace },
      spec: {
        podSelector: { matchLabels: { ...OPERATOR_POD_LABELS.controller } },
        egress: [{ matches: GOOGLE_API_HOSTS.map((name) => ({ name })), ports: [tcp(443)] }],
      },
    },
    np("allow-webhook-ingress", {
      podSelector: { matchLabels: { ...OPERATOR_POD_LABELS.webhook } },
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ ipBlock: { cidr: props.controlPlaneCidr } }], ports: [tcp(WEBHOOK_PORT)] }],
    }),
  ];
  return policies as Record<string, unknown>[];
}

/** The chart's values: CRDs, resources and a restricted security context for every component. */
export function operatorValues(resources: OperatorResources): Record<string, unknown> {
  const securityContext = {
    enabled: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: 1000,
    seccompProfile: { type: "RuntimeDefault" },
  };
  const podSecurityContext = { enabled: true, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } };
  const component = (r: ComponentResources) => ({ resources: r, securityContext, podSecurityContext });
  return {
    installCRDs: true,
    // The controller's own service account gets no Google identity: each store names its own.
    serviceAccount: { create: true, annotations: {} },
    ...component(resources.controller),
    webhook: { port: WEBHOOK_PORT, ...component(resources.webhook) },
    certController: component(resources.certController),
  };
}

/** Props of {@link ExternalSecretsOperator}. */
export interface ExternalSecretsOperatorProps {
  /** Google Cloud project of the cluster (its Workload Identity pool is `<project>.svc.id.goog`). */
  readonly projectId: string;
  /** Namespace to create for the operator (Pod Security `restricted`). */
  readonly namespace: string;
  /** Exact version of the `external-secrets` chart. */
  readonly chartVersion: string;
  /** Identities the stores use, by a stable name (construct ids derive from it). */
  readonly identities: Readonly<Record<string, OperatorIdentity>>;
  /** The control plane's private range (Kubernetes API, webhook caller). */
  readonly controlPlaneCidr: string;
  /**
   * Also allow the NodeLocal DNS cache address for DNS.
   * @default false
   */
  readonly nodeLocalDns?: boolean;
  /** Provider for the namespace, service accounts and policies. */
  readonly kubernetesProvider: KubernetesProvider;
  /** Provider for the release. */
  readonly helmProvider: HelmProvider;
  /**
   * Requests and limits of the controller, webhook and cert controller.
   * @default DEFAULT_OPERATOR_RESOURCES
   */
  readonly resources?: OperatorResources;
  /**
   * Labels added to the namespace and service accounts.
   * @default - none
   */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * The External Secrets Operator from its pinned Helm chart, in its own `restricted` namespace
 * behind default-deny network policies, with one Kubernetes service account per store identity,
 * each allowed to impersonate its Google service account (`roles/iam.workloadIdentityUser` on
 * that account only). The controller mints those accounts' tokens itself: the chart's controller
 * ClusterRole grants `serviceaccounts/token` `create` (chart 2.0.1, `rbac.create: true`).
 * @see https://external-secrets.io/latest/introduction/getting-started/
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity
 */
export class ExternalSecretsOperator extends Construct {
  /** The operator's namespace. */
  readonly namespace: NamespaceV1;
  /** The Helm release. */
  readonly release: Release;
  /** Kubernetes service accounts by identity name. */
  readonly serviceAccounts: ReadonlyMap<string, ServiceAccountV1>;
  /** Network policies by object name. */
  readonly networkPolicies: ReadonlyMap<string, Manifest>;

  constructor(scope: Construct, id: string, props: ExternalSecretsOperatorProps) {
    super(scope, id);
    const provider = props.kubernetesProvider;
    const labels = { ...props.labels };

    this.namespace = new NamespaceV1(this, "namespace", {
      provider,
      metadata: {
        name: props.namespace,
        labels: {
          ...labels,
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
          "pod-security.kubernetes.io/audit": "restricted",
          "pod-security.kubernetes.io/warn": "restricted",
        },
      },
    });
    const ns = this.namespace.metadata.name;

    const policies = new Map<string, Manifest>();
    for (const manifest of operatorNetworkPolicies({
      namespace: props.namespace,
      controlPlaneCidr: props.controlPlaneCidr,
      nodeLocalDns: props.nodeLocalDns ?? false,
    })) {
      const { kind, metadata } = manifest as { kind: string; metadata: { name: string } };
      policies.set(
        metadata.name,
        new Manifest(this, `${kind.toLowerCase()}-${metadata.name}`, { provider, manifest, dependsOn: [this.namespace] }),
      );
    }
    this.networkPolicies = policies;

    const serviceAccounts = new Map<string, ServiceAccountV1>();
    for (const name of Object.keys(props.identities).sort()) {
      const identity = props.identities[name];
      if (identity === undefined) continue;
      serviceAccounts.set(
        name,
        new ServiceAccountV1(this, `ksa-${name}`, {
          provider,
          metadata: {
            name: identity.kubernetesServiceAccount,
            namespace: ns,
            labels,
            annotations: { "iam.gke.io/gcp-service-account": identity.googleServiceAccountEmail },
          },
          // Never mounted: the controller requests short-lived tokens for it (TokenRequest).
          automountServiceAccountToken: false,
        }),
      );
      new ServiceAccountIamMember(this, `workload-identity-${name}`, {
        serviceAccountId: `projects/${props.projectId}/serviceAccounts/${identity.googleServiceAccountEmail}`,
        role: "roles/iam.workloadIdentityUser",
        member: `serviceAccount:${props.projectId}.svc.id.goog[${props.namespace}/${identity.kubernetesServiceAccount}]`,
      });
    }
    this.serviceAccounts = serviceAccounts;

    this.release = new Release(this, "release", {
      provider: props.helmProvider,
      name: EXTERNAL_SECRETS_RELEASE,
      repository: EXTERNAL_SECRETS_CHART.repository,
      chart: EXTERNAL_SECRETS_CHART.chart,
      version: props.chartVersion,
      namespace: ns,
      createNamespace: false,
      atomic: true,
      wait: true,
      cleanupOnFail: true,
      timeout: 600,
      maxHistory: 5,
      values: [stringify(operatorValues(props.resources ?? DEFAULT_OPERATOR_RESOURCES), { lineWidth: 0, aliasDuplicateObjects: false })],
      // The pods start behind their network policies, never unrestricted.
      dependsOn: [this.namespace, ...policies.values()],
    });
  }
}

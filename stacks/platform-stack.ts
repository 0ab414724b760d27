import type { Construct } from "constructs";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { PlueStack, type PlueStackProps } from "./plue-stack.ts";
import { clusterAccess } from "../constructs/cluster-access.ts";
import { ExternalSecretsOperator } from "../constructs/external-secrets-operator.ts";
import { ESO_CONSUMERS, esoIdentities, names } from "../config/names.ts";

/**
 * The `platform` stack: cluster add-ons the workloads need — the External Secrets Operator
 * (pinned Helm chart) in its own restricted namespace, its network policies, and one Kubernetes
 * service account per store identity bound through Workload Identity to the Google service
 * account the data stack created. Applied after the cluster and data stacks; the workloads
 * stack's ClusterSecretStores and ExternalSecrets come after it (their CRDs are installed here).
 * @see https://external-secrets.io/latest/provider/google-secrets-manager/
 */
export class PlatformStack extends PlueStack {
  /** The operator and everything around it. */
  readonly externalSecrets: ExternalSecretsOperator;

  constructor(scope: Construct, id: string, props: PlueStackProps) {
    super(scope, id, props);
    const { config } = props;
    const access = clusterAccess(this, { clusterName: names(config).cluster, location: config.project.region });
    const kubernetesProvider = new KubernetesProvider(this, "kubernetes", { host: access.host, token: access.token });
    const helmProvider = new HelmProvider(this, "helm", { kubernetes: { host: access.host, token: access.token } });

    const identities = esoIdentities(config);
    this.externalSecrets = new ExternalSecretsOperator(this, "external-secrets", {
      projectId: config.project.id,
      namespace: config.externalSecrets.namespace,
      chartVersion: config.externalSecrets.chartVersion,
      identities: Object.fromEntries(
        ESO_CONSUMERS.map((c) => [
          c,
          { kubernetesServiceAccount: identities[c].kubernetesServiceAccount, googleServiceAccountEmail: identities[c].email },
        ]),
      ),
      controlPlaneCidr: config.network.controlPlaneCidr,
      nodeLocalDns: config.cluster.nodeLocalDns,
      kubernetesProvider,
      helmProvider,
      labels: { "app.kubernetes.io/part-of": config.name },
    });
  }
}

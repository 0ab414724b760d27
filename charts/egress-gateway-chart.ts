import { createHash } from "node:crypto";
import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { ExternalSecretData } from "./external-secrets-chart.ts";
import { K8S } from "../lib/k8s-names.ts";
import { ANTHROPIC_API_HOST, ANTHROPIC_API_RANGES } from "../lib/ranges.ts";
import { API_KEY_DIR, API_KEY_FILE, apiKeyIncludeTemplate, HEALTH_PATH, nginxConf, type NginxConfProps } from "./egress-gateway-nginx.ts";
import { k8s } from "./k8s-object.ts";
import { RESTRICTED_PSA_LABELS } from "./namespaces-chart.ts";
import { DNS_PORTS, dnsPeers, tcp } from "../lib/network-policy.ts";
import {
  guaranteedResources,
  NOT_ON_SANDBOX_NODES,
  spreadOverZonesAndNodes,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from "./restricted.ts";

/** The gateway's workload name: Deployment, Service, PDB, service account, pod label. */
export const EGRESS_GATEWAY = K8S.apps.egressGateway;

/** Secret (written by External Secrets) holding the rendered key include; also the ExternalSecret's name. */
export const EGRESS_GATEWAY_SECRET = K8S.secrets.egress;

/** Field of the ExternalSecret's data that the key template reads. */
export const API_KEY_FIELD = "anthropicApiKey";

/** Where the pod mounts its configuration (ConfigMap) and key (Secret): sibling directories. */
export const GATEWAY_CONF_DIR = "/etc/egress-gateway/conf";
export const GATEWAY_KEY_DIR = `/etc/egress-gateway/${API_KEY_DIR}`;
/** nginx's prefix: the writable emptyDir (pid file, temp files). */
export const GATEWAY_RUNTIME_DIR = "/tmp";

/** The `external-secrets.io` API version (see the external-secrets chart). */
const EXTERNAL_SECRETS_API = "external-secrets.io/v1";

/** Props of {@link EgressGatewayChart}. */
export interface EgressGatewayChartProps {
  /** `app.kubernetes.io/part-of` of every object (the environment's name). */
  readonly partOf: string;
  /** The gateway's own namespace (created here, PSA restricted, default deny). */
  readonly namespace: string;
  /** The nginx image: an unprivileged build (`nginxinc/nginx-unprivileged`), by digest in production. */
  readonly image: string;
  /** Replicas, spread across zones (at least 2, validated by the config schema). */
  readonly replicas: number;
  /** The Service's fixed `clusterIP` (runners reach it through `hostAliases`, without DNS). */
  readonly clusterIP: string;
  /** Requests (= limits) of the nginx container; ephemeral storage also sizes the `/tmp` emptyDir. */
  readonly resources: { readonly cpu: string; readonly memory: string; readonly ephemeralStorage: string };
  /** nginx settings (ports, allowlist, limits, upstream). */
  readonly proxy: NginxConfProps;
  /** The Anthropic API key, through External Secrets (consumer `egress`). */
  readonly apiKey: {
    /** ClusterSecretStore of the `egress` consumer (usable from {@link namespace} only). */
    readonly store: string;
    /** Secret Manager secret id of the key. */
    readonly remoteKey: string;
    /** How often External Secrets re-reads it, e.g. `1h`. */
    readonly refreshInterval: string;
  };
  /** The only clients: runner pods (namespace and pod labels). */
  readonly runners: { readonly namespace: string; readonly podLabels: Readonly<Record<string, string>> };
  /** Whether the NodeLocal DNS cache is enabled (its address joins the gateway's DNS egress). */
  readonly nodeLocalDns: boolean;
}

/**
 * The runners' egress gateway: the only way from a runner pod to the Anthropic API. An
 * unprivileged nginx (see `egress-gateway-nginx.ts`) in its own namespace (PSA restricted,
 * default deny), at least two replicas spread across zones and kept off the gVisor pool, with a
 * PodDisruptionBudget, a Service on a fixed `clusterIP`, its `nginx.conf` in a ConfigMap, and
 * the API key in a Secret that External Secrets renders as an nginx include file (the key is
 * never in a pod spec, an env var, the plan or a log). Network: ingress from runner pods on the
 * gateway port only; egress to DNS and to Anthropic's ranges / `api.anthropic.com` on 443 only.
 *
 * Key rotation: nginx reads the include at start. After a new version is synced (the refresh
 * interval), restart the Deployment; the old key must stay valid until then.
 * @see https://github.com/nginxinc/docker-nginx-unprivileged
 * @see https://external-secrets.io/latest/guides/templating/
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/fqdn-network-policies
 */
export class EgressGatewayChart extends Chart {
  /** The rendered `nginx.conf` (also in the ConfigMap). */
  readonly nginxConf: string;

  constructor(scope: Construct, id: string, props: EgressGatewayChartProps) {
    super(scope, id, { disableResourceNameHashes: true, labels: { "app.kubernetes.io/part-of": props.partOf } });
    const ns = props.namespace;
    const labels = { "app.kubernetes.io/name": EGRESS_GATEWAY };
    const conf = nginxConf(props.proxy);
    this.nginxConf = conf;

    k8s<INamespace>(this, "namespace", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns, labels: { ...RESTRICTED_PSA_LABELS, "kubernetes.io/metadata.name": ns } },
    });
    k8s<INetworkPolicy>(this, "default-deny", {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "default-deny-all", namespace: ns },
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    });

    // No Google identity and no Kubernetes API token: the key arrives as a mounted file.
    k8s<IServiceAccount>(this, "service-account", {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: EGRESS_GATEWAY, namespace: ns },
      automountServiceAccountToken: false,
    });

    k8s<IConfigMap>(this, "nginx-conf", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `${EGRESS_GATEWAY}-nginx`, namespace: ns },
      data: { "nginx.conf": conf },
    });

    const data: ExternalSecretData[] = [
      {
        secretKey: API_KEY_FIELD,
        remoteRef: {
          key: props.apiKey.remoteKey,
          version: "latest",
          conversionStrategy: "Default",
          decodingStrategy: "None",
          metadataPolicy: "None",
        },
      },
    ];
    k8s(this, "upstream-auth", {
      apiVersion: EXTERNAL_SECRETS_API,
      kind: "ExternalSecret",
      metadata: { name: EGRESS_GATEWAY_SECRET, namespace: ns },
      spec: {
        refreshInterval: props.apiKey.refreshInterval,
        secretStoreRef: { kind: "ClusterSecretStore", name: props.apiKey.store },
        target: {
          name: EGRESS_GATEWAY_SECRET,
          creationPolicy: "Owner",
          deletionPolicy: "Retain",
          template: {
            engineVersion: "v2",
            // Replace: the Secret holds the rendered include file only, not the bare key.
            mergePolicy: "Replace",
            type: "Opaque",
            data: { [API_KEY_FILE]: apiKeyIncludeTemplate(API_KEY_FIELD) },
          },
        },
        data,
      },
    });

    const probe = (extra: Partial<IProbe>): IProbe => ({ httpGet: { path: HEALTH_PATH, port: "health" }, timeoutSeconds: 2, ...extra });
    k8s<IDeployment>(this, "deployment", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: EGRESS_GATEWAY, namespace: ns, labels },
      spec: {
        replicas: props.replicas,
        revisionHistoryLimit: 5,
        selector: { matchLabels: labels },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: {
            labels: { ...labels, "app.kubernetes.io/part-of": props.partOf },
            // A new nginx.conf rolls the pods (nginx reads it at start only).
            annotations: { "checksum/nginx-conf": createHash("sha256").update(conf).digest("hex") },
          },
          spec: {
            serviceAccountName: EGRESS_GATEWAY,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: restrictedPodSecurityContext(),
            affinity: NOT_ON_SANDBOX_NODES,
            topologySpreadConstraints: spreadOverZonesAndNodes(labels),
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: "nginx",
                image: props.image,
                imagePullPolicy: "IfNotPresent",
                // The image's entrypoint scripts (which rewrite /etc/nginx) are bypassed.
                command: ["nginx", "-p", `${GATEWAY_RUNTIME_DIR}/`, "-e", "stderr", "-c", `${GATEWAY_CONF_DIR}/nginx.conf`],
                ports: [
                  { name: "proxy", containerPort: props.proxy.port, protocol: "TCP" },
                  { name: "health", containerPort: props.proxy.healthPort, protocol: "TCP" },
                ],
                startupProbe: probe({ periodSeconds: 1, failureThreshold: 30 }),
                readinessProbe: probe({ periodSeconds: 5, failureThreshold: 2 }),
                livenessProbe: probe({ periodSeconds: 10, failureThreshold: 3 }),
                securityContext: restrictedContainerSecurityContext(),
                resources: guaranteedResources(props.resources),
                volumeMounts: [
                  { name: "tmp", mountPath: GATEWAY_RUNTIME_DIR },
                  { name: "conf", mountPath: GATEWAY_CONF_DIR, readOnly: true },
                  { name: "key", mountPath: GATEWAY_KEY_DIR, readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: "tmp", emptyDir: { sizeLimit: props.resources.ephemeralStorage } },
              { name: "conf", configMap: { name: `${EGRESS_GATEWAY}-nginx`, defaultMode: 0o444 } },
              // Group-readable by the pod's fsGroup only.
              { name: "key", secret: { secretName: EGRESS_GATEWAY_SECRET, defaultMode: 0o440 } },
            ],
          },
        },
      },
    });

    k8s<IService>(this, "service", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: EGRESS_GATEWAY, namespace: ns },
      spec: {
        type: "ClusterIP",
        clusterIP: props.clusterIP,
        selector: labels,
        ports: [{ name: "proxy", port: props.proxy.port, targetPort: "proxy", protocol: "TCP" }],
      },
    });

    k8s<IPodDisruptionBudget>(this, "pdb", {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: EGRESS_GATEWAY, namespace: ns },
      spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
    });

    const podSelector = { matchLabels: labels };
    k8s<INetworkPolicy>(this, "ingress-runners", {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "gateway-ingress-runners", namespace: ns },
      spec: {
        podSelector,
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": props.runners.namespace } },
                podSelector: { matchLabels: { ...props.runners.podLabels } },
              },
            ],
            ports: [tcp(props.proxy.port)],
          },
        ],
      },
    });
    k8s<INetworkPolicy>(this, "egress-dns", {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "gateway-egress-dns", namespace: ns },
      spec: { podSelector, policyTypes: ["Egress"], egress: [{ to: dnsPeers(props.nodeLocalDns), ports: DNS_PORTS }] },
    });
    k8s<INetworkPolicy>(this, "egress-anthropic", {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "gateway-egress-anthropic", namespace: ns },
      spec: {
        podSelector,
        policyTypes: ["Egress"],
        egress: [{ to: ANTHROPIC_API_RANGES.map((cidr) => ({ ipBlock: { cidr } })), ports: [tcp(443)] }],
      },
    });
    k8s(this, "egress-anthropic-fqdn", {
      apiVersion: "networking.gke.io/v1alpha1",
      kind: "FQDNNetworkPolicy",
      metadata: { name: "gateway-egress-anthropic-fqdn", namespace: ns },
      spec: { podSelector, egress: [{ matches: [{ name: ANTHROPIC_API_HOST }], ports: [{ protocol: "TCP", port: 443 }] }] },
    });
  }
}

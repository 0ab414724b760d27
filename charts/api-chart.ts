import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IContainerPort } from "kubernetes-models/v1/ContainerPort";
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { K8S } from "../lib/k8s-names.ts";
import { RUNNER_POD_TEMPLATE } from "./runner-sandbox-chart.ts";
import { k8s } from "./k8s-object.ts";
import {
  type ContainerResources,
  guaranteedResources,
  NOT_ON_SANDBOX_NODES,
  spreadOverZonesAndNodes,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from "./restricted.ts";

/** Git over SSH served by the API. */
export interface ApiSsh {
  /** Serve Git over SSH on a TCP load balancer (port 22). */
  readonly enabled: boolean;
  /** The container's SSH port. */
  readonly port: number;
  /** Source ranges the load balancer accepts. */
  readonly sourceRanges: readonly string[];
}

/** Props of {@link ApiChart}. */
export interface ApiChartProps {
  /** `app.kubernetes.io/part-of` label of every object and of the API pods (the environment's name prefix). */
  readonly partOf: string;
  /** The API image. */
  readonly image: string;
  /** HTTP port (probes, load balancer). */
  readonly port: number;
  /** Port runners call back on. */
  readonly callbackPort: number;
  /** Fixed `clusterIP` of the callback Service (runners have no DNS: they reach it through `hostAliases`). */
  readonly callbackClusterIP: string;
  /** Replicas the autoscaler keeps at least (the Deployment itself sets none: the autoscaler owns the count). */
  readonly minReplicas: number;
  /** Replicas the autoscaler may reach. */
  readonly maxReplicas: number;
  /** Path the probes request. */
  readonly healthPath: string;
  /** Requests and limits of the API container (Guaranteed QoS). */
  readonly resources: ContainerResources;
  /** Git over SSH. */
  readonly ssh: ApiSsh;
  /** E-mail of the API's Google service account (Workload Identity annotation). */
  readonly googleServiceAccount: string;
}

/**
 * The Plue API: a Deployment of at least two replicas spread across zones and never on the
 * gVisor pool, with restricted containers, probes, env from the Secret External Secrets
 * writes, a Workload Identity service account; a Service with a standalone NEG for the edge
 * load balancer (the HTTP port only); a callback Service on a fixed cluster IP with the callback
 * port only, which runners reach without DNS; an HPA and a PodDisruptionBudget; and, when
 * enabled, Git over SSH on a TCP load balancer limited to configured source ranges.
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/standalone-neg
 */
export class ApiChart extends Chart {
  constructor(scope: Construct, id: string, props: ApiChartProps) {
    super(scope, id, { disableResourceNameHashes: true, labels: { "app.kubernetes.io/part-of": props.partOf } });
    const ns = K8S.namespaces.api;
    const a = props;
    const labels = { "app.kubernetes.io/name": K8S.apps.api };

    k8s<IServiceAccount>(this, "api-sa", {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: {
        name: K8S.serviceAccounts.api,
        namespace: ns,
        annotations: { "iam.gke.io/gcp-service-account": props.googleServiceAccount },
      },
      automountServiceAccountToken: false,
    });

    const ports: IContainerPort[] = [
      { name: "http", containerPort: a.port, protocol: "TCP" },
      { name: "callback", containerPort: a.callbackPort, protocol: "TCP" },
      ...(a.ssh.enabled ? [{ name: "ssh", containerPort: a.ssh.port, protocol: "TCP" as const }] : []),
    ];
    const probe = (extra: Partial<IProbe>): IProbe => ({ httpGet: { path: a.healthPath, port: "http" }, timeoutSeconds: 2, ...extra });

    k8s<IDeployment>(this, "api", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "api", namespace: ns, labels },
      spec: {
        // No replicas: the HorizontalPodAutoscaler owns the count (a manifest that set it would
        // conflict with the HPA's field manager on every apply; docs/adr/0010, item 8).
        revisionHistoryLimit: 5,
        selector: { matchLabels: labels },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: { ...labels, "app.kubernetes.io/part-of": props.partOf } },
          spec: {
            serviceAccountName: K8S.serviceAccounts.api,
            // The API starts runner pods through the Kubernetes API, so it needs its token.
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            securityContext: restrictedPodSecurityContext(),
            affinity: NOT_ON_SANDBOX_NODES,
            topologySpreadConstraints: spreadOverZonesAndNodes(labels),
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: "api",
                image: props.image,
                imagePullPolicy: "IfNotPresent",
                ports,
                envFrom: [{ secretRef: { name: K8S.secrets.api } }],
                env: [
                  { name: "PORT", value: String(a.port) },
                  { name: "CALLBACK_PORT", value: String(a.callbackPort) },
                  { name: "RUNNER_NAMESPACE", value: K8S.namespaces.runners },
                  { name: "RUNNER_POD_TEMPLATE", value: RUNNER_POD_TEMPLATE },
                  ...(a.ssh.enabled ? [{ name: "SSH_PORT", value: String(a.ssh.port) }] : []),
                ],
                startupProbe: probe({ periodSeconds: 2, failureThreshold: 30 }),
                readinessProbe: probe({ periodSeconds: 5, failureThreshold: 3 }),
                livenessProbe: probe({ periodSeconds: 10, failureThreshold: 3 }),
                securityContext: restrictedContainerSecurityContext(),
                resources: guaranteedResources(a.resources),
                volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
              },
            ],
            volumes: [{ name: "tmp", emptyDir: { sizeLimit: "128Mi" } }],
          },
        },
      },
    });

    k8s<IService>(this, "api-service", {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: "api",
        namespace: ns,
        annotations: { "cloud.google.com/neg": JSON.stringify({ exposed_ports: { [String(a.port)]: { name: K8S.apiNeg } } }) },
      },
      spec: {
        type: "ClusterIP",
        selector: labels,
        ports: [{ name: "http", port: a.port, targetPort: "http", protocol: "TCP" }],
      },
    });

    // Runners call back here: a fixed address (their hostAliases entry), the callback port only.
    k8s<IService>(this, "api-callback-service", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: K8S.apiCallbackService, namespace: ns },
      spec: {
        type: "ClusterIP",
        clusterIP: a.callbackClusterIP,
        selector: labels,
        ports: [{ name: "callback", port: a.callbackPort, targetPort: "callback", protocol: "TCP" }],
      },
    });

    k8s<IHorizontalPodAutoscaler>(this, "api-hpa", {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "api", namespace: ns },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "api" },
        minReplicas: a.minReplicas,
        maxReplicas: a.maxReplicas,
        metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
      },
    });

    k8s<IPodDisruptionBudget>(this, "api-pdb", {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: "api", namespace: ns },
      spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
    });

    if (a.ssh.enabled) {
      k8s<IService>(this, "api-ssh", {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "api-ssh", namespace: ns },
        spec: {
          type: "LoadBalancer",
          externalTrafficPolicy: "Local",
          loadBalancerSourceRanges: [...a.ssh.sourceRanges],
          selector: labels,
          ports: [{ name: "ssh", port: 22, targetPort: "ssh", protocol: "TCP" }],
        },
      });
    }
  }
}

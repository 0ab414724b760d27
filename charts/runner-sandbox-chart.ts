import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { ILimitRange } from "kubernetes-models/v1/LimitRange";
import type { IPodTemplate } from "kubernetes-models/v1/PodTemplate";
import type { IResourceQuota } from "kubernetes-models/v1/ResourceQuota";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import type { IValidatingAdmissionPolicy } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy";
import type { IValidatingAdmissionPolicyBinding } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding";
import { K8S } from "../lib/k8s-names.ts";
import { k8s } from "./k8s-object.ts";
import { RUNNER_DNS_NAMESERVER, RUNNER_SECRET_RULES } from "./runner-secret-rules.ts";
import {
  type ContainerResources,
  guaranteedResources,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  SANDBOX_TOLERATION,
} from "./restricted.ts";

/** A Service runners reach without DNS: a host name mapped by `hostAliases` to its fixed cluster IP. */
export interface RunnerPeer {
  /** The host name runner code uses (a `hostAliases` entry). */
  readonly host: string;
  /** The Service's fixed `clusterIP`. */
  readonly clusterIP: string;
  /** The Service's port. */
  readonly port: number;
}

/** Props of {@link RunnerSandboxChart}. */
export interface RunnerSandboxChartProps {
  /** `app.kubernetes.io/part-of` label of every object and of runner pods (the environment's name prefix). */
  readonly partOf: string;
  /** The runner image. */
  readonly image: string;
  /** Requests and limits of one runner pod (Guaranteed QoS). */
  readonly resources: ContainerResources;
  /** Most runner pods at once (ResourceQuota). */
  readonly maxPods: number;
  /** Longest a runner pod may run, in seconds (activeDeadlineSeconds, enforced by admission). */
  readonly maxRuntimeSeconds: number;
  /** The egress gateway: the runners' only way to the Anthropic API (`ANTHROPIC_BASE_URL`). */
  readonly gateway: RunnerPeer;
  /** The API's callback Service (`CALLBACK_URL`). */
  readonly callback: RunnerPeer;
}

/** Environment variables of the runner template that name where runners connect. */
export const RUNNER_ENV = { anthropicBaseUrl: "ANTHROPIC_BASE_URL", callbackUrl: "CALLBACK_URL" } as const;

/** Name of the PodTemplate the API copies to start agent and workflow pods. */
export const RUNNER_POD_TEMPLATE = "runner";

/**
 * Namespaces the sandbox-pool reservation does not apply to: the runners themselves, and the
 * Kubernetes and GKE system namespaces, whose node agents tolerate every taint by design.
 */
export const SANDBOX_RESERVATION_EXEMPT = [
  "runners",
  "kube-system",
  "kube-public",
  "kube-node-lease",
  "gke-managed-system",
  "gke-managed-cim",
  "gke-managed-filestorecsi",
  "gke-managed-parallelstorecsi",
  "gke-managed-volumepopulator",
  "gmp-system",
  "gmp-public",
  "gke-gmp-system",
] as const;

/** Names of the admission policies (cluster-scoped). */
export const RUNNER_POLICY = "plue-runner-sandbox";
export const SANDBOX_RESERVED_POLICY = "plue-sandbox-pool-reserved";

/**
 * Every container (init containers included) of the pod under review, for CEL rules.
 * Ephemeral containers cannot be added without `pods/ephemeralcontainers`, which nobody in
 * `runners` is granted.
 */
const CONTAINERS = "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])";

/** The rules a runner pod must satisfy, each with the message the API server returns. */
export function runnerPodRules(maxRuntimeSeconds: number): readonly { readonly expression: string; readonly message: string }[] {
  return [
    {
      expression: "has(object.spec.runtimeClassName) && object.spec.runtimeClassName == 'gvisor'",
      message: "runner pods must set runtimeClassName: gvisor",
    },
    {
      expression:
        "has(object.spec.nodeSelector) && 'sandbox.gke.io/runtime' in object.spec.nodeSelector && object.spec.nodeSelector['sandbox.gke.io/runtime'] == 'gvisor'",
      message: "runner pods must select the gVisor pool (nodeSelector sandbox.gke.io/runtime: gvisor)",
    },
    {
      expression: "has(object.spec.automountServiceAccountToken) && object.spec.automountServiceAccountToken == false",
      message: "runner pods must set automountServiceAccountToken: false",
    },
    {
      expression: "!has(object.spec.hostNetwork) || object.spec.hostNetwork == false",
      message: "runner pods must not use the host network",
    },
    {
      expression: `has(object.spec.activeDeadlineSeconds) && object.spec.activeDeadlineSeconds <= ${maxRuntimeSeconds}`,
      message: "runner pods must set activeDeadlineSeconds within the configured maximum run time",
    },
    {
      expression:
        "has(object.spec.securityContext) && has(object.spec.securityContext.runAsNonRoot) && object.spec.securityContext.runAsNonRoot == true",
      message: "runner pods must set securityContext.runAsNonRoot: true",
    },
    {
      expression:
        "has(object.spec.securityContext) && has(object.spec.securityContext.seccompProfile) && object.spec.securityContext.seccompProfile.type == 'RuntimeDefault'",
      message: "runner pods must set securityContext.seccompProfile.type: RuntimeDefault",
    },
    {
      expression:
        "variables.containers.all(c, has(c.securityContext) && has(c.securityContext.readOnlyRootFilesystem) && c.securityContext.readOnlyRootFilesystem == true)",
      message: "every runner container must set readOnlyRootFilesystem: true",
    },
    {
      expression:
        "variables.containers.all(c, has(c.securityContext) && has(c.securityContext.allowPrivilegeEscalation) && c.securityContext.allowPrivilegeEscalation == false)",
      message: "every runner container must set allowPrivilegeEscalation: false",
    },
    {
      expression:
        "variables.containers.all(c, has(c.securityContext) && has(c.securityContext.capabilities) && has(c.securityContext.capabilities.drop) && 'ALL' in c.securityContext.capabilities.drop && (!has(c.securityContext.capabilities.add) || size(c.securityContext.capabilities.add) == 0))",
      message: "every runner container must drop ALL capabilities and add none",
    },
    {
      expression:
        "variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || c.securityContext.privileged == false)",
      message: "runner containers must not be privileged",
    },
    {
      expression:
        "variables.containers.all(c, has(c.resources) && has(c.resources.limits) && 'cpu' in c.resources.limits && 'memory' in c.resources.limits && 'ephemeral-storage' in c.resources.limits)",
      message: "every runner container must set cpu, memory and ephemeral-storage limits",
    },
  ];
}

type Selector = NonNullable<NonNullable<IValidatingAdmissionPolicyBinding["spec"]>["matchResources"]>["namespaceSelector"];

/** What {@link podAdmissionPolicy} enforces, and where. */
interface PodAdmissionPolicyProps {
  readonly name: string;
  readonly variables?: readonly { readonly name: string; readonly expression: string }[];
  /** CEL rules a pod must all satisfy; each failure is denied with its message. */
  readonly rules: readonly { readonly expression: string; readonly message: string }[];
  /** Namespaces the binding applies the policy in. */
  readonly namespaceSelector: Selector;
}

/**
 * A ValidatingAdmissionPolicy on pod CREATE and UPDATE that fails closed, and its binding that
 * denies every violation in the selected namespaces. Construct ids: `id` and `<id>-binding`.
 */
function podAdmissionPolicy(scope: Construct, id: string, props: PodAdmissionPolicyProps): void {
  const policy: IValidatingAdmissionPolicy = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: props.name },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: {
        resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["pods"] }],
      },
      ...(props.variables ? { variables: props.variables.map((v) => ({ ...v })) } : {}),
      validations: props.rules.map((rule) => ({ expression: rule.expression, message: rule.message, reason: "Forbidden" })),
    },
  };
  k8s(scope, id, policy);
  const binding: IValidatingAdmissionPolicyBinding = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: props.name },
    spec: { policyName: props.name, validationActions: ["Deny"], matchResources: { namespaceSelector: props.namespaceSelector } },
  };
  k8s(scope, `${id}-binding`, binding);
}

/**
 * The runner sandbox in the `runners` namespace: the hardened pod template the API uses to
 * start agent and workflow pods (gVisor, sandbox pool, restricted security context, limits,
 * no service-account token, no DNS: `dnsPolicy: None` with only the pod's own loopback as
 * nameserver, and the egress gateway and the API callback reached by fixed addresses through
 * `hostAliases`), and the enforcement around it — a ValidatingAdmissionPolicy that rejects any
 * runner pod that drifts from it (or references a Secret or a token, or asks for DNS), a second
 * one that keeps every other Plue pod off the gVisor pool, a ResourceQuota and LimitRange, and
 * RBAC that lets only the API's service account manage runner pods (nothing cluster-wide).
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/sandbox-pods
 * @see https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
 */
export class RunnerSandboxChart extends Chart {
  constructor(scope: Construct, id: string, props: RunnerSandboxChartProps) {
    super(scope, id, { disableResourceNameHashes: true, labels: { "app.kubernetes.io/part-of": props.partOf } });
    const ns = K8S.namespaces.runners;
    const r = props.resources;
    const podLabels = { "app.kubernetes.io/name": K8S.apps.runner, "app.kubernetes.io/part-of": props.partOf };

    // No IAM binding exists for this account: a runner has no Google identity at all.
    k8s<IServiceAccount>(this, "runner-sa", {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: K8S.serviceAccounts.runner, namespace: ns },
      automountServiceAccountToken: false,
    });

    k8s<IPodTemplate>(this, "runner-template", {
      apiVersion: "v1",
      kind: "PodTemplate",
      metadata: { name: RUNNER_POD_TEMPLATE, namespace: ns },
      template: {
        metadata: { labels: podLabels },
        spec: {
          runtimeClassName: K8S.runtimeClass,
          nodeSelector: { [K8S.sandboxNodeLabel]: "gvisor" },
          tolerations: [SANDBOX_TOLERATION],
          serviceAccountName: K8S.serviceAccounts.runner,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          hostNetwork: false,
          hostPID: false,
          hostIPC: false,
          restartPolicy: "Never",
          activeDeadlineSeconds: props.maxRuntimeSeconds,
          terminationGracePeriodSeconds: 30,
          securityContext: restrictedPodSecurityContext(),
          // No DNS (an exfiltration channel: <data>.attacker.example): the only nameserver is the
          // pod's own loopback, where nothing answers; the two peers a runner has are fixed entries.
          dnsPolicy: "None",
          dnsConfig: { nameservers: [RUNNER_DNS_NAMESERVER] },
          hostAliases: [
            { ip: props.gateway.clusterIP, hostnames: [props.gateway.host] },
            { ip: props.callback.clusterIP, hostnames: [props.callback.host] },
          ],
          containers: [
            {
              name: "runner",
              image: props.image,
              imagePullPolicy: "IfNotPresent",
              // Plain HTTP inside the cluster: the gateway adds the key and speaks TLS to Anthropic.
              env: [
                { name: RUNNER_ENV.anthropicBaseUrl, value: `http://${props.gateway.host}:${props.gateway.port}` },
                { name: RUNNER_ENV.callbackUrl, value: `http://${props.callback.host}:${props.callback.port}` },
              ],
              securityContext: restrictedContainerSecurityContext(),
              resources: guaranteedResources(r),
              volumeMounts: [
                { name: "tmp", mountPath: "/tmp" },
                { name: "workspace", mountPath: "/workspace" },
              ],
            },
          ],
          volumes: [
            { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
            { name: "workspace", emptyDir: { sizeLimit: r.ephemeralStorage } },
          ],
        },
      },
    });

    podAdmissionPolicy(this, "runner-policy", {
      name: RUNNER_POLICY,
      variables: [{ name: "containers", expression: CONTAINERS }],
      // The template's settings, then no Secret, no token and no DNS in any form.
      rules: [...runnerPodRules(props.maxRuntimeSeconds), ...RUNNER_SECRET_RULES],
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } },
    });

    // Only runner pods may land on the gVisor pool: reject pods in every other namespace (but
    // the system ones) that ask for gVisor, tolerate the sandbox taint, or bypass scheduling.
    podAdmissionPolicy(this, "sandbox-reserved-policy", {
      name: SANDBOX_RESERVED_POLICY,
      rules: [
        {
          expression: "!has(object.spec.runtimeClassName) || object.spec.runtimeClassName != 'gvisor'",
          message: "only pods in the runners namespace may use the gVisor runtime",
        },
        {
          expression:
            "!has(object.spec.tolerations) || object.spec.tolerations.all(t, (has(t.key) && t.key != 'sandbox.gke.io/runtime') || (!has(t.key) && (!has(t.operator) || t.operator != 'Exists')))",
          message: "only pods in the runners namespace may tolerate the gVisor pool's taint",
        },
        {
          // A pod created with nodeName skips the scheduler, and with it the pool's taint.
          expression: "request.operation != 'CREATE' || !has(object.spec.nodeName)",
          message: "pods may not be created with spec.nodeName (it bypasses scheduling and the gVisor pool's taint)",
        },
      ],
      namespaceSelector: {
        matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: [...SANDBOX_RESERVATION_EXEMPT] }],
      },
    });

    const n = props.maxPods;
    const times = (q: string) => {
      const m = /^([0-9.]+)(.*)$/.exec(q);
      return m ? `${Number(m[1]) * n}${m[2]}` : q;
    };
    k8s<IResourceQuota>(this, "runner-quota", {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "runner-quota", namespace: ns },
      spec: {
        hard: {
          pods: String(n),
          "requests.cpu": times(r.cpu),
          "limits.cpu": times(r.cpu),
          "requests.memory": times(r.memory),
          "limits.memory": times(r.memory),
          "requests.ephemeral-storage": times(r.ephemeralStorage),
          "limits.ephemeral-storage": times(r.ephemeralStorage),
          services: "0",
          "services.loadbalancers": "0",
          "services.nodeports": "0",
          persistentvolumeclaims: "0",
        },
      },
    });
    const limit = { cpu: r.cpu, memory: r.memory, "ephemeral-storage": r.ephemeralStorage };
    k8s<ILimitRange>(this, "runner-limits", {
      apiVersion: "v1",
      kind: "LimitRange",
      metadata: { name: "runner-limits", namespace: ns },
      spec: { limits: [{ type: "Container", default: limit, defaultRequest: { ...limit }, max: { ...limit } }] },
    });

    k8s<IRole>(this, "runner-manager", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "runner-manager", namespace: ns },
      rules: [
        { apiGroups: [""], resources: ["pods"], verbs: ["create", "delete", "get", "list", "watch"] },
        { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
        { apiGroups: [""], resources: ["podtemplates"], resourceNames: [RUNNER_POD_TEMPLATE], verbs: ["get"] },
        { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "delete", "get", "list", "watch"] },
      ],
    });
    k8s<IRoleBinding>(this, "runner-manager-api", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "runner-manager-api", namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "runner-manager" },
      subjects: [{ kind: "ServiceAccount", name: K8S.serviceAccounts.api, namespace: K8S.namespaces.api }],
    });
  }
}

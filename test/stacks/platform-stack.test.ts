/** The platform stack (External Secrets Operator), read from the real synthesized plan. */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { only, resources, stack, stackText } from "../support/plan.ts";
import { evaluate, type Endpoint, type ExternalEndpoint, type PodEndpoint, type Protocol } from "../../review/netpol/index.ts";
import { OPERATOR_POD_LABELS } from "../../constructs/external-secrets-operator.ts";

type Resource = Record<string, any>;

const tf = stack("platform");
const release = only(tf, "helm_release") as Resource;
const namespace = only(tf, "kubernetes_namespace_v1") as Resource;
const namespaceRef = `\${kubernetes_namespace_v1.${Object.keys(resources(tf, "kubernetes_namespace_v1"))[0]}.metadata[0].name}`;
const values = parse((release.values as string[])[0] ?? "") as Resource;
const manifests = resources(tf, "kubernetes_manifest");
const ksas = Object.values(resources(tf, "kubernetes_service_account_v1")) as Resource[];
const wiBindings = Object.values(resources(tf, "google_service_account_iam_member")) as Resource[];
const ACCESS = {
  host: "https://${data.google_container_cluster.cluster.control_plane_endpoints_config[0].dns_endpoint_config[0].endpoint}",
  token: "${data.google_client_config.client.access_token}",
};

// --- network policy model: the stack's policies, its namespace, and the endpoints around it ---
const objects: unknown[] = [
  ...Object.values(manifests).map((m) => m.manifest),
  { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace.metadata.name, labels: namespace.metadata.labels } },
];
const pod = (labels: Record<string, string>, ns = "external-secrets"): PodEndpoint => ({ kind: "pod", namespace: ns, labels });
const ext = (ip: string, name?: string): ExternalEndpoint =>
  name === undefined ? { kind: "external", ip } : { kind: "external", ip, name };
const controller = pod(OPERATOR_POD_LABELS.controller);
const webhook = pod(OPERATOR_POD_LABELS.webhook);
const certController = pod(OPERATOR_POD_LABELS.certController);
const operatorPods = { controller, webhook, certController };
const kubeDns = pod({ "k8s-app": "kube-dns" }, "kube-system");
const apiServer = ext("172.16.0.34");
const metadataServer = ext("169.254.169.254", "metadata.google.internal");
const allowed = (from: Endpoint, to: Endpoint, port: number, protocol: Protocol = "TCP") =>
  evaluate(objects, { from, to, port, protocol }).allowed;

/** Top-level values of chart external-secrets 2.0.1 (its values.schema.json). */
const CHART_2_0_1_VALUES = [
  "affinity",
  "bitwarden-sdk-server",
  "certController",
  "commonLabels",
  "concurrent",
  "controllerClass",
  "crds",
  "createOperator",
  "deploymentAnnotations",
  "dnsConfig",
  "dnsPolicy",
  "enableHTTP2",
  "extendedMetricLabels",
  "extraArgs",
  "extraContainers",
  "extraEnv",
  "extraInitContainers",
  "extraObjects",
  "extraVolumeMounts",
  "extraVolumes",
  "fullnameOverride",
  "genericTargets",
  "global",
  "grafanaDashboard",
  "hostAliases",
  "hostNetwork",
  "hostUsers",
  "image",
  "imagePullSecrets",
  "installCRDs",
  "leaderElect",
  "livenessProbe",
  "log",
  "metrics",
  "nameOverride",
  "namespaceOverride",
  "nodeSelector",
  "openshiftFinalizers",
  "podAnnotations",
  "podDisruptionBudget",
  "podLabels",
  "podSecurityContext",
  "podSpecExtra",
  "priorityClassName",
  "processClusterExternalSecret",
  "processClusterGenerator",
  "processClusterPushSecret",
  "processClusterStore",
  "processPushSecret",
  "processSecretStore",
  "rbac",
  "replicaCount",
  "resources",
  "revisionHistoryLimit",
  "scopedNamespace",
  "scopedRBAC",
  "securityContext",
  "service",
  "serviceAccount",
  "serviceMonitor",
  "strategy",
  "systemAuthDelegator",
  "tolerations",
  "topologySpreadConstraints",
  "webhook",
];

describe("platform stack", () => {
  it("matches the snapshot", () => {
    expect(stackText("platform")).toMatchSnapshot();
  });

  it("keeps its state in GCS under its own prefix", () => {
    expect(tf.terraform.backend?.gcs).toEqual({ bucket: "plue-example-tfstate", prefix: "example/platform" });
  });

  it("reaches the cluster through its DNS endpoint with the deployer's access token (Kubernetes and Helm)", () => {
    expect(tf.provider?.kubernetes).toEqual([ACCESS]);
    expect(tf.provider?.helm).toEqual([{ kubernetes: ACCESS }]);
    expect(tf.terraform.required_providers?.helm).toEqual({ source: "helm", version: "3.1.1" });
  });

  it("creates the operator namespace with Pod Security 'restricted' enforced, audited and warned", () => {
    expect(namespace.metadata.name).toBe("external-secrets");
    expect(namespace.metadata.labels).toEqual({
      "app.kubernetes.io/part-of": "plue",
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/enforce-version": "latest",
      "pod-security.kubernetes.io/audit": "restricted",
      "pod-security.kubernetes.io/warn": "restricted",
    });
  });

  it("installs into that namespace without letting Helm create it", () => {
    expect(release.create_namespace).toBe(false);
    expect(release.namespace).toBe(namespaceRef);
  });

  it("pins the chart: repository, name and the configured exact version", () => {
    expect([release.name, release.repository, release.chart, release.version]).toEqual([
      "external-secrets",
      "https://charts.external-secrets.io",
      "external-secrets",
      "2.0.1",
    ]);
  });

  it("installs the CRDs with the chart", () => {
    expect(values.installCRDs).toBe(true);
    expect(release.skip_crds ?? false).toBe(false);
  });

  it("rolls a failed install or upgrade back and waits for the pods", () => {
    expect([release.atomic, release.wait, release.cleanup_on_fail, release.timeout]).toEqual([true, true, true, 600]);
  });

  it("uses only values chart 2.0.1 declares", () => {
    expect(Object.keys(values).filter((k) => !CHART_2_0_1_VALUES.includes(k))).toEqual([]);
  });

  it("sets requests and limits for the controller, webhook and cert controller", () => {
    for (const r of [values.resources, values.webhook.resources, values.certController.resources]) {
      expect(Object.keys(r.requests).sort()).toEqual(["cpu", "memory"]);
      expect(Object.keys(r.limits).sort()).toEqual(["cpu", "memory"]);
    }
  });

  it("runs every component non-root, read-only, without privilege escalation or capabilities, with RuntimeDefault seccomp", () => {
    for (const v of [values, values.webhook, values.certController]) {
      expect(v.securityContext).toEqual({
        enabled: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        runAsUser: 1000,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(v.podSecurityContext).toEqual({ enabled: true, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    }
  });

  it("gives the controller's own service account no Google identity", () => {
    expect(values.serviceAccount).toEqual({ create: true, annotations: {} });
    expect(release.values[0]).not.toContain("iam.gke.io");
  });

  it("creates one Kubernetes service account per store identity, annotated with its Google service account, token not mounted", () => {
    expect(ksas.map((k) => [k.metadata.name, k.metadata.annotations["iam.gke.io/gcp-service-account"]]).sort()).toEqual([
      ["eso-api", "plue-eso-api@plue-example.iam.gserviceaccount.com"],
      ["eso-egress", "plue-eso-egress@plue-example.iam.gserviceaccount.com"],
      ["eso-migrate", "plue-eso-migrate@plue-example.iam.gserviceaccount.com"],
    ]);
    for (const k of ksas) {
      expect(k.metadata.namespace).toBe(namespaceRef);
      expect(k.automount_service_account_token).toBe(false);
    }
  });

  it("lets each Kubernetes service account impersonate only its own Google service account", () => {
    expect(wiBindings.map((b) => [b.service_account_id, b.role, b.member]).sort()).toEqual([
      [
        "projects/plue-example/serviceAccounts/plue-eso-api@plue-example.iam.gserviceaccount.com",
        "roles/iam.workloadIdentityUser",
        "serviceAccount:plue-example.svc.id.goog[external-secrets/eso-api]",
      ],
      [
        "projects/plue-example/serviceAccounts/plue-eso-egress@plue-example.iam.gserviceaccount.com",
        "roles/iam.workloadIdentityUser",
        "serviceAccount:plue-example.svc.id.goog[external-secrets/eso-egress]",
      ],
      [
        "projects/plue-example/serviceAccounts/plue-eso-migrate@plue-example.iam.gserviceaccount.com",
        "roles/iam.workloadIdentityUser",
        "serviceAccount:plue-example.svc.id.goog[external-secrets/eso-migrate]",
      ],
    ]);
    expect(tf.resource?.google_project_iam_member).toBeUndefined();
  });

  it("uses the cluster's Workload Identity pool", () => {
    const cluster = only(stack("cluster"), "google_container_cluster") as Resource;
    for (const b of wiBindings)
      expect(b.member).toMatch(new RegExp(`^serviceAccount:${cluster.workload_identity_config.workload_pool.replace(/\./g, "\\.")}\\[`));
  });

  it("applies the network policies before the release, so the operator never runs unrestricted", () => {
    for (const id of Object.keys(manifests)) expect(release.depends_on).toContain(`kubernetes_manifest.${id}`);
  });
});

describe("operator network policies (lib/netpol evaluate)", () => {
  it("isolates every operator pod in both directions", () => {
    for (const p of Object.values(operatorPods)) {
      const d = evaluate(objects, { from: p, to: ext("10.10.0.5"), port: 80 });
      expect(d.egress.isolated).toBe(true);
      expect(evaluate(objects, { from: ext("10.10.0.5"), to: p, port: 8080 }).ingress.isolated).toBe(true);
    }
  });

  it("lets every operator pod resolve names through kube-dns on UDP and TCP 53", () => {
    for (const p of Object.values(operatorPods)) {
      expect(allowed(p, kubeDns, 53, "UDP")).toBe(true);
      expect(allowed(p, kubeDns, 53, "TCP")).toBe(true);
      expect(allowed(p, kubeDns, 5353, "UDP")).toBe(false);
    }
  });

  it("lets every operator pod reach the Kubernetes API (control plane range) on 443 only", () => {
    for (const p of Object.values(operatorPods)) {
      expect(allowed(p, apiServer, 443)).toBe(true);
      expect(allowed(p, apiServer, 10250)).toBe(false);
    }
  });

  it("lets the controller reach Google APIs on 443 through the Private Google Access VIPs", () => {
    expect(allowed(controller, ext("199.36.153.9"), 443)).toBe(true);
    expect(allowed(controller, ext("199.36.153.5"), 443)).toBe(true);
    expect(allowed(controller, ext("199.36.153.9"), 80)).toBe(false);
  });

  it("lets the controller reach secretmanager, iamcredentials and securetoken.googleapis.com by name on 443, and no other name", () => {
    for (const host of ["secretmanager.googleapis.com", "iamcredentials.googleapis.com", "securetoken.googleapis.com"]) {
      expect(allowed(controller, ext("142.250.4.95", host), 443)).toBe(true);
      expect(allowed(controller, ext("142.250.4.95", host), 80)).toBe(false);
    }
    expect(allowed(controller, ext("142.250.4.95", "storage.googleapis.com"), 443)).toBe(false);
    expect(allowed(controller, ext("93.184.215.14", "example.com"), 443)).toBe(false);
  });

  it("denies Google APIs to the webhook and the cert controller", () => {
    for (const p of [webhook, certController]) {
      expect(allowed(p, ext("199.36.153.9"), 443)).toBe(false);
      expect(allowed(p, ext("142.250.4.95", "secretmanager.googleapis.com"), 443)).toBe(false);
    }
  });

  it("denies the metadata server to every operator pod (stores name the cluster; tokens come from the Kubernetes API)", () => {
    for (const p of Object.values(operatorPods)) {
      expect(allowed(p, metadataServer, 80)).toBe(false);
      expect(allowed(p, metadataServer, 988)).toBe(false);
      expect(allowed(p, ext("169.254.169.252"), 988)).toBe(false);
    }
  });

  it("denies public addresses not named as Google APIs, such as 8.8.8.8:443", () => {
    for (const p of Object.values(operatorPods)) expect(allowed(p, ext("8.8.8.8"), 443)).toBe(false);
  });

  it("admits only the control plane, only to the webhook's port", () => {
    const controlPlane = ext("172.16.0.35");
    expect(allowed(controlPlane, webhook, 10250)).toBe(true);
    expect(allowed(controlPlane, webhook, 8080)).toBe(false);
    expect(allowed(controlPlane, controller, 10250)).toBe(false);
    expect(allowed(ext("10.10.0.5"), webhook, 10250)).toBe(false);
    expect(allowed(pod({ "app.kubernetes.io/name": "api" }, "api"), webhook, 10250)).toBe(false);
    expect(allowed(pod({ "app.kubernetes.io/name": "api" }, "api"), controller, 8080)).toBe(false);
  });
});

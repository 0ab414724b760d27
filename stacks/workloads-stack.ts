import type { Construct } from "constructs";
import type { Chart } from "cdk8s";
import { dependable } from "cdktf";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { Manifest, type ManifestConfig } from "@cdktf/provider-kubernetes/lib/manifest";
import { PlueStack, type PlueStackProps } from "./plue-stack.ts";
import { clusterAccess } from "../constructs/cluster-access.ts";
import { names } from "../config/names.ts";
import { K8S } from "../lib/k8s-names.ts";

/** Props of {@link WorkloadsStack}. */
export interface WorkloadsStackProps extends PlueStackProps {
  /** The charts to apply, in apply order. */
  readonly charts: readonly Chart[];
  /** Name of the schema Job: the API waits for it to complete. */
  readonly schemaJobName?: string;
}

/** A Kubernetes object as cdk8s renders it. */
interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly [key: string]: unknown;
}

/** Kinds that External Secrets reconciles and marks `Ready`. */
export const EXTERNAL_SECRETS_KINDS = ["ExternalSecret", "ClusterSecretStore", "SecretStore"] as const;

/**
 * Fields the API server writes into a Job, beside the default computed `metadata.labels` and
 * `metadata.annotations` (`computed_fields` replaces the default, so those are listed too): the
 * `job-name` and `controller-uid` labels on the pod template. Without them every apply ends in
 * "Provider produced inconsistent result" (docs/adr/0010, item 1).
 */
export const JOB_COMPUTED_FIELDS = ["metadata.annotations", "metadata.labels", "spec.template.metadata.labels"] as const;

/**
 * How the stack applies an object: every Job with its server-written fields computed; the stack
 * waits for the schema Job until `Complete` (its own deadline is 600 s;
 * the wait never stops on `Failed`, so the timeout stays close to it), a Deployment until rolled
 * out, External Secrets objects until `Ready` (a wrong store or a missing value fails here, not as
 * the Job's timeout); others not at all.
 */
export function applyOptions(o: K8sObject, isSchemaJob: boolean): Partial<ManifestConfig> {
  if (o.kind === "Job") {
    return {
      computedFields: [...JOB_COMPUTED_FIELDS],
      ...(isSchemaJob ? { wait: { condition: [{ type: "Complete", status: "True" }] }, timeouts: { create: "12m", update: "12m" } } : {}),
    };
  }
  if (o.kind === "Deployment") return { wait: { rollout: true }, timeouts: { create: "10m", update: "10m" } };
  if ((EXTERNAL_SECRETS_KINDS as readonly string[]).includes(o.kind)) {
    return { wait: { condition: [{ type: "Ready", status: "True" }] }, timeouts: { create: "5m", update: "5m" } };
  }
  return {};
}

/**
 * Kinds a Deployment's pods need, or start behind, in their own namespace: their service account,
 * configuration, credentials and network policies.
 */
export const POD_PREREQUISITE_KINDS = ["ServiceAccount", "ConfigMap", "ExternalSecret", "NetworkPolicy", "FQDNNetworkPolicy"] as const;

/** The Deployment that starts runner pods (the API): it rolls out last. */
export function startsRunners(o: {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
}): boolean {
  return o.kind === "Deployment" && o.metadata.namespace === K8S.namespaces.api && o.metadata.name === K8S.apps.api;
}

/** Stable Terraform id of an object: renaming it would destroy and recreate the object. */
export function manifestId(chartId: string, o: K8sObject): string {
  return [chartId, o.kind.toLowerCase(), o.metadata.namespace ?? "cluster", o.metadata.name].join("-").replace(/[^A-Za-z0-9_-]/g, "_");
}

/**
 * The `workloads` stack: every object of every chart as one `kubernetes_manifest`, applied
 * through the cluster's IAM-authenticated DNS endpoint. Ordering: namespaces first; objects
 * that use the platform stack's CRDs come after that stack (stack dependency); each admission
 * policy binding after its policy; each ExternalSecret after its store; the schema Job after its
 * ExternalSecret and NetworkPolicy, and it is waited for (`Complete`); every Deployment after its
 * own chart's service accounts, ConfigMaps, ExternalSecrets and network policies; the API
 * Deployment after everything else — every runner guardrail and the egress gateway, rolled out —
 * so no runner can start before its guardrails and its only way out exist.
 * @see https://registry.terraform.io/providers/hashicorp/kubernetes/latest/docs/resources/manifest
 */
export class WorkloadsStack extends PlueStack {
  /** Manifests by id. */
  readonly manifests: ReadonlyMap<string, Manifest>;

  constructor(scope: Construct, id: string, props: WorkloadsStackProps) {
    super(scope, id, props);
    const access = clusterAccess(this, { clusterName: names(props.config).cluster, location: props.config.project.region });
    const provider = new KubernetesProvider(this, "kubernetes", { host: access.host, token: access.token });

    // Pass 1: one manifest per object.
    const manifests = new Map<string, Manifest>();
    const objects = new Map<Manifest, { readonly o: K8sObject; readonly chart: string }>();
    for (const chart of props.charts) {
      for (const o of chart.toJson() as K8sObject[]) {
        const isSchemaJob = o.kind === "Job" && o.metadata.name === props.schemaJobName;
        const id = manifestId(chart.node.id, o);
        if (manifests.has(id)) throw new Error(`workloads: two objects share the id ${id}`);
        const m = new Manifest(this, id, { provider, manifest: o, ...applyOptions(o, isSchemaJob) } satisfies ManifestConfig);
        manifests.set(id, m);
        objects.set(m, { o, chart: chart.node.id });
      }
    }

    // Pass 2: explicit ordering.
    const all = [...objects.entries()];
    const where = (test: (o: K8sObject, chart: string) => boolean) => all.filter(([, x]) => test(x.o, x.chart)).map(([m]) => m);
    for (const [m, { o, chart }] of all) {
      const ns = o.metadata.namespace;
      const deps = where((x) => x.kind === "Namespace" && x.metadata.name === ns);
      if (o.kind === "Job" && o.metadata.name === props.schemaJobName) {
        // The Job runs only with its credentials and its network policies in place.
        deps.push(...where((x) => (x.kind === "ExternalSecret" || x.kind === "NetworkPolicy") && x.metadata.namespace === ns));
      }
      if (startsRunners(o)) {
        // The API starts runner pods: every guardrail (admission policies, quota, RBAC, network
        // policies), the egress gateway (rolled out), its secrets and the schema Job come first —
        // every other chart's objects, and its own service account.
        deps.push(...where((x, c) => c !== chart || x.kind === "ServiceAccount"));
      } else if (o.kind === "Deployment") {
        // Any other Deployment (the egress gateway) starts behind its own policies, with its
        // configuration and its key in place.
        const kinds: readonly string[] = POD_PREREQUISITE_KINDS;
        deps.push(...where((x, c) => c === chart && x.metadata.namespace === ns && kinds.includes(x.kind)));
      }
      if (o.kind === "ExternalSecret") {
        const store = (o as { spec?: { secretStoreRef?: { kind?: string; name?: string } } }).spec?.secretStoreRef;
        deps.push(...where((x) => x.kind === store?.kind && x.metadata.name === store?.name));
      }
      if (o.kind === "ValidatingAdmissionPolicyBinding") {
        const policyName = (o as { spec?: { policyName?: string } }).spec?.policyName;
        deps.push(...where((x) => x.kind === "ValidatingAdmissionPolicy" && x.metadata.name === policyName));
      }
      const unique = [...new Set(deps)].filter((d) => d !== m);
      if (unique.length > 0) m.dependsOn = unique.map((d) => dependable(d));
    }
    this.manifests = manifests;
  }
}

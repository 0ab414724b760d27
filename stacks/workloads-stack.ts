import type { Construct } from "constructs";
import type { Chart } from "cdk8s";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { Manifest, type ManifestConfig } from "@cdktf/provider-kubernetes/lib/manifest";
import { PlueStack, type PlueStackProps } from "./plue-stack.ts";
import { clusterAccess } from "../lib/kube-access.ts";

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

/** Stable Terraform id of an object: renaming it would destroy and recreate the object. */
export function manifestId(chartId: string, o: K8sObject): string {
  return [chartId, o.kind.toLowerCase(), o.metadata.namespace ?? "cluster", o.metadata.name].join("-").replace(/[^A-Za-z0-9_-]/g, "_");
}

/**
 * The `workloads` stack: every object of every chart as one `kubernetes_manifest`, applied
 * through the cluster's IAM-authenticated DNS endpoint. Ordering: namespaces first; objects
 * that use the platform stack's CRDs come after that stack (stack dependency); the schema Job
 * is waited for (`Complete`), and the API Deployment only rolls out after it.
 * @see https://registry.terraform.io/providers/hashicorp/kubernetes/latest/docs/resources/manifest
 */
export class WorkloadsStack extends PlueStack {
  /** Manifests by id. */
  readonly manifests: ReadonlyMap<string, Manifest>;

  constructor(scope: Construct, id: string, props: WorkloadsStackProps) {
    super(scope, id, props);
    const access = clusterAccess(this, props.config);
    const provider = new KubernetesProvider(this, "kubernetes", { host: access.host, token: access.token });

    const manifests = new Map<string, Manifest>();
    const namespaces = new Map<string, Manifest>();
    const byKind = (kind: string, namespace?: string) =>
      [...manifests.values()].filter((m) => {
        const o = m.manifestInput as K8sObject | undefined;
        return o?.kind === kind && (namespace === undefined || o.metadata.namespace === namespace);
      });

    for (const chart of props.charts) {
      for (const o of chart.toJson() as K8sObject[]) {
        const deps: Manifest[] = [];
        const ns = o.metadata.namespace;
        const nsManifest = ns ? namespaces.get(ns) : undefined;
        if (nsManifest) deps.push(nsManifest);
        const isSchemaJob = o.kind === "Job" && props.schemaJobName !== undefined && o.metadata.name === props.schemaJobName;
        if (isSchemaJob || o.kind === "Deployment") deps.push(...byKind("ExternalSecret", ns));
        if (o.kind === "Deployment") deps.push(...byKind("Job", ns));

        const config: ManifestConfig = {
          provider,
          manifest: o,
          ...(deps.length > 0 ? { dependsOn: deps } : {}),
          ...(isSchemaJob
            ? { wait: { condition: [{ type: "Complete", status: "True" }] }, timeouts: { create: "15m", update: "15m" } }
            : {}),
          ...(o.kind === "Deployment" ? { wait: { rollout: true }, timeouts: { create: "10m", update: "10m" } } : {}),
        };
        const id = manifestId(chart.node.id, o);
        if (manifests.has(id)) throw new Error(`workloads: two objects share the id ${id}`);
        const m = new Manifest(this, id, config);
        manifests.set(id, m);
        if (o.kind === "Namespace") namespaces.set(o.metadata.name, m);
      }
    }
    this.manifests = manifests;
  }
}

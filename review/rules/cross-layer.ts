/**
 * Cross-layer rules: facts that hold only when a Kubernetes object and a cloud resource of another
 * stack agree. No single-layer scanner (checkov, kube-linter) sees both sides.
 */
import { parseCidr, cidrsOverlap } from "../../lib/cidr.ts";
import { K8S } from "../../lib/k8s-names.ts";
import { type AppliedObject, type Block, isLiteral, type Json } from "../plan-model.ts";
import {
  blockNamespace,
  finding,
  get,
  isGvisorPool,
  list,
  objectsOfKind,
  podSpecs,
  projectOf,
  referenced,
  resourcesOf,
} from "./helpers.ts";
import { memberOf } from "./iam.ts";
import type { Finding, PostureRule, ReviewContext } from "./types.ts";

/** Labels GKE puts on a pool's nodes: its own, the pool name, and the sandbox label on gVisor pools. */
function nodeLabels(pool: Block): Record<string, string> {
  return {
    ...((get(pool.body, "node_config.labels") ?? {}) as Record<string, string>),
    "cloud.google.com/gke-nodepool": String(pool.body.name),
    ...(isGvisorPool(pool) ? { [K8S.sandboxNodeLabel]: K8S.runtimeClass } : {}),
  };
}

export const runnerOnGvisorPool: PostureRule = {
  id: "XL01",
  title: "the runner template (and every gVisor pod) selects a gVisor pool that exists",
  severity: "error",
  rationale:
    "runtimeClassName gvisor with a node selector no pool satisfies leaves runner pods Pending forever; a selector that matches a runc pool, or no toleration of GKE's sandbox taint, defeats the sandbox",
  references: {
    seed: "000 Sandboxed Execution (gVisor): Node Isolation",
    docs: "https://cloud.google.com/kubernetes-engine/docs/how-to/sandbox-pods",
  },
  check(ctx) {
    const out: Finding[] = [];
    const pools = resourcesOf(ctx, "google_container_node_pool");
    const template = objectsOfKind(ctx, "PodTemplate").find((t) => t.object.metadata.namespace === K8S.namespaces.runners);
    if (!template) {
      const ns = objectsOfKind(ctx, "Namespace").find((n) => n.object.metadata.name === K8S.namespaces.runners);
      const anchor = ns ?? pools.find(isGvisorPool);
      if (anchor)
        out.push(
          finding(
            runnerOnGvisorPool,
            anchor,
            `no PodTemplate in namespace ${K8S.namespaces.runners}: the API has no runner template to start`,
            "the runner-sandbox chart's PodTemplate",
          ),
        );
      return out;
    }
    for (const pod of podSpecs(ctx)) {
      const isRunner = pod.applied === template;
      const wantsSandbox =
        pod.spec.runtimeClassName === K8S.runtimeClass || ((pod.spec.nodeSelector ?? {}) as Json)[K8S.sandboxNodeLabel] !== undefined;
      if (!isRunner && !wantsSandbox) continue;
      if (pod.spec.runtimeClassName !== K8S.runtimeClass)
        out.push(
          finding(
            runnerOnGvisorPool,
            pod.applied,
            `${pod.label}: runtimeClassName is ${JSON.stringify(pod.spec.runtimeClassName)}`,
            `runtimeClassName: ${K8S.runtimeClass}`,
          ),
        );
      const selector = (pod.spec.nodeSelector ?? {}) as Record<string, string>;
      const matching = pools.filter((p) => Object.entries(selector).every(([k, v]) => nodeLabels(p)[k] === v));
      if (Object.keys(selector).length === 0)
        out.push(
          finding(
            runnerOnGvisorPool,
            pod.applied,
            `${pod.label}: no nodeSelector, so nothing keeps it on the gVisor pool`,
            `nodeSelector: { ${K8S.sandboxNodeLabel}: ${K8S.runtimeClass} }`,
          ),
        );
      else if (matching.length === 0)
        out.push(
          finding(
            runnerOnGvisorPool,
            pod.applied,
            `${pod.label}: nodeSelector ${JSON.stringify(selector)} matches no node pool of the plan (pools: ${pools.map((p) => String(p.body.name)).join(", ")})`,
            "select the labels of the gVisor pool",
          ),
        );
      else if (!matching.every(isGvisorPool))
        out.push(
          finding(
            runnerOnGvisorPool,
            pod.applied,
            `${pod.label}: nodeSelector ${JSON.stringify(selector)} also matches non-gVisor pools (${matching
              .filter((p) => !isGvisorPool(p))
              .map((p) => String(p.body.name))
              .join(", ")})`,
            `select ${K8S.sandboxNodeLabel}: ${K8S.runtimeClass}`,
          ),
        );
      const tolerates = list(pod.spec, "tolerations").some(
        (t) =>
          get(t, "key") === K8S.sandboxNodeLabel &&
          (get(t, "operator") === "Exists" || get(t, "value") === K8S.runtimeClass) &&
          [undefined, "NoSchedule"].includes(get(t, "effect") as string | undefined),
      );
      if (!tolerates)
        out.push(
          finding(
            runnerOnGvisorPool,
            pod.applied,
            `${pod.label}: does not tolerate GKE's sandbox taint ${K8S.sandboxNodeLabel}=${K8S.runtimeClass}:NoSchedule`,
            "add the toleration",
          ),
        );
    }
    return out;
  },
};

/** A Kubernetes service account of the plan and its Google service account annotation. */
interface Ksa {
  readonly namespace: string;
  readonly name: string;
  readonly gsa: string | undefined;
  readonly target: Block | AppliedObject;
}

/** Every Kubernetes service account the plan creates (objects and kubernetes_service_account_v1). */
function serviceAccounts(ctx: ReviewContext): Ksa[] {
  const out: Ksa[] = objectsOfKind(ctx, "ServiceAccount").map((a) => ({
    namespace: a.object.metadata.namespace ?? "default",
    name: a.object.metadata.name,
    gsa: a.object.metadata.annotations?.["iam.gke.io/gcp-service-account"],
    target: a,
  }));
  for (const b of resourcesOf(ctx, "kubernetes_service_account_v1")) {
    const name = get(b.body, "metadata.name");
    const ns = blockNamespace(ctx.plan, b);
    const gsa = ((get(b.body, "metadata.annotations") ?? {}) as Record<string, string>)["iam.gke.io/gcp-service-account"];
    if (isLiteral(name) && ns) out.push({ namespace: ns, name, gsa, target: b });
  }
  return out;
}

/** `serviceAccount:<email>` members granted roles/secretmanager.secretAccessor on each secret id. */
function secretReaders(ctx: ReviewContext): Map<string, Set<string>> {
  const byAddress = new Map(resourcesOf(ctx, "google_secret_manager_secret").map((s) => [`${s.stack}/${s.address}`, s]));
  const out = new Map<string, Set<string>>();
  for (const b of resourcesOf(ctx, "google_secret_manager_secret_iam_member")) {
    if (b.body.role !== "roles/secretmanager.secretAccessor" || typeof b.body.member !== "string") continue;
    const ref = /\$\{(google_secret_manager_secret\.[^.}]+)/.exec(String(b.body.secret_id))?.[1];
    const secret = ref ? byAddress.get(`${b.stack}/${ref}`) : undefined;
    const id = secret ? secret.body.secret_id : b.body.secret_id;
    if (!isLiteral(id)) continue;
    const set = out.get(id) ?? new Set<string>();
    set.add(memberOf(ctx.plan, b, b.body.member));
    out.set(id, set);
  }
  return out;
}

export const externalSecretKeysReadable: PostureRule = {
  id: "XL02",
  title: "every ExternalSecret key is a declared secret its store's identity may read",
  severity: "error",
  rationale:
    "an ExternalSecret whose remote key is not a Secret Manager secret of the plan, or whose store's Google identity has no accessor grant on it, never syncs: the Job and the API wait for a Secret that never comes",
  references: { seed: "000 Secrets Management", docs: "https://external-secrets.io/latest/provider/google-secrets-manager/" },
  check(ctx) {
    const out: Finding[] = [];
    const stores = objectsOfKind(ctx, "ClusterSecretStore", "SecretStore");
    const declared = new Map(
      resourcesOf(ctx, "google_secret_manager_secret")
        .filter((s) => isLiteral(s.body.secret_id))
        .map((s) => [s.body.secret_id as string, s]),
    );
    const readers = secretReaders(ctx);
    const ksas = serviceAccounts(ctx);
    for (const es of objectsOfKind(ctx, "ExternalSecret")) {
      const ref = (get(es.object, "spec.secretStoreRef") ?? {}) as Json;
      const kind = String(ref.kind ?? "SecretStore");
      const store = stores.find(
        (s) =>
          s.object.kind === kind &&
          s.object.metadata.name === ref.name &&
          (kind === "ClusterSecretStore" || s.object.metadata.namespace === es.object.metadata.namespace),
      );
      if (!store) {
        out.push(
          finding(
            externalSecretKeysReadable,
            es,
            `secretStoreRef ${kind}/${String(ref.name)} is not a store of the plan`,
            "name a store the plan creates",
          ),
        );
        continue;
      }
      const allowedNs = list(store.object, "spec.conditions").flatMap((c) => list(c, "namespaces"));
      if (kind === "ClusterSecretStore" && allowedNs.length > 0 && !allowedNs.includes(es.object.metadata.namespace)) {
        out.push(
          finding(
            externalSecretKeysReadable,
            es,
            `store ${store.object.metadata.name} admits namespaces ${allowedNs.join(", ")}, not ${String(es.object.metadata.namespace)}`,
            "add the namespace to the store's conditions",
          ),
        );
      }
      const saRef = (get(store.object, "spec.provider.gcpsm.auth.workloadIdentity.serviceAccountRef") ?? {}) as Json;
      const ksa = ksas.find((k) => k.name === saRef.name && k.namespace === (saRef.namespace ?? store.object.metadata.namespace));
      const member = ksa?.gsa ? `serviceAccount:${ksa.gsa}` : undefined;
      if (!member) {
        out.push(
          finding(
            externalSecretKeysReadable,
            store,
            `store ${store.object.metadata.name}: serviceAccountRef ${String(saRef.namespace)}/${String(saRef.name)} is not a service account of the plan annotated with a Google service account`,
            "create the KSA with iam.gke.io/gcp-service-account",
          ),
        );
        continue;
      }
      const keys = [
        ...list(es.object, "spec.data").map((d) => get(d, "remoteRef.key")),
        ...list(es.object, "spec.dataFrom").map((d) => get(d, "extract.key")),
      ];
      for (const key of keys.filter((k): k is string => typeof k === "string")) {
        if (!declared.has(key))
          out.push(
            finding(
              externalSecretKeysReadable,
              es,
              `remote key ${key} is not a Secret Manager secret the plan declares`,
              "add it to secrets.items (or fix the key)",
            ),
          );
        else if (!readers.get(key)?.has(member))
          out.push(
            finding(
              externalSecretKeysReadable,
              es,
              `remote key ${key}: ${member} (store ${store.object.metadata.name}) has no secretAccessor grant on it`,
              "add the consumer to the secret's consumers (per-secret binding)",
            ),
          );
      }
    }
    return out;
  },
};

export const storeMatchesCluster: PostureRule = {
  id: "XL03",
  title: "External Secrets stores name this cluster (name, location, project)",
  severity: "error",
  rationale:
    "Workload Identity auth asks GKE for a token of the named cluster; a wrong clusterName/clusterLocation is ESO's most common failure (could not get idbindtoken token)",
  references: { docs: "https://external-secrets.io/latest/provider/google-secrets-manager/#using-workload-identity" },
  check(ctx) {
    const clusters = resourcesOf(ctx, "google_container_cluster").map((c) => ({
      name: c.body.name,
      location: c.body.location,
      project: projectOf(ctx.plan, c),
    }));
    return objectsOfKind(ctx, "ClusterSecretStore", "SecretStore").flatMap((s) => {
      const wi = get(s.object, "spec.provider.gcpsm.auth.workloadIdentity") as Json | undefined;
      if (!wi) return [];
      const want = {
        name: wi.clusterName,
        location: wi.clusterLocation,
        project: wi.clusterProjectID ?? get(s.object, "spec.provider.gcpsm.projectID"),
      };
      if (clusters.some((c) => c.name === want.name && c.location === want.location && c.project === want.project)) return [];
      return [
        finding(
          storeMatchesCluster,
          s,
          `workloadIdentity names cluster ${String(want.project)}/${String(want.location)}/${String(want.name)}; the plan's clusters: ${clusters.map((c) => `${c.project}/${c.location}/${c.name}`).join(", ") || "none"}`,
          "clusterName, clusterLocation and clusterProjectID of the cluster stack's google_container_cluster",
        ),
      ];
    });
  },
};

/** The e-mail of the Google service account a `service_account_id` names (literal id, or a reference to the account). */
function gsaEmail(ctx: ReviewContext, from: Block, value: unknown): string | undefined {
  if (isLiteral(value)) return value.split("/").pop();
  const sa = referenced(ctx.plan, from, value);
  return sa?.type === "google_service_account" && isLiteral(sa.body.account_id)
    ? `${sa.body.account_id}@${projectOf(ctx.plan, sa)}.iam.gserviceaccount.com`
    : undefined;
}

export const workloadIdentityChain: PostureRule = {
  id: "XL04",
  title: "every Workload Identity annotation has its workloadIdentityUser grant",
  severity: "error",
  rationale:
    "a Kubernetes service account annotated with a Google account works only when that account grants roles/iam.workloadIdentityUser to exactly this namespace/name",
  references: { cis: "5.2.2", docs: "https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity" },
  check(ctx) {
    const grants = resourcesOf(ctx, "google_service_account_iam_member").filter((g) => g.body.role === "roles/iam.workloadIdentityUser");
    const pool = get(resourcesOf(ctx, "google_container_cluster")[0]?.body, "workload_identity_config.workload_pool");
    return serviceAccounts(ctx)
      .filter((k) => k.gsa !== undefined)
      .flatMap((k) => {
        const member = `serviceAccount:${String(pool)}[${k.namespace}/${k.name}]`;
        const ok = grants.some((g) => g.body.member === member && gsaEmail(ctx, g, g.body.service_account_id) === k.gsa);
        return ok
          ? []
          : [
              finding(
                workloadIdentityChain,
                k.target,
                `${k.namespace}/${k.name} is annotated with ${k.gsa}, which grants no roles/iam.workloadIdentityUser to ${member}`,
                `google_service_account_iam_member { service_account_id = <${k.gsa}>, role = "roles/iam.workloadIdentityUser", member = "${member}" }`,
              ),
            ];
      });
  },
};

/** Google's load balancer and health check ranges (https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges). */
const LB_RANGES = ["35.191.0.0/16", "130.211.0.0/22"];

export const negMatchesEdge: PostureRule = {
  id: "XL05",
  title: "the edge's NEG lookups, health check and firewall match the API Service",
  severity: "error",
  rationale:
    "the load balancer finds the API through the standalone NEG the Service's annotation names, in the cluster's zones, on the port the firewall opens to Google's ranges; any mismatch is an empty backend",
  references: { docs: "https://cloud.google.com/kubernetes-engine/docs/how-to/standalone-neg" },
  check(ctx) {
    const out: Finding[] = [];
    const negs = new Map<string, number>();
    for (const svc of objectsOfKind(ctx, "Service")) {
      const ann = svc.object.metadata.annotations?.["cloud.google.com/neg"];
      if (!ann) continue;
      const exposed = ((JSON.parse(ann) as Json).exposed_ports ?? {}) as Record<string, { name?: string }>;
      for (const [port, v] of Object.entries(exposed)) if (v.name) negs.set(v.name, Number(port));
    }
    const zones = new Set(resourcesOf(ctx, "google_container_cluster").flatMap((c) => list(c.body, "node_locations").map(String)));
    const fws = resourcesOf(ctx, "google_compute_firewall").filter((f) =>
      list(f.body, "source_ranges").some((r) => LB_RANGES.includes(String(r))),
    );
    for (const d of resourcesOf(ctx, "google_compute_network_endpoint_group").concat(
      ctx.plan.stacks.flatMap((s) => s.blocks.filter((b) => b.mode === "data" && b.type === "google_compute_network_endpoint_group")),
    )) {
      const port = negs.get(String(d.body.name));
      if (port === undefined) {
        out.push(
          finding(
            negMatchesEdge,
            d,
            `NEG ${String(d.body.name)} is not named by any Service's cloud.google.com/neg annotation`,
            "use the NEG name of the API Service",
          ),
        );
        continue;
      }
      if (zones.size > 0 && !zones.has(String(d.body.zone)))
        out.push(
          finding(
            negMatchesEdge,
            d,
            `zone ${String(d.body.zone)} is not a node location of the cluster (${[...zones].join(", ")})`,
            "look the NEG up in the cluster's zones",
          ),
        );
      if (!fws.some((f) => list(f.body, "allow").some((a) => list(a, "ports").some((p) => String(p) === String(port))))) {
        out.push(
          finding(
            negMatchesEdge,
            d,
            `no firewall rule admits Google's load balancer ranges to port ${port}`,
            `google_compute_firewall allowing tcp:${port} from ${LB_RANGES.join(", ")}`,
          ),
        );
      }
    }
    for (const hc of resourcesOf(ctx, "google_compute_health_check")) {
      const p = get(hc.body, "http_health_check.port") ?? get(hc.body, "https_health_check.port");
      if (negs.size > 0 && typeof p === "number" && ![...negs.values()].includes(p))
        out.push(
          finding(
            negMatchesEdge,
            hc,
            `health check port ${p} is not a NEG port of the Service (${[...negs.values()].join(", ")})`,
            "check the port the NEG exposes",
          ),
        );
    }
    return out;
  },
};

export const databasePolicyMatchesRange: PostureRule = {
  id: "XL06",
  title: "NetworkPolicy egress to PostgreSQL targets the private services range Cloud SQL uses",
  severity: "error",
  rationale:
    "the API and the schema Job reach Cloud SQL through the peering range of the network stack; a policy to another range breaks them, a wider one opens more than the database",
  references: { docs: "https://cloud.google.com/sql/docs/postgres/configure-private-services-access" },
  check(ctx) {
    const ranges = resourcesOf(ctx, "google_compute_global_address")
      .filter((a) => a.body.purpose === "VPC_PEERING" && isLiteral(a.body.address))
      .map((a) => parseCidr(`${String(a.body.address)}/${String(a.body.prefix_length)}`))
      .filter((c) => c !== undefined);
    if (ranges.length === 0) return [];
    const out: Finding[] = [];
    for (const np of objectsOfKind(ctx, "NetworkPolicy")) {
      for (const rule of list(np.object, "spec.egress")) {
        if (!list(rule, "ports").some((p) => get(p, "port") === 5432)) continue;
        for (const peer of list(rule, "to")) {
          const cidr = get(peer, "ipBlock.cidr");
          if (typeof cidr !== "string") continue;
          const c = parseCidr(cidr);
          const inside = c !== undefined && ranges.some((r) => r && cidrsOverlap(r, c) && c.prefix >= r.prefix);
          if (!inside)
            out.push(
              finding(
                databasePolicyMatchesRange,
                np,
                `allows 5432 to ${cidr}, outside the private services range ${ranges.map((r) => r?.text).join(", ")}`,
                "use the network stack's private services range",
              ),
            );
        }
      }
    }
    return out;
  },
};

/** Every cross-layer rule, in id order. */
export const CROSS_LAYER_RULES: readonly PostureRule[] = [
  runnerOnGvisorPool,
  externalSecretKeysReadable,
  storeMatchesCluster,
  workloadIdentityChain,
  negMatchesEdge,
  databasePolicyMatchesRange,
];

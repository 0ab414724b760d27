/** Rules about where pods can run: node placement per zone, and pool capacity against quotas. */
import { appliedObjects, at, blocksOfType, type Block, isLiteral, type Json } from "../../plan-model.ts";
import { allocatable, fitPerNode, machineShape } from "../../../lib/gke-capacity.ts";
import { quantityValue } from "../../../lib/quantity.ts";
import type { Finding, Rule } from "../types.ts";

/** The per-zone node floor a pool guarantees in `zone` (0 when it guarantees none there). */
function perZoneFloor(pool: Block, zone: string): number {
  const locations = pool.body.node_locations;
  if (!Array.isArray(locations) || !locations.includes(zone)) return 0;
  const autoscaling = pool.body.autoscaling as Json | undefined;
  if (autoscaling) return typeof autoscaling.min_node_count === "number" ? autoscaling.min_node_count : 0;
  return typeof pool.body.node_count === "number" ? pool.body.node_count : 0;
}

/** DR007: a per-zone lookup (a standalone NEG in each zone) that the node pools do not guarantee. */
export const perZoneLookups: Rule = {
  id: "DR007",
  title: "per-zone lookups versus node placement",
  rationale:
    "the GKE NEG controller creates a standalone NEG only in zones that have candidate nodes; a data source that reads the NEG in a zone where no pool guarantees a node fails at plan time (total_min_node_count with BALANCED is a preference, not a per-zone floor)",
  source:
    "https://github.com/kubernetes/ingress-gce/blob/master/pkg/neg/syncers/transaction.go (ensureNetworkEndpointGroups: 'NEGs should be created in zones with candidate nodes only'); https://cloud.google.com/kubernetes-engine/docs/concepts/cluster-autoscaler#balancing_across_zones",
  severity: "error",
  check(plan) {
    const pools = blocksOfType(plan, "google_container_node_pool");
    return blocksOfType(plan, "google_compute_network_endpoint_group", "data").flatMap((neg) => {
      const zone = neg.body.zone;
      if (!isLiteral(zone)) return [];
      if (pools.some((p) => perZoneFloor(p, zone) >= 1)) return [];
      return [
        {
          rule: "DR007",
          severity: "error" as const,
          stack: neg.stack,
          address: neg.address,
          message: `reads the NEG ${String(neg.body.name)} in ${zone}, but no node pool guarantees a node there (${pools.map((p) => `${p.address}: per-zone min ${perZoneFloor(p, zone)}`).join("; ") || "no pools"}): the NEG may not exist and the plan fails`,
          fix: `give the pool the API runs on a per-zone floor (autoscaling { min_node_count = 1, max_node_count = ceil(max / zones) } instead of total_*), or refuse configs whose systemPool.minNodes is below the number of zones`,
        },
      ];
    });
  },
};

/** Sum of the containers' requests of a pod spec (CPU in cores, memory in bytes). */
function podRequests(spec: Json): { cpu: number; memory: number } {
  const containers = (Array.isArray(spec.containers) ? spec.containers : []) as Json[];
  const sum = { cpu: 0, memory: 0 };
  for (const c of containers) {
    const req = (at(c, "resources.requests") ?? {}) as Json;
    sum.cpu += typeof req.cpu === "string" ? (quantityValue(req.cpu) ?? 0) : 0;
    sum.memory += typeof req.memory === "string" ? (quantityValue(req.memory) ?? 0) : 0;
  }
  return sum;
}

/** The most nodes a pool can have. */
function maxNodes(pool: Block): number | undefined {
  const a = pool.body.autoscaling as Json | undefined;
  const zones = Array.isArray(pool.body.node_locations) ? pool.body.node_locations.length : 1;
  if (a && typeof a.total_max_node_count === "number") return a.total_max_node_count;
  if (a && typeof a.max_node_count === "number") return a.max_node_count * zones;
  return typeof pool.body.node_count === "number" ? pool.body.node_count * zones : undefined;
}

/** True when a pod with this node selector can land on the pool. */
function selects(pool: Block, selector: Record<string, string>): boolean {
  const sandbox = at(pool.body, "node_config.sandbox_config.sandbox_type");
  const labels = { ...((at(pool.body, "node_config.labels") ?? {}) as Record<string, string>) };
  if (sandbox === "gvisor") labels["sandbox.gke.io/runtime"] = "gvisor";
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** DR008: a namespace's pod quota cannot be met by the pool its pods must run on. */
export const capacityContradictions: Rule = {
  id: "DR008",
  title: "quotas the node pools cannot hold",
  rationale:
    "a ResourceQuota that admits more pods than the pool they are pinned to can ever run leaves the surplus Pending: the configuration contradicts itself (pool max nodes × pods per node, from GKE's allocatable, is an upper bound)",
  source: "https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes",
  severity: "warning",
  check(plan) {
    const objects = appliedObjects(plan);
    const pools = blocksOfType(plan, "google_container_node_pool");
    const findings: Finding[] = [];
    for (const quota of objects.filter((a) => a.object.kind === "ResourceQuota")) {
      const hardPods = at(quota.object, "spec.hard.pods");
      const limit = typeof hardPods === "string" ? Number(hardPods) : typeof hardPods === "number" ? hardPods : undefined;
      if (limit === undefined || !Number.isFinite(limit)) continue;
      const ns = quota.object.metadata.namespace;
      for (const t of objects.filter((a) => a.object.kind === "PodTemplate" && a.object.metadata.namespace === ns)) {
        const spec = at(t.object, "template.spec") as Json | undefined;
        const selector = (spec?.nodeSelector ?? {}) as Record<string, string>;
        if (!spec || Object.keys(selector).length === 0) continue;
        const request = podRequests(spec);
        for (const pool of pools.filter((p) => selects(p, selector))) {
          const type = at(pool.body, "node_config.machine_type");
          const shape = typeof type === "string" ? machineShape(type) : undefined;
          const nodes = maxNodes(pool);
          if (!shape || nodes === undefined) {
            findings.push({
              rule: "DR008",
              severity: "warning",
              stack: pool.stack,
              address: pool.address,
              message: `cannot size ${pool.address} (machine type ${String(type)}, max nodes ${String(nodes)}) against the quota of ${quota.address}`,
              fix: "add the machine type to MEMORY_PER_VCPU in lib/gke-capacity.ts, or give the pool a maximum",
            });
            continue;
          }
          const a = allocatable(shape);
          const perNode = fitPerNode(shape, request);
          if (!Number.isFinite(perNode) || perNode * nodes >= limit) continue;
          findings.push({
            rule: "DR008",
            severity: "warning",
            stack: quota.stack,
            address: quota.address,
            message: `quota admits ${limit} pods in ${ns}, but ${t.object.kind} ${t.object.metadata.name} (requests ${request.cpu} CPU, ${request.memory / 2 ** 30} GiB) fits ${perNode} per ${String(type)} node (allocatable ${a.cpu.toFixed(2)} CPU) and ${pool.address} has at most ${nodes} nodes: at most ${perNode * nodes} run`,
            fix:
              perNode === 0
                ? `a machine type with more than ${request.cpu} CPU and ${request.memory / 2 ** 30} GiB allocatable for ${pool.address}, or smaller requests`
                : `derive one from the other: the pool's maximum = ceil(${limit} / ${perNode}) = ${Math.ceil(limit / perNode)} nodes, or the quota = ${perNode * nodes} pods; or refuse the config when runner.maxPods > sandboxPool.maxNodes × pods per node`,
          });
        }
      }
    }
    return findings;
  },
};

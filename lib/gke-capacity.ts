/**
 * What a GKE node offers pods: the vCPUs and memory of predefined Compute Engine machine types,
 * less what GKE reserves. Shared by the config's capacity rule and the deploy-readiness check.
 */
import { quantityValue } from "./quantity.ts";

/** vCPUs and GiB of memory per vCPU, by machine family and shape. */
const MEMORY_PER_VCPU: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  e2: { standard: 4, highmem: 8, highcpu: 1 },
  n1: { standard: 3.75, highmem: 6.5, highcpu: 0.9 },
  n2: { standard: 4, highmem: 8, highcpu: 1 },
  n2d: { standard: 4, highmem: 8, highcpu: 1 },
  n4: { standard: 4, highmem: 8, highcpu: 2 },
  c2d: { standard: 4, highmem: 8, highcpu: 2 },
  c3: { standard: 4, highmem: 8, highcpu: 2 },
  t2d: { standard: 4 },
};

/** vCPUs and memory (bytes) of a predefined machine type; `undefined` when unknown. */
export function machineShape(type: string): { cpu: number; memory: number } | undefined {
  const m = /^([a-z0-9]+)-(standard|highmem|highcpu)-(\d+)$/.exec(type);
  const perVcpu = m ? MEMORY_PER_VCPU[m[1] ?? ""]?.[m[2] ?? ""] : undefined;
  if (!m || perVcpu === undefined) return undefined;
  const cpu = Number(m[3]);
  return { cpu, memory: cpu * perVcpu * 2 ** 30 };
}

/**
 * What GKE leaves for pods on a node: CPU minus 6% of the first core, 1% of the second, 0.5% of
 * the next two, 0.25% above four; memory minus 25% of the first 4 GiB, 20% of the next 4, 10% of
 * the next 8, 6% of the next 112, 2% above 128, and the 100 MiB eviction threshold. System
 * DaemonSets take more; this is an upper bound.
 * @see https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes
 */
export function allocatable(shape: { cpu: number; memory: number }): { cpu: number; memory: number } {
  const tiers = (total: number, steps: readonly [number, number][]) => {
    let left = total;
    let reserved = 0;
    for (const [size, rate] of steps) {
      const used = Math.min(left, size);
      reserved += used * rate;
      left -= used;
    }
    return reserved;
  };
  const cpuReserved = tiers(shape.cpu, [
    [1, 0.06],
    [1, 0.01],
    [2, 0.005],
    [Number.POSITIVE_INFINITY, 0.0025],
  ]);
  const gib = 2 ** 30;
  const memReserved =
    shape.memory < gib
      ? 255 * 2 ** 20
      : tiers(shape.memory, [
          [4 * gib, 0.25],
          [4 * gib, 0.2],
          [8 * gib, 0.1],
          [112 * gib, 0.06],
          [Number.POSITIVE_INFINITY, 0.02],
        ]);
  return { cpu: shape.cpu - cpuReserved, memory: shape.memory - memReserved - 100 * 2 ** 20 };
}

/** Requests of one pod: CPU and memory quantities as Kubernetes writes them. */
export interface PodRequests {
  readonly cpu: string;
  readonly memory: string;
}

/**
 * How many pods requesting `requests` fit on one node of `machineType` (GKE's allocatable, an upper
 * bound); `undefined` when the machine type or a quantity is unknown.
 */
export function podsPerNode(machineType: string, requests: PodRequests): number | undefined {
  const shape = machineShape(machineType);
  const cpu = quantityValue(requests.cpu);
  const memory = quantityValue(requests.memory);
  if (!shape || cpu === undefined || memory === undefined || cpu <= 0 || memory <= 0) return undefined;
  return fitPerNode(shape, { cpu, memory });
}

/** How many pods requesting `request` (CPU in cores, memory in bytes; 0 = not requested) fit on a node of `shape`. */
export function fitPerNode(shape: { cpu: number; memory: number }, request: { cpu: number; memory: number }): number {
  const a = allocatable(shape);
  return Math.max(
    0,
    Math.min(
      request.cpu > 0 ? Math.floor(a.cpu / request.cpu) : Number.POSITIVE_INFINITY,
      request.memory > 0 ? Math.floor(a.memory / request.memory) : Number.POSITIVE_INFINITY,
    ),
  );
}

/**
 * The picture of the system: the stacks and their dependencies, and the workloads with the flows
 * the synthesized NetworkPolicies allow (from the connectivity matrix), as Graphviz DOT rendered to
 * SVG by a WASM build of Graphviz (@hpcc-js/wasm-graphviz, offline).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Graphviz } from "@hpcc-js/wasm-graphviz";
import type { PlanModel } from "../plan-model.ts";
import type { MatrixRow } from "../netpol/index.ts";

/** A DOT string literal. */
function q(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Node ids of the workload graph (`w_` + endpoint name). */
export function workloadNodeId(endpoint: string): string {
  return `w_${endpoint.replace(/[^A-Za-z0-9]+/g, "_")}`;
}

/**
 * DOT of the system: one cluster of stacks (edges: "applied after"), one of workloads and
 * external endpoints (edges: allowed flows, solid; promised denials of the runner, dashed red).
 */
export function systemDot(plan: PlanModel, rows: readonly (MatrixRow & { readonly expect?: "allow" | "deny" })[]): string {
  const lines = [
    "digraph plue {",
    '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=0.6, bgcolor="white"];',
    '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", fillcolor="#eef3fb", color="#4a6fa5"];',
    '  edge [fontname="Helvetica", fontsize=9, color="#4a6fa5"];',
    '  subgraph cluster_stacks { label="stacks (cdktf deploy order)"; color="#999999";',
  ];
  for (const s of plan.stacks) {
    const n = s.blocks.filter((b) => b.mode === "resource").length;
    lines.push(`    ${q(`s_${s.name}`)} [label=${q(`${s.name}\n${n} resources`)}];`);
  }
  for (const s of plan.stacks) for (const d of s.dependencies) lines.push(`    ${q(`s_${d}`)} -> ${q(`s_${s.name}`)};`);
  lines.push("  }", '  subgraph cluster_flows { label="workloads and allowed flows (NetworkPolicy)"; color="#999999";');
  const endpoints = [...new Set(rows.flatMap((r) => [r.from, r.to]))].sort();
  for (const e of endpoints) {
    const external = /^(internet|api\.anthropic|metadata|cloud-sql|load-balancer)/.test(e);
    lines.push(`    ${q(workloadNodeId(e))} [label=${q(e)}${external ? ', shape=ellipse, fillcolor="#f6f6f6", color="#777777"' : ""}];`);
  }
  const allowed = new Map<string, string[]>();
  for (const r of rows.filter((x) => x.allowed)) {
    const k = `${r.from}\u0000${r.to}`;
    allowed.set(k, [...(allowed.get(k) ?? []), `${r.port}/${r.protocol}`]);
  }
  for (const [k, ports] of [...allowed].sort()) {
    const [from, to] = k.split("\u0000") as [string, string];
    lines.push(`    ${q(workloadNodeId(from))} -> ${q(workloadNodeId(to))} [label=${q([...new Set(ports)].join(", "))}];`);
  }
  const denied = new Map<string, string[]>();
  for (const r of rows.filter((x) => !x.allowed && x.from === "runner")) {
    const k = `${r.from}\u0000${r.to}`;
    denied.set(k, [...(denied.get(k) ?? []), `${r.port}/${r.protocol}`]);
  }
  for (const [k, ports] of [...denied].sort()) {
    const [from, to] = k.split("\u0000") as [string, string];
    lines.push(
      `    ${q(workloadNodeId(from))} -> ${q(workloadNodeId(to))} [label=${q(`denied ${[...new Set(ports)].join(", ")}`)}, style=dashed, color="#c0392b", fontcolor="#c0392b"];`,
    );
  }
  lines.push("  }", "}");
  return `${lines.join("\n")}\n`;
}

let graphviz: Promise<Graphviz> | undefined;

/**
 * Starts loading Graphviz (its module and WASM compile) once per process; call it early, so the
 * work overlaps the rules.
 */
export function loadGraphviz(): Promise<Graphviz> {
  graphviz ??= import("@hpcc-js/wasm-graphviz").then((m) => m.Graphviz.load());
  return graphviz;
}

/** Where a rendered DOT is cached: `<cacheDir>/<sha256 of the DOT>.svg`. */
export function svgCachePath(cacheDir: string, dot: string): string {
  return join(cacheDir, `${createHash("sha256").update(dot).digest("hex")}.svg`);
}

/**
 * Renders DOT to SVG with Graphviz (WASM; loaded once per process). With `cacheDir`, an SVG
 * rendered before from the same DOT is reused (Graphviz is then not loaded at all) and a new one
 * is stored there.
 */
export async function renderSvg(dot: string, cacheDir?: string): Promise<string> {
  const cached = cacheDir ? svgCachePath(cacheDir, dot) : undefined;
  if (cached && existsSync(cached)) return readFileSync(cached, "utf8");
  const svg = (await loadGraphviz()).dot(dot, "svg");
  if (cacheDir && cached) {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(`${cached}.${process.pid}.tmp`, svg);
    renameSync(`${cached}.${process.pid}.tmp`, cached);
  }
  return svg;
}

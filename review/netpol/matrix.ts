/** The connectivity matrix: many checks against one model, and its plain-text table. */
import { evaluateModel } from "./evaluate.ts";
import { buildModel } from "./model.ts";
import type { Endpoint, MatrixCheck, MatrixRow, NamespaceLabels } from "./types.ts";

/**
 * Evaluates every check (endpoint names are keys of `endpoints`), in the given order.
 *
 * @throws Error when a check names an unknown endpoint, or as {@link evaluate}.
 */
export function matrix(
  objects: readonly unknown[],
  endpoints: Readonly<Record<string, Endpoint>>,
  checks: readonly MatrixCheck[],
  namespaces: NamespaceLabels = {},
): MatrixRow[] {
  const model = buildModel(objects, namespaces);
  const endpoint = (name: string): Endpoint => {
    const e = Object.hasOwn(endpoints, name) ? endpoints[name] : undefined;
    if (e === undefined) throw new Error(`netpol: unknown endpoint "${name}" (known: ${Object.keys(endpoints).join(", ")})`);
    return e;
  };
  return checks.map((c) => {
    const protocol = c.protocol ?? "TCP";
    const d = evaluateModel(model, { from: endpoint(c.from), to: endpoint(c.to), port: c.port, protocol });
    return { from: c.from, to: c.to, port: c.port, protocol, allowed: d.allowed, reason: d.reason };
  });
}

/**
 * Renders matrix rows as a plain-text table (columns FROM, TO, PORT, RESULT, REASON), one line
 * per row in the given order, columns padded, no trailing spaces, ending with a newline.
 */
export function formatMatrix(rows: readonly MatrixRow[]): string {
  const table = [
    ["FROM", "TO", "PORT", "RESULT", "REASON"],
    ...rows.map((r) => [r.from, r.to, `${r.port}/${r.protocol}`, r.allowed ? "allow" : "DENY", r.reason]),
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...table.map((row) => (row[i] ?? "").length)));
  return `${table
    .map((row) =>
      row
        .map((cell, i) => (i < widths.length ? cell.padEnd(widths[i] ?? 0) : cell))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}

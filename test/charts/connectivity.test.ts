/** The connectivity matrix, evaluated over every synthesized NetworkPolicy of the plan. */
import { describe, expect, it } from "vitest";
import { planMatrix } from "../../review/connectivity.ts";
import { evaluate, formatMatrix, type Endpoint } from "../../review/netpol/index.ts";
import { exampleConfig } from "../support/config.ts";
import { allObjects } from "../support/plan.ts";

const config = exampleConfig();
const objects = allObjects();
const rows = planMatrix(objects, config);

describe("connectivity matrix", () => {
  for (const row of rows) {
    it(`${row.expect === "allow" ? "allows" : "denies"} ${row.from} -> ${row.to}:${row.port}/${row.protocol}`, () => {
      expect({ allowed: row.allowed, reason: row.reason }).toMatchObject({ allowed: row.expect === "allow" });
    });
  }

  it("denies every flow into a runner pod, from anywhere, on any port", () => {
    const runner = { kind: "pod" as const, namespace: "runners", labels: { "app.kubernetes.io/name": "runner" } };
    const sources: Endpoint[] = [
      { kind: "pod" as const, namespace: "api", labels: { "app.kubernetes.io/name": "api" } },
      { kind: "pod" as const, namespace: "runners", labels: { "app.kubernetes.io/name": "runner" } },
      { kind: "pod" as const, namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
      { kind: "external" as const, ip: "35.191.0.1" },
      { kind: "external" as const, ip: "10.10.0.7" },
    ];
    for (const from of sources) {
      for (const port of [22, 53, 80, 443, 4000, 4001, 8080, 65535]) {
        expect(evaluate(objects, { from, to: runner, port }).allowed).toBe(false);
      }
    }
  });

  it("prints as a stable table for review", () => {
    const text = formatMatrix(rows);
    expect(text.split("\n").length).toBeGreaterThanOrEqual(rows.length);
    expect(text).toContain("runner");
  });
});

import { describe, expect, it } from "vitest";
import { chart, chartText } from "../support/plan.ts";

const objects = chart("namespaces");
const namespaces = objects.filter((o) => o.kind === "Namespace");

describe("namespaces chart", () => {
  it("matches the snapshot", () => {
    expect(chartText("namespaces")).toMatchSnapshot();
  });

  it("enforces Pod Security Admission 'restricted' in every namespace", () => {
    expect(namespaces.map((n) => n.metadata.name).sort()).toEqual(["api", "runners"]);
    for (const ns of namespaces) {
      expect(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
      expect(ns.metadata.labels?.["pod-security.kubernetes.io/warn"]).toBe("restricted");
      expect(ns.metadata.labels?.["pod-security.kubernetes.io/audit"]).toBe("restricted");
    }
  });

  it("denies all ingress and egress by default in every namespace", () => {
    for (const ns of namespaces) {
      const deny = objects.find(
        (o) => o.kind === "NetworkPolicy" && o.metadata.namespace === ns.metadata.name && o.metadata.name === "default-deny-all",
      );
      expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    }
  });
});

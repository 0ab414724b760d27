import { describe, expect, it } from "vitest";
import { allObjects } from "../support/plan.ts";
import {
  evaluate,
  fqdnAllows,
  formatMatrix,
  matrix,
  type Endpoint,
  type ExternalEndpoint,
  type PodEndpoint,
} from "../../review/netpol/index.ts";

// --- small builders ---------------------------------------------------------------------------

function np(namespace: string, name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name, namespace }, spec };
}

function nsObject(name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } };
}

function fqdnPolicy(namespace: string, name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "networking.gke.io/v1alpha3", kind: "FQDNNetworkPolicy", metadata: { name, namespace }, spec };
}

function defaultDeny(namespace: string): Record<string, unknown> {
  return np(namespace, "default-deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
}

function pod(namespace: string, labels: Record<string, string> = {}, extra: Partial<PodEndpoint> = {}): PodEndpoint {
  return { kind: "pod", namespace, labels, ...extra };
}

function ext(ip: string, name?: string): ExternalEndpoint {
  return name === undefined ? { kind: "external", ip } : { kind: "external", ip, name };
}

const runner = pod("runners", { app: "runner" });
const api = pod("api", { app: "api" });
const kubeDns = pod("kube-system", { "k8s-app": "kube-dns" });
const metadataServer = ext("169.254.169.254", "metadata.google.internal");

// --- isolation ---------------------------------------------------------------------------------

describe("isolation", () => {
  it("allows everything when no policy selects the pods", () => {
    const d = evaluate([], { from: runner, to: api, port: 8080 });
    expect(d.allowed).toBe(true);
    expect(d.egress).toMatchObject({ allowed: true, isolated: false });
    expect(d.ingress).toMatchObject({ allowed: true, isolated: false });
    expect(d.egress.reason).toBe("egress allowed: no NetworkPolicy selects the pod for egress (not isolated)");
  });

  it("default-deny isolates both directions", () => {
    const objects = [defaultDeny("runners"), defaultDeny("api")];
    const d = evaluate(objects, { from: runner, to: api, port: 8080 });
    expect(d.allowed).toBe(false);
    expect(d.egress).toEqual({
      allowed: false,
      isolated: true,
      reason: "egress denied: runners/default-deny-all isolates the pod and no rule matches",
    });
    expect(d.ingress).toEqual({
      allowed: false,
      isolated: true,
      reason: "ingress denied: api/default-deny-all isolates the pod and no rule matches",
    });
    expect(d.reason).toBe(`${d.egress.reason}; ${d.ingress.reason}`);
  });

  it("denies when only one side is isolated, naming that side", () => {
    const d = evaluate([defaultDeny("api")], { from: runner, to: api, port: 8080 });
    expect(d.allowed).toBe(false);
    expect(d.egress.allowed).toBe(true);
    expect(d.reason).toBe("ingress denied: api/default-deny-all isolates the pod and no rule matches");
  });

  it("only isolates pods of the policy's own namespace that its podSelector selects", () => {
    const objects = [np("runners", "deny-runner", { podSelector: { matchLabels: { app: "runner" } }, policyTypes: ["Ingress", "Egress"] })];
    expect(evaluate(objects, { from: runner, to: api, port: 80 }).allowed).toBe(false);
    expect(evaluate(objects, { from: pod("runners", { app: "other" }), to: api, port: 80 }).allowed).toBe(true);
    expect(evaluate(objects, { from: pod("api", { app: "runner" }), to: api, port: 80 }).allowed).toBe(true);
  });
});

describe("policyTypes", () => {
  it("without policyTypes, an ingress-only policy isolates ingress but not egress", () => {
    const objects = [
      np("runners", "ingress-only", { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: "x" } } }] }] }),
    ];
    const out = evaluate(objects, { from: runner, to: api, port: 443 });
    expect(out.egress).toMatchObject({ allowed: true, isolated: false });
    const into = evaluate(objects, { from: api, to: runner, port: 443 });
    expect(into.ingress).toMatchObject({ allowed: false, isolated: true });
  });

  it("without policyTypes, a policy with only a podSelector isolates ingress", () => {
    const objects = [np("runners", "deny-ingress", { podSelector: {} })];
    expect(evaluate(objects, { from: api, to: runner, port: 1 }).ingress).toMatchObject({ allowed: false, isolated: true });
    expect(evaluate(objects, { from: runner, to: api, port: 1 }).egress).toMatchObject({ allowed: true, isolated: false });
  });

  it("without policyTypes, egress rules imply Egress (and Ingress)", () => {
    const objects = [np("runners", "egress-dns", { podSelector: {}, egress: [{ ports: [{ protocol: "UDP", port: 53 }] }] })];
    expect(evaluate(objects, { from: runner, to: kubeDns, port: 53, protocol: "UDP" }).allowed).toBe(true);
    expect(evaluate(objects, { from: runner, to: api, port: 443 }).egress).toMatchObject({ allowed: false, isolated: true });
    expect(evaluate(objects, { from: api, to: runner, port: 443 }).ingress).toMatchObject({ allowed: false, isolated: true });
  });

  it("without policyTypes, `egress: []` does not isolate egress (API server defaulting is len(egress) != 0)", () => {
    // SetDefaults_NetworkPolicy: Egress is added only when spec.egress has at least one rule;
    // the server cannot tell `egress: []` from an absent field.
    const objects = [np("runners", "empty-egress", { podSelector: {}, egress: [] })];
    expect(evaluate(objects, { from: runner, to: api, port: 443 }).egress).toMatchObject({ allowed: true, isolated: false });
    expect(evaluate(objects, { from: api, to: runner, port: 443 }).ingress).toMatchObject({ allowed: false, isolated: true });
  });

  it("with policyTypes [Egress] and `egress: []`, egress is isolated and ingress is not", () => {
    const objects = [np("runners", "deny-egress", { podSelector: {}, policyTypes: ["Egress"], egress: [] })];
    expect(evaluate(objects, { from: runner, to: api, port: 443 }).egress).toMatchObject({ allowed: false, isolated: true });
    expect(evaluate(objects, { from: api, to: runner, port: 443 }).ingress).toMatchObject({ allowed: true, isolated: false });
  });

  it("explicit policyTypes win over the rules present, and an empty list is defaulted", () => {
    const ingressOnly = [np("runners", "p", { podSelector: {}, policyTypes: ["Ingress"], egress: [{ ports: [{ port: 1 }] }] })];
    expect(evaluate(ingressOnly, { from: runner, to: api, port: 443 }).egress.isolated).toBe(false);
    const empty = [np("runners", "p", { podSelector: {}, policyTypes: [] })];
    expect(evaluate(empty, { from: api, to: runner, port: 443 }).ingress.isolated).toBe(true);
    expect(evaluate(empty, { from: runner, to: api, port: 443 }).egress.isolated).toBe(false);
  });
});

describe("union of policies", () => {
  const objects = [
    defaultDeny("runners"),
    np("runners", "allow-dns", {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
              podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
            },
          ],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ],
    }),
    np("runners", "allow-api", {
      podSelector: { matchLabels: { app: "runner" } },
      policyTypes: ["Egress"],
      egress: [{ to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "api" } } }], ports: [{ port: 8080 }] }],
    }),
  ];

  it("allows what any selecting policy allows and names the rule", () => {
    const dns = evaluate(objects, { from: runner, to: kubeDns, port: 53, protocol: "UDP" });
    expect(dns.allowed).toBe(true);
    expect(dns.egress).toEqual({
      allowed: true,
      isolated: true,
      matchedBy: "runners/allow-dns rule 0",
      reason: "egress allowed by runners/allow-dns rule 0",
    });
    const toApi = evaluate(objects, { from: runner, to: api, port: 8080 });
    expect(toApi.egress.matchedBy).toBe("runners/allow-api rule 0");
  });

  it("denies the rest, listing every isolating policy", () => {
    const d = evaluate(objects, { from: runner, to: api, port: 9090 });
    expect(d.allowed).toBe(false);
    expect(d.reason).toBe(
      "egress denied: runners/allow-api, runners/allow-dns, runners/default-deny-all isolate the pod and no rule matches",
    );
    // A runners pod without app=runner is not selected by allow-api.
    expect(evaluate(objects, { from: pod("runners", { app: "x" }), to: api, port: 8080 }).allowed).toBe(false);
  });
});

// --- peers -------------------------------------------------------------------------------------

describe("peers", () => {
  const namespaces = [nsObject("api", { team: "core" }), nsObject("web", { team: "core" }), nsObject("batch", { team: "data" })];
  const ingress = (from: unknown[]): Record<string, unknown>[] => [
    ...namespaces,
    np("api", "p", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from }] }),
  ];
  const allowed = (objects: unknown[], from: Endpoint): boolean => evaluate(objects, { from, to: api, port: 80 }).allowed;

  it("podSelector alone selects pods in the policy's namespace only", () => {
    const objects = ingress([{ podSelector: { matchLabels: { role: "client" } } }]);
    expect(allowed(objects, pod("api", { role: "client" }))).toBe(true);
    expect(allowed(objects, pod("web", { role: "client" }))).toBe(false);
    expect(allowed(objects, pod("api", { role: "other" }))).toBe(false);
  });

  it("an empty podSelector selects every pod of the policy's namespace", () => {
    const objects = ingress([{ podSelector: {} }]);
    expect(allowed(objects, pod("api", { anything: "x" }))).toBe(true);
    expect(allowed(objects, pod("web"))).toBe(false);
  });

  it("namespaceSelector alone selects all pods in matching namespaces", () => {
    const objects = ingress([{ namespaceSelector: { matchLabels: { team: "core" } } }]);
    expect(allowed(objects, pod("web", { role: "anything" }))).toBe(true);
    expect(allowed(objects, pod("api"))).toBe(true);
    expect(allowed(objects, pod("batch"))).toBe(false);
    // An unlisted namespace has only kubernetes.io/metadata.name.
    expect(allowed(objects, pod("unlisted"))).toBe(false);
  });

  it("an empty namespaceSelector matches every namespace (and no external address)", () => {
    const objects = ingress([{ namespaceSelector: {} }]);
    expect(allowed(objects, pod("batch"))).toBe(true);
    expect(allowed(objects, pod("unlisted"))).toBe(true);
    expect(allowed(objects, ext("8.8.8.8"))).toBe(false);
  });

  it("podSelector and namespaceSelector in one element are ANDed", () => {
    const objects = ingress([{ namespaceSelector: { matchLabels: { team: "core" } }, podSelector: { matchLabels: { role: "client" } } }]);
    expect(allowed(objects, pod("web", { role: "client" }))).toBe(true);
    expect(allowed(objects, pod("web", { role: "other" }))).toBe(false);
    expect(allowed(objects, pod("batch", { role: "client" }))).toBe(false);
  });

  it("two separate elements are ORed", () => {
    const objects = ingress([
      { namespaceSelector: { matchLabels: { team: "core" } } },
      { podSelector: { matchLabels: { role: "client" } } },
    ]);
    expect(allowed(objects, pod("web", { role: "other" }))).toBe(true); // first element
    expect(allowed(objects, pod("api", { role: "client" }))).toBe(true); // both
    expect(allowed(objects, pod("batch", { role: "client" }))).toBe(false); // second is same-namespace only
  });

  it("uses the implicit kubernetes.io/metadata.name label and the extra namespaces argument", () => {
    const byName = [
      np("api", "p", {
        podSelector: {},
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } } }] }],
      }),
    ];
    expect(allowed(byName, pod("kube-system"))).toBe(true);
    expect(allowed(byName, pod("kube-public"))).toBe(false);
    const byLabel = [
      np("api", "p", {
        podSelector: {},
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { tier: "system" } } }] }],
      }),
    ];
    expect(evaluate(byLabel, { from: pod("kube-system"), to: api, port: 80 }).allowed).toBe(false);
    expect(evaluate(byLabel, { from: pod("kube-system"), to: api, port: 80 }, { "kube-system": { tier: "system" } }).allowed).toBe(true);
  });

  it("cannot remove kubernetes.io/metadata.name through Namespace labels", () => {
    const objects = [
      nsObject("web", { "kubernetes.io/metadata.name": "spoofed" }),
      np("api", "p", {
        podSelector: {},
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "web" } } }] }],
      }),
    ];
    expect(allowed(objects, pod("web"))).toBe(true);
  });

  it("a rule with an empty `from` list matches every peer, external ones included", () => {
    const objects = ingress([]);
    expect(allowed(objects, pod("batch"))).toBe(true);
    expect(allowed(objects, ext("203.0.113.9"))).toBe(true);
  });

  it("`ingress: []` with Ingress isolation allows nothing", () => {
    const objects = [np("api", "p", { podSelector: {}, policyTypes: ["Ingress"], ingress: [] })];
    expect(allowed(objects, pod("api"))).toBe(false);
  });
});

describe("matchExpressions", () => {
  const policy = (expressions: unknown[], matchLabels: Record<string, string> = {}): unknown[] => [
    np("api", "p", {
      podSelector: {},
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ podSelector: { matchLabels, matchExpressions: expressions } }] }],
    }),
  ];
  const allowedFrom = (objects: unknown[], labels: Record<string, string>): boolean =>
    evaluate(objects, { from: pod("api", labels), to: api, port: 80 }).allowed;

  it("In", () => {
    const objects = policy([{ key: "env", operator: "In", values: ["prod", "staging"] }]);
    expect(allowedFrom(objects, { env: "prod" })).toBe(true);
    expect(allowedFrom(objects, { env: "dev" })).toBe(false);
    expect(allowedFrom(objects, {})).toBe(false);
  });

  it("NotIn (an absent label matches)", () => {
    const objects = policy([{ key: "env", operator: "NotIn", values: ["prod"] }]);
    expect(allowedFrom(objects, { env: "dev" })).toBe(true);
    expect(allowedFrom(objects, {})).toBe(true);
    expect(allowedFrom(objects, { env: "prod" })).toBe(false);
  });

  it("Exists and DoesNotExist", () => {
    expect(allowedFrom(policy([{ key: "ci", operator: "Exists" }]), { ci: "" })).toBe(true);
    expect(allowedFrom(policy([{ key: "ci", operator: "Exists" }]), {})).toBe(false);
    expect(allowedFrom(policy([{ key: "ci", operator: "DoesNotExist", values: [] }]), {})).toBe(true);
    expect(allowedFrom(policy([{ key: "ci", operator: "DoesNotExist" }]), { ci: "1" })).toBe(false);
  });

  it("ANDs all expressions and matchLabels", () => {
    const objects = policy(
      [
        { key: "env", operator: "In", values: ["prod"] },
        { key: "canary", operator: "DoesNotExist" },
      ],
      { app: "web" },
    );
    expect(allowedFrom(objects, { app: "web", env: "prod" })).toBe(true);
    expect(allowedFrom(objects, { app: "web", env: "prod", canary: "true" })).toBe(false);
    expect(allowedFrom(objects, { app: "db", env: "prod" })).toBe(false);
  });

  it("applies to namespaceSelector and the policy's own podSelector too", () => {
    const objects = [
      nsObject("web", { env: "prod" }),
      np("api", "p", {
        podSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["api"] }] },
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: "env", operator: "NotIn", values: ["dev"] }] } }] }],
      }),
      nsObject("dev", { env: "dev" }),
    ];
    expect(evaluate(objects, { from: pod("web"), to: api, port: 80 }).allowed).toBe(true);
    expect(evaluate(objects, { from: pod("dev"), to: api, port: 80 }).allowed).toBe(false);
    expect(evaluate(objects, { from: pod("dev"), to: pod("api", { app: "other" }), port: 80 }).ingress.isolated).toBe(false);
  });
});

// --- ipBlock -----------------------------------------------------------------------------------

describe("ipBlock", () => {
  const internet = [
    defaultDeny("runners"),
    np("runners", "allow-internet", {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.169.254/32", "10.0.0.0/8"] } }] }],
    }),
  ];

  it("allows inside cidr and denies inside except", () => {
    expect(evaluate(internet, { from: runner, to: ext("8.8.8.8"), port: 443 }).allowed).toBe(true);
    const md = evaluate(internet, { from: runner, to: metadataServer, port: 80 });
    expect(md.allowed).toBe(false);
    expect(md.reason).toBe("egress denied: runners/allow-internet, runners/default-deny-all isolate the pod and no rule matches");
    expect(evaluate(internet, { from: runner, to: ext("10.1.2.3"), port: 443 }).allowed).toBe(false);
    expect(evaluate(internet, { from: runner, to: ext("169.254.169.253"), port: 80 }).allowed).toBe(true);
    expect(evaluate(internet, { from: runner, to: ext("11.0.0.0"), port: 80 }).allowed).toBe(true);
  });

  it("an IPv4 block does not match IPv6 addresses", () => {
    expect(evaluate(internet, { from: runner, to: ext("2001:4860:4860::8888"), port: 443 }).allowed).toBe(false);
  });

  it("supports IPv6 blocks with except", () => {
    const objects = [
      np("runners", "v6", {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [{ to: [{ ipBlock: { cidr: "2001:db8::/32", except: ["2001:db8:bad::/48"] } }] }],
      }),
    ];
    expect(evaluate(objects, { from: runner, to: ext("2001:db8:1::1"), port: 443 }).allowed).toBe(true);
    expect(evaluate(objects, { from: runner, to: ext("2001:db8:bad::1"), port: 443 }).allowed).toBe(false);
    expect(evaluate(objects, { from: runner, to: ext("2001:db9::1"), port: 443 }).allowed).toBe(false);
    expect(evaluate(objects, { from: runner, to: ext("10.0.0.1"), port: 443 }).allowed).toBe(false);
  });

  it("matches a pod only through its ip, when it has one", () => {
    const objects = [
      np("runners", "pods-range", { podSelector: {}, policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: "10.4.0.0/14" } }] }] }),
    ];
    expect(evaluate(objects, { from: runner, to: pod("api", {}, { ip: "10.4.1.7" }), port: 80 }).allowed).toBe(true);
    expect(evaluate(objects, { from: runner, to: pod("api", {}, { ip: "10.9.1.7" }), port: 80 }).allowed).toBe(false);
    expect(evaluate(objects, { from: runner, to: pod("api"), port: 80 }).allowed).toBe(false);
  });

  it("pod selectors never match external endpoints", () => {
    const objects = [
      np("runners", "p", { podSelector: {}, policyTypes: ["Egress"], egress: [{ to: [{ namespaceSelector: {}, podSelector: {} }] }] }),
    ];
    expect(evaluate(objects, { from: runner, to: ext("8.8.8.8"), port: 53 }).allowed).toBe(false);
    expect(evaluate(objects, { from: runner, to: kubeDns, port: 53 }).allowed).toBe(true);
  });
});

// --- ports -------------------------------------------------------------------------------------

describe("ports", () => {
  const egress = (ports: unknown[] | undefined): unknown[] => [
    np("runners", "p", { podSelector: {}, policyTypes: ["Egress"], egress: [{ ...(ports === undefined ? {} : { ports }) }] }),
  ];
  const ok = (objects: unknown[], port: number, protocol?: "TCP" | "UDP" | "SCTP"): boolean =>
    evaluate(objects, { from: runner, to: kubeDns, port, ...(protocol ? { protocol } : {}) }).allowed;

  it("matches the protocol: UDP 53 listed does not allow TCP 53", () => {
    const udp = egress([{ protocol: "UDP", port: 53 }]);
    expect(ok(udp, 53, "UDP")).toBe(true);
    expect(ok(udp, 53, "TCP")).toBe(false);
    expect(ok(udp, 53)).toBe(false); // query default TCP
    const both = egress([
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ]);
    expect(ok(both, 53, "TCP")).toBe(true);
  });

  it("defaults a port entry's protocol to TCP", () => {
    const objects = egress([{ port: 443 }]);
    expect(ok(objects, 443)).toBe(true);
    expect(ok(objects, 443, "UDP")).toBe(false);
    expect(ok(objects, 443, "SCTP")).toBe(false);
  });

  it("supports endPort ranges, inclusive", () => {
    const objects = egress([{ protocol: "TCP", port: 32000, endPort: 32768 }]);
    expect(ok(objects, 31999)).toBe(false);
    expect(ok(objects, 32000)).toBe(true);
    expect(ok(objects, 32500)).toBe(true);
    expect(ok(objects, 32768)).toBe(true);
    expect(ok(objects, 32769)).toBe(false);
  });

  it("a rule without ports (or with an empty list) matches every port and protocol", () => {
    for (const objects of [egress(undefined), egress([])]) {
      expect(ok(objects, 1)).toBe(true);
      expect(ok(objects, 65535, "UDP")).toBe(true);
      expect(ok(objects, 9, "SCTP")).toBe(true);
    }
  });

  it("a port entry with only a protocol matches every port of that protocol", () => {
    const objects = egress([{ protocol: "SCTP" }]);
    expect(ok(objects, 3868, "SCTP")).toBe(true);
    expect(ok(objects, 3868, "TCP")).toBe(false);
  });

  it("resolves named ports against the destination pod's namedPorts", () => {
    const objects = [np("api", "p", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ ports: [{ port: "http" }] }] })];
    const web = pod("api", { app: "api" }, { namedPorts: { http: 8080, dns: { port: 53, protocol: "UDP" } } });
    expect(evaluate(objects, { from: runner, to: web, port: 8080 }).allowed).toBe(true);
    expect(evaluate(objects, { from: runner, to: web, port: 80 }).allowed).toBe(false);
    const udpRule = [
      np("api", "p", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ ports: [{ port: "dns", protocol: "UDP" }] }] }),
    ];
    expect(evaluate(udpRule, { from: runner, to: web, port: 53, protocol: "UDP" }).allowed).toBe(true);
    const tcpRule = [
      np("api", "p", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ ports: [{ port: "dns", protocol: "TCP" }] }] }),
    ];
    expect(evaluate(tcpRule, { from: runner, to: web, port: 53, protocol: "TCP" }).allowed).toBe(false);
  });

  it("a named port does not match a destination that does not declare it, and the reason says so", () => {
    const objects = [np("api", "p", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ ports: [{ port: "http" }] }] })];
    const d = evaluate(objects, { from: runner, to: api, port: 80 });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain('api/p rule 0 names port "http"');
    expect(d.reason).toContain("does not declare");
  });

  it("named ports in egress resolve against the destination pod; never for external destinations", () => {
    const objects = [np("runners", "p", { podSelector: {}, policyTypes: ["Egress"], egress: [{ ports: [{ port: "https" }] }] })];
    expect(evaluate(objects, { from: runner, to: pod("api", {}, { namedPorts: { https: 8443 } }), port: 8443 }).allowed).toBe(true);
    const toExt = evaluate(objects, { from: runner, to: ext("8.8.8.8"), port: 443 });
    expect(toExt.allowed).toBe(false);
    expect(toExt.reason).toContain('names port "https"');
  });

  it("requires both the peer and the port of one rule", () => {
    const objects = [
      np("runners", "p", {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [
          { to: [{ ipBlock: { cidr: "10.0.0.0/8" } }], ports: [{ port: 5432 }] },
          { to: [{ ipBlock: { cidr: "192.168.0.0/16" } }], ports: [{ port: 443 }] },
        ],
      }),
    ];
    expect(evaluate(objects, { from: runner, to: ext("10.0.0.5"), port: 5432 }).egress.matchedBy).toBe("runners/p rule 0");
    expect(evaluate(objects, { from: runner, to: ext("192.168.1.1"), port: 443 }).egress.matchedBy).toBe("runners/p rule 1");
    expect(evaluate(objects, { from: runner, to: ext("10.0.0.5"), port: 443 }).allowed).toBe(false);
  });
});

// --- external endpoints ------------------------------------------------------------------------

describe("external endpoints", () => {
  it("external source: only ingress of the destination pod is checked", () => {
    const objects = [
      np("api", "from-lb", {
        podSelector: {},
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ ipBlock: { cidr: "130.211.0.0/22" } }], ports: [{ port: 8080 }] }],
      }),
    ];
    const d = evaluate(objects, { from: ext("130.211.1.2"), to: api, port: 8080 });
    expect(d.allowed).toBe(true);
    expect(d.egress.reason).toBe("egress not checked: the source is external");
    expect(d.reason).toBe("ingress allowed by api/from-lb rule 0");
    expect(evaluate(objects, { from: ext("8.8.8.8"), to: api, port: 8080 }).allowed).toBe(false);
  });

  it("pod to external: only egress of the source is checked", () => {
    const objects = [
      defaultDeny("api"),
      np("api", "to-sql", {
        podSelector: { matchLabels: { app: "api" } },
        policyTypes: ["Egress"],
        egress: [{ to: [{ ipBlock: { cidr: "10.20.0.5/32" } }], ports: [{ port: 5432 }] }],
      }),
    ];
    const d = evaluate(objects, { from: api, to: ext("10.20.0.5", "cloud-sql"), port: 5432 });
    expect(d.allowed).toBe(true);
    expect(d.ingress.reason).toBe("ingress not checked: the destination is external");
    expect(d.reason).toBe("egress allowed by api/to-sql rule 0");
  });

  it("external to external involves no policy", () => {
    expect(evaluate([defaultDeny("api")], { from: ext("1.1.1.1"), to: ext("8.8.8.8"), port: 53 }).allowed).toBe(true);
  });
});

// --- FQDNNetworkPolicy -------------------------------------------------------------------------

describe("fqdnAllows", () => {
  const objects = [
    defaultDeny("runners"),
    fqdnPolicy("runners", "allow-github", {
      podSelector: { matchLabels: { app: "runner" } },
      egress: [
        { matches: [{ name: "github.com" }, { pattern: "*.githubusercontent.com" }], ports: [{ protocol: "TCP", port: 443 }] },
        { matches: [{ name: "ntp.example.org." }] },
      ],
    }),
  ];

  it("allows exact names on the listed port, case-insensitively", () => {
    expect(fqdnAllows(objects, runner, "github.com", 443)).toEqual({
      allowed: true,
      isolated: true,
      matchedBy: "FQDNNetworkPolicy runners/allow-github rule 0",
      reason: "egress to github.com allowed by FQDNNetworkPolicy runners/allow-github rule 0",
    });
    expect(fqdnAllows(objects, runner, "GitHub.com.", 443).allowed).toBe(true);
    expect(fqdnAllows(objects, runner, "github.com", 80).allowed).toBe(false);
    expect(fqdnAllows(objects, runner, "github.com", 443, "UDP").allowed).toBe(false);
    expect(fqdnAllows(objects, runner, "api.github.com", 443).allowed).toBe(false);
  });

  it("`*.` matches exactly one more label, not the apex nor deeper names", () => {
    expect(fqdnAllows(objects, runner, "raw.githubusercontent.com", 443).allowed).toBe(true);
    expect(fqdnAllows(objects, runner, "githubusercontent.com", 443).allowed).toBe(false);
    expect(fqdnAllows(objects, runner, "a.b.githubusercontent.com", 443).allowed).toBe(false);
    expect(fqdnAllows(objects, runner, "evilgithubusercontent.com", 443).allowed).toBe(false);
  });

  it("a rule without ports allows every port", () => {
    expect(fqdnAllows(objects, runner, "ntp.example.org", 123, "UDP").matchedBy).toBe("FQDNNetworkPolicy runners/allow-github rule 1");
  });

  it("does not apply to unselected pods or external sources", () => {
    expect(fqdnAllows(objects, pod("runners", { app: "other" }), "github.com", 443)).toEqual({
      allowed: false,
      isolated: false,
      reason: "no FQDNNetworkPolicy selects the pod",
    });
    expect(fqdnAllows(objects, pod("api", { app: "runner" }), "github.com", 443).allowed).toBe(false);
    expect(fqdnAllows(objects, ext("1.2.3.4"), "github.com", 443).allowed).toBe(false);
  });

  it("is additive to NetworkPolicy egress in evaluate when the destination has a name", () => {
    const byName = evaluate(objects, { from: runner, to: ext("140.82.112.3", "github.com"), port: 443 });
    expect(byName.allowed).toBe(true);
    expect(byName.egress.matchedBy).toBe("FQDNNetworkPolicy runners/allow-github rule 0");
    const byIp = evaluate(objects, { from: runner, to: ext("140.82.112.3"), port: 443 });
    expect(byIp.allowed).toBe(false);
    const other = evaluate(objects, { from: runner, to: ext("1.2.3.4", "example.com"), port: 443 });
    expect(other.allowed).toBe(false);
    expect(other.reason).toContain("runners/default-deny-all isolates the pod");
    expect(other.reason).toContain("no rule of FQDNNetworkPolicy runners/allow-github allows example.com:443/TCP");
  });

  it("rejects malformed FQDN policies and hosts", () => {
    const oldForm = [fqdnPolicy("runners", "to", { podSelector: {}, egress: [{ to: [{ fqdns: ["github.com"] }] }] })];
    expect(() => fqdnAllows(oldForm, runner, "github.com", 443)).toThrow(
      /FQDNNetworkPolicy runners\/to: spec\.egress\[0\]: unknown field "to"/,
    );
    const both = [fqdnPolicy("runners", "both", { podSelector: {}, egress: [{ matches: [{ name: "a.com", pattern: "*.a.com" }] }] })];
    expect(() => fqdnAllows(both, runner, "a.com", 443)).toThrow(/give exactly one of name or pattern/);
    const noNames = [fqdnPolicy("runners", "empty", { podSelector: {}, egress: [{ ports: [{ port: 443 }] }] })];
    expect(() => fqdnAllows(noNames, runner, "github.com", 443)).toThrow(
      /FQDNNetworkPolicy runners\/empty: spec\.egress\[0\]\.matches: an FQDN rule must name at least one host/,
    );
    const badName = [fqdnPolicy("runners", "bad", { podSelector: {}, egress: [{ matches: [{ name: "git*hub.com" }] }] })];
    expect(() => fqdnAllows(badName, runner, "github.com", 443)).toThrow(/runners\/bad: spec\.egress\[0\]\.matches\[0\]/);
    expect(() => fqdnAllows(objects, runner, "not a host", 443)).toThrow(/is not a DNS name/);
  });
});

// --- validation --------------------------------------------------------------------------------

describe("malformed policies throw, naming the policy", () => {
  const withIngressPeer = (peer: unknown): unknown[] => [np("api", "bad", { podSelector: {}, ingress: [{ from: [peer] }] })];
  const run = (objects: unknown[]): unknown => evaluate(objects, { from: runner, to: api, port: 80 });

  it("unknown matchExpressions operator", () => {
    expect(() => run(withIngressPeer({ podSelector: { matchExpressions: [{ key: "a", operator: "Equals", values: ["b"] }] } }))).toThrow(
      'NetworkPolicy api/bad: spec.ingress[0].from[0].podSelector.matchExpressions[0].operator: "Equals" is not one of In, NotIn, Exists, DoesNotExist',
    );
  });

  it("operator value arity", () => {
    expect(() => run(withIngressPeer({ podSelector: { matchExpressions: [{ key: "a", operator: "In", values: [] }] } }))).toThrow(
      /api\/bad: .*operator In needs at least one value/,
    );
    expect(() => run(withIngressPeer({ podSelector: { matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] } }))).toThrow(
      /api\/bad: .*operator Exists takes no values/,
    );
  });

  it("peer shapes", () => {
    expect(() => run(withIngressPeer({}))).toThrow(
      /api\/bad: spec\.ingress\[0\]\.from\[0\]: a peer needs podSelector, namespaceSelector or ipBlock/,
    );
    expect(() => run(withIngressPeer({ ipBlock: { cidr: "10.0.0.0/8" }, podSelector: {} }))).toThrow(/ipBlock may not be combined/);
    expect(() => run(withIngressPeer({ ipBlock: { cidr: "10.0.0.1/8" } }))).toThrow(/"10\.0\.0\.1\/8" is not a CIDR block/);
    expect(() => run(withIngressPeer({ ipBlock: { cidr: "10.0.0.0/8", except: ["11.0.0.0/8"] } }))).toThrow(
      /11\.0\.0\.0\/8 is not a strict subset of 10\.0\.0\.0\/8/,
    );
    expect(() => run(withIngressPeer({ ipBlock: { cidr: "10.0.0.0/8", except: ["10.0.0.0/8"] } }))).toThrow(/not a strict subset/);
    expect(() => run(withIngressPeer({ ipBlock: { cidr: "2001:db8::/32", except: ["10.0.0.0/8"] } }))).toThrow(/not a strict subset/);
    expect(() => run(withIngressPeer({ podSelector: { matchLabels: { enabled: true } } }))).toThrow(/label value must be a string/);
  });

  it("unknown fields (a typo must not widen a rule)", () => {
    expect(() => run([np("api", "typo", { podSelector: {}, ingress: [{ form: [{ podSelector: {} }] }] })])).toThrow(
      /NetworkPolicy api\/typo: spec\.ingress\[0\]: unknown field "form"/,
    );
    expect(() => run([np("api", "typo", { podSelector: {}, policyType: ["Egress"] })])).toThrow(/unknown field "policyType"/);
  });

  it("ports", () => {
    const withPort = (port: unknown): unknown[] => [np("api", "bad", { podSelector: {}, ingress: [{ ports: [port] }] })];
    expect(() => run(withPort({ protocol: "ICMP", port: 1 }))).toThrow(
      /api\/bad: spec\.ingress\[0\]\.ports\[0\]\.protocol: "ICMP" is not one of TCP, UDP, SCTP/,
    );
    expect(() => run(withPort({ port: 70000 }))).toThrow(/port number 1-65535/);
    expect(() => run(withPort({ port: "80" }))).toThrow(/neither a number nor a valid port name/);
    expect(() => run(withPort({ port: "http", endPort: 90 }))).toThrow(/endPort needs a numeric port/);
    expect(() => run(withPort({ port: 100, endPort: 90 }))).toThrow(/endPort 90 is below port 100/);
  });

  it("spec and metadata", () => {
    expect(() => run([np("api", "bad", { podSelector: {}, policyTypes: ["Both"] })])).toThrow(
      /api\/bad: spec\.policyTypes\[0\]: "Both" is not one of Ingress, Egress/,
    );
    expect(() => run([np("api", "bad", { policyTypes: ["Ingress"] })])).toThrow(/api\/bad: spec\.podSelector: missing/);
    expect(() =>
      run([{ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "nons" }, spec: { podSelector: {} } }]),
    ).toThrow(/NetworkPolicy \?\/nons: metadata\.namespace: missing/);
    expect(() => run([np("api", "dup", { podSelector: {} }), np("api", "dup", { podSelector: {} })])).toThrow(
      /NetworkPolicy api\/dup is defined more than once/,
    );
  });

  it("invalid queries", () => {
    expect(() => evaluate([], { from: runner, to: api, port: 0 })).toThrow(/port 0/);
    expect(() => evaluate([], { from: runner, to: ext("999.1.1.1"), port: 80 })).toThrow(/not an IP address/);
    expect(() => evaluate([], { from: pod("api", {}, { ip: "nope" }), to: api, port: 80 })).toThrow(/not an IP address/);
  });
});

describe("input filtering", () => {
  it("ignores other kinds, other API groups' NetworkPolicy and non-objects", () => {
    const objects = [
      null,
      { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x", namespace: "api" }, spec: { nonsense: true } },
      {
        apiVersion: "crd.projectcalico.org/v1",
        kind: "NetworkPolicy",
        metadata: { name: "calico", namespace: "api" },
        spec: { selector: "all()" },
      },
    ];
    expect(evaluate(objects, { from: runner, to: api, port: 80 }).allowed).toBe(true);
  });

  it("treats null lists as absent", () => {
    const objects = [np("runners", "p", { podSelector: {}, policyTypes: ["Egress"], egress: [{ to: null, ports: null }] })];
    expect(evaluate(objects, { from: runner, to: api, port: 1234 }).egress.matchedBy).toBe("runners/p rule 0");
  });
});

// --- matrix ------------------------------------------------------------------------------------

describe("matrix", () => {
  const dnsPeer = {
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
    podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
  };
  const dnsPorts = [
    { protocol: "UDP", port: 53 },
    { protocol: "TCP", port: 53 },
  ];
  const plan = [
    nsObject("api"),
    nsObject("runners"),
    defaultDeny("api"),
    defaultDeny("runners"),
    np("runners", "allow-dns", { podSelector: {}, policyTypes: ["Egress"], egress: [{ to: [dnsPeer], ports: dnsPorts }] }),
    np("runners", "allow-internet", {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.169.254/32", "10.0.0.0/8"] } }], ports: [{ port: 443 }] }],
    }),
    np("api", "allow-dns", { podSelector: {}, policyTypes: ["Egress"], egress: [{ to: [dnsPeer], ports: dnsPorts }] }),
    np("api", "allow-cloud-sql", {
      podSelector: { matchLabels: { app: "api" } },
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: "10.20.0.5/32" } }], ports: [{ port: 5432 }] }],
    }),
  ];
  const endpoints: Record<string, Endpoint> = {
    runner,
    api,
    "kube-dns": kubeDns,
    metadata: metadataServer,
    "cloud-sql": ext("10.20.0.5"),
    internet: ext("140.82.112.3"),
  };

  it("answers the plan's connectivity questions", () => {
    const rows = matrix(plan, endpoints, [
      { from: "runner", to: "kube-dns", port: 53, protocol: "UDP" },
      { from: "runner", to: "metadata", port: 80 },
      { from: "api", to: "cloud-sql", port: 5432 },
      { from: "runner", to: "internet", port: 443 },
      { from: "runner", to: "cloud-sql", port: 5432 },
      { from: "api", to: "runner", port: 8080 },
      { from: "internet", to: "runner", port: 22 },
    ]);
    expect(rows.map((r) => [r.from, r.to, r.port, r.protocol, r.allowed])).toEqual([
      ["runner", "kube-dns", 53, "UDP", true],
      ["runner", "metadata", 80, "TCP", false],
      ["api", "cloud-sql", 5432, "TCP", true],
      ["runner", "internet", 443, "TCP", true],
      ["runner", "cloud-sql", 5432, "TCP", false],
      ["api", "runner", 8080, "TCP", false],
      ["internet", "runner", 22, "TCP", false],
    ]);
    expect(rows[0]?.reason).toBe("egress allowed by runners/allow-dns rule 0");
    expect(rows[6]?.reason).toBe("ingress denied: runners/default-deny-all isolates the pod and no rule matches");
  });

  it("formats a stable plain-text table", () => {
    const rows = matrix(plan, endpoints, [
      { from: "runner", to: "kube-dns", port: 53, protocol: "UDP" },
      { from: "runner", to: "metadata", port: 80 },
    ]);
    expect(formatMatrix(rows)).toBe(
      [
        "FROM    TO        PORT    RESULT  REASON",
        "runner  kube-dns  53/UDP  allow   egress allowed by runners/allow-dns rule 0",
        "runner  metadata  80/TCP  DENY    egress denied: runners/allow-dns, runners/allow-internet, runners/default-deny-all isolate the pod and no rule matches",
        "",
      ].join("\n"),
    );
    expect(formatMatrix([])).toBe("FROM  TO  PORT  RESULT  REASON\n");
  });

  it("rejects unknown endpoint names", () => {
    expect(() => matrix(plan, endpoints, [{ from: "runner", to: "nowhere", port: 1 }])).toThrow(/unknown endpoint "nowhere"/);
  });
});

describe("decision reason", () => {
  it("names the allowing rules, or why each checked direction is open", () => {
    const objects = [
      np("api", "in", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{}] }),
      np("runners", "out", { podSelector: {}, policyTypes: ["Egress"], egress: [{}] }),
    ];
    expect(evaluate(objects, { from: runner, to: api, port: 80 }).reason).toBe(
      "egress allowed by runners/out rule 0; ingress allowed by api/in rule 0",
    );
    expect(evaluate([], { from: runner, to: api, port: 80 }).reason).toBe(
      "egress allowed: no NetworkPolicy selects the pod for egress (not isolated); ingress allowed: no NetworkPolicy selects the pod for ingress (not isolated)",
    );
    expect(evaluate([], { from: ext("1.1.1.1"), to: api, port: 80 }).reason).toBe(
      "ingress allowed: no NetworkPolicy selects the pod for ingress (not isolated)",
    );
  });
});

describe("the synthesized plan", () => {
  it("parses every chart's policies and keeps the runners namespace closed to inbound traffic", () => {
    const objects = allObjects();
    for (const from of [ext("203.0.113.7"), api, pod("runners", { app: "other" })]) {
      const d = evaluate(objects, { from, to: runner, port: 8080 });
      expect(d.ingress).toMatchObject({ allowed: false, isolated: true });
      expect(d.reason).toContain("runners/default-deny-all");
    }
  });
});

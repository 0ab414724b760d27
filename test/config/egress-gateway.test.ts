/**
 * The config rules of the runner egress gateway (issue 15): the `egressGateway` section, the
 * fixed cluster IPs runners reach without DNS (`egressGateway.clusterIP`, `api.callbackClusterIP`),
 * and who may read the Anthropic API key. A `fails if` test per rule, in every direction it can
 * fail, and the edges it must accept.
 */
import { describe, expect, it } from "vitest";
import { esoIdentities } from "../../config/names.ts";
import { staticServiceBand } from "../../config/schema.ts";
import { exampleConfig, exampleRaw, PROBLEM_LINE, problemsOf } from "../support/config.ts";

/** Applies `mutate` to a copy of the example and returns the problems (each checked for the message shape). */
function broken(mutate: (c: Record<string, any>) => void): string[] {
  const raw = exampleRaw();
  mutate(raw);
  const problems = problemsOf(raw);
  for (const p of problems) expect(p).toMatch(PROBLEM_LINE);
  return problems;
}

/** The problems of the example with `production: true` and `mutate` applied, about `field` only. */
function production(field: string, mutate: (c: Record<string, any>) => void = () => {}): string[] {
  return broken((c) => {
    c.production = true;
    mutate(c);
  }).filter((p) => p.includes(`'${field}'`));
}

const FIX = "Pick an address from 10.20.0.2 to 10.20.0.255 (the static band of 10.20.0.0/20), not 10.20.0.10.";
const FIELDS = [
  ["egressGateway.clusterIP", (c: Record<string, any>, ip: unknown) => (c.egressGateway.clusterIP = ip)],
  ["api.callbackClusterIP", (c: Record<string, any>, ip: unknown) => (c.api.callbackClusterIP = ip)],
] as const;

describe("egress gateway config", () => {
  it("accepts the example's gateway and maps it unchanged", () => {
    const { egressGateway } = exampleConfig();
    expect(egressGateway).toEqual({
      image: `docker.io/nginxinc/nginx-unprivileged:1.29-alpine@sha256:${"0".repeat(64)}`,
      replicas: 2,
      clusterIP: "10.20.0.64",
      port: 8080,
      healthPort: 8081,
      routes: [
        { method: "POST", path: "/v1/messages" },
        { method: "POST", path: "/v1/messages/count_tokens" },
      ],
      maxBodyMegabytes: 32,
      rateLimit: { requestsPerMinute: 600, burst: 60 },
      upstreamReadTimeoutSeconds: 600,
      resources: { cpu: "250m", memory: "128Mi", ephemeralStorage: "1Gi" },
    });
  });

  it("fails if the section or its address is missing", () => {
    expect(broken((c) => delete c.egressGateway)).toEqual([expect.stringContaining("'egressGateway' ")]);
    expect(broken((c) => delete c.egressGateway.clusterIP)).toEqual([expect.stringContaining("'egressGateway.clusterIP' ")]);
    expect(broken((c) => delete c.egressGateway.image)).toEqual([expect.stringContaining("'egressGateway.image' ")]);
    expect(broken((c) => delete c.egressGateway.routes)).toEqual([expect.stringContaining("'egressGateway.routes' ")]);
    expect(broken((c) => delete c.api.callbackClusterIP)).toEqual([expect.stringContaining("'api.callbackClusterIP' ")]);
  });

  it("fails if a field is unknown (a misspelt setting never falls back to a default)", () => {
    expect(broken((c) => (c.egressGateway.rateLimits = {}))).toEqual([
      expect.stringContaining("'egressGateway.rateLimits' is not a known field"),
    ]);
  });

  it("fails if the image is not an image reference", () => {
    expect(broken((c) => (c.egressGateway.image = "nginx latest"))).toEqual([
      expect.stringContaining("'egressGateway.image' is not a container image reference"),
    ]);
  });

  it("fails if production runs the gateway image unpinned or with a placeholder digest, and not with a real digest", () => {
    expect(production("egressGateway.image", (c) => (c.egressGateway.image = "docker.io/nginxinc/nginx-unprivileged:1.29-alpine"))).toEqual(
      [
        "config/example.yaml: 'egressGateway.image' is not pinned by digest (production) (got \"docker.io/nginxinc/nginx-unprivileged:1.29-alpine\"). Reference the image as registry/path@sha256:<digest>.",
      ],
    );
    expect(production("egressGateway.image")).toEqual([
      expect.stringMatching(
        /^config\/example\.yaml: 'egressGateway\.image' carries a placeholder digest \(production\) \(got .*\)\. Use the digest of the published image\.$/,
      ),
    ]);
    const real = `docker.io/nginxinc/nginx-unprivileged:1.29-alpine@sha256:${"ab".repeat(32)}`;
    expect(production("egressGateway.image", (c) => (c.egressGateway.image = real))).toEqual([]);
    // Outside production a tag is allowed.
    expect(broken((c) => (c.egressGateway.image = "docker.io/nginxinc/nginx-unprivileged:1.29-alpine"))).toEqual([]);
  });

  it("fails if fewer than 2 replicas (or more than 20, or not whole) are asked for", () => {
    expect(broken((c) => (c.egressGateway.replicas = 1))).toEqual([
      "config/example.yaml: 'egressGateway.replicas' is below 2 (got 1). Use a whole number from 2 to 20.",
    ]);
    expect(broken((c) => (c.egressGateway.replicas = 21))[0]).toContain("'egressGateway.replicas' is above 20");
    expect(broken((c) => (c.egressGateway.replicas = 2.5))[0]).toContain("'egressGateway.replicas' is not a whole number");
    expect(broken((c) => (c.egressGateway.replicas = 20))).toEqual([]);
  });

  it("fails if a port is privileged or out of range, or the health port is the proxy port", () => {
    expect(broken((c) => (c.egressGateway.port = 80))[0]).toContain("'egressGateway.port' is below 1024");
    expect(broken((c) => (c.egressGateway.healthPort = 1023))[0]).toContain("'egressGateway.healthPort' is below 1024");
    expect(broken((c) => (c.egressGateway.port = 65536))[0]).toContain("'egressGateway.port' is above 65535");
    expect(broken((c) => (c.egressGateway.healthPort = 8080))).toEqual([
      "config/example.yaml: 'egressGateway.healthPort' equals 'egressGateway.port' (got 8080). Give the health endpoint its own port (the Service exposes only the proxy port).",
    ]);
    expect(broken((c) => (c.egressGateway.port = 8081))).toEqual([
      expect.stringContaining("'egressGateway.healthPort' equals 'egressGateway.port' (got 8081)"),
    ]);
    expect(broken((c) => (c.egressGateway.port = 1024))).toEqual([]);
  });

  it("fails if the route allowlist is empty, names a method the gateway cannot allow, or lists a route twice", () => {
    expect(broken((c) => (c.egressGateway.routes = []))).toEqual([
      "config/example.yaml: 'egressGateway.routes' is empty (got []). Allow at least one method and path, e.g. POST /v1/messages.",
    ]);
    for (const method of ["post", "CONNECT", "TRACE", ""]) {
      expect(
        broken((c) => (c.egressGateway.routes[0].method = method)),
        method,
      ).toEqual([expect.stringContaining("'egressGateway.routes[0].method' is not an HTTP method the gateway can allow")]);
    }
    expect(broken((c) => c.egressGateway.routes.push({ method: "POST", path: "/v1/messages" }))).toEqual([
      expect.stringContaining("'egressGateway.routes[2]' repeats an earlier route"),
    ]);
    // The same path under another method is another route.
    expect(broken((c) => c.egressGateway.routes.push({ method: "GET", path: "/v1/messages" }))).toEqual([]);
  });

  it("fails if a route's path is not exact and normalised (a `..`, `.`, `//`, query or relative path could widen the allowlist)", () => {
    for (const path of [
      "v1/messages",
      "/",
      "/v1//messages",
      "/v1/../models",
      "/v1/./messages",
      "/.well-known",
      "/v1/messages?x=1",
      "/v1/messages/",
      "/v1/mess ages",
      "/v1/%6Dessages",
    ]) {
      expect(
        broken((c) => (c.egressGateway.routes[0].path = path)),
        path,
      ).toEqual([expect.stringContaining("'egressGateway.routes[0].path' is not an exact, normalised path")]);
    }
    for (const path of ["/v1/messages/batches", "/v1/models", "/v1/files.list", "/v1/a-b_c"]) {
      expect(
        broken((c) => (c.egressGateway.routes[0].path = path)),
        path,
      ).toEqual([]);
    }
  });

  it("fails if a limit is out of range", () => {
    const cases: [string, (c: Record<string, any>) => void, string][] = [
      ["egressGateway.maxBodyMegabytes", (c) => (c.egressGateway.maxBodyMegabytes = 0), "is below 1"],
      ["egressGateway.maxBodyMegabytes", (c) => (c.egressGateway.maxBodyMegabytes = 257), "is above 256"],
      ["egressGateway.rateLimit.requestsPerMinute", (c) => (c.egressGateway.rateLimit.requestsPerMinute = 0), "is below 1"],
      ["egressGateway.rateLimit.burst", (c) => (c.egressGateway.rateLimit.burst = -1), "is below 0"],
      ["egressGateway.rateLimit.burst", (c) => (c.egressGateway.rateLimit.burst = 1.5), "is not a whole number"],
      ["egressGateway.upstreamReadTimeoutSeconds", (c) => (c.egressGateway.upstreamReadTimeoutSeconds = 5), "is below 10"],
      ["egressGateway.upstreamReadTimeoutSeconds", (c) => (c.egressGateway.upstreamReadTimeoutSeconds = 3601), "is above 3600"],
      ["egressGateway.resources.memory", (c) => (c.egressGateway.resources.memory = "128 MB"), "is not a Kubernetes memory quantity"],
    ];
    for (const [field, mutate, problem] of cases) {
      expect(broken(mutate), field).toEqual([expect.stringContaining(`'${field}' ${problem}`)]);
    }
    expect(broken((c) => (c.egressGateway.rateLimit.burst = 0))).toEqual([]);
  });
});

describe("fixed cluster IPs (the gateway's and the API callback's Services)", () => {
  for (const [field, set] of FIELDS) {
    it(`fails if '${field}' is not an IPv4 address`, () => {
      for (const ip of ["10.20.0", "fd00::40", "10.20.0.064", "gateway", 10]) {
        expect(
          broken((c) => set(c, ip)),
          String(ip),
        ).toEqual([expect.stringContaining(`'${field}' is not`)]);
      }
    });

    it(`fails if '${field}' is outside network.serviceCidr`, () => {
      expect(broken((c) => set(c, "10.16.0.64"))).toEqual([
        `config/example.yaml: '${field}' is outside 'network.serviceCidr' (10.20.0.0/20) (got "10.16.0.64"). ${FIX}`,
      ]);
      expect(broken((c) => set(c, "10.20.16.0"))[0]).toContain(`'${field}' is outside 'network.serviceCidr'`);
    });

    it(`fails if '${field}' is the range's network or broadcast address, the kubernetes Service's (.1) or kube-dns's (.10)`, () => {
      expect(broken((c) => set(c, "10.20.0.0"))).toEqual([
        `config/example.yaml: '${field}' is the service range's network address (got "10.20.0.0"). ${FIX}`,
      ]);
      expect(broken((c) => set(c, "10.20.0.1"))).toEqual([
        `config/example.yaml: '${field}' is the kubernetes API Service's address (the first of the service range) (got "10.20.0.1"). ${FIX}`,
      ]);
      expect(broken((c) => set(c, "10.20.0.10"))).toEqual([
        `config/example.yaml: '${field}' is kube-dns's address (GKE gives it the tenth of the service range) (got "10.20.0.10"). ${FIX}`,
      ]);
      // The broadcast address is outside the static band of a /20 too; on a /28 it is the band's last.
      const small = (ip: string) =>
        broken((c) => {
          c.network.serviceCidr = "10.20.0.0/28";
          set(c, ip);
          if (field === "egressGateway.clusterIP") c.api.callbackClusterIP = "10.20.0.3";
          else c.egressGateway.clusterIP = "10.20.0.2";
        });
      expect(small("10.20.0.15")).toEqual([
        `config/example.yaml: '${field}' is the service range's broadcast address (got "10.20.0.15"). Pick an address from 10.20.0.2 to 10.20.0.15 (the static band of 10.20.0.0/28), not 10.20.0.10.`,
      ]);
      expect(small("10.20.0.14")).toEqual([]);
    });

    it(`fails if '${field}' is outside the static band (another Service may be given it first), and not at the band's edges`, () => {
      expect(broken((c) => set(c, "10.20.1.0"))).toEqual([
        `config/example.yaml: '${field}' is outside the static band of 'network.serviceCidr' (its first 256 addresses): Kubernetes may give it to another Service first, and the apply fails (got "10.20.1.0"). ${FIX}`,
      ]);
      for (const ip of ["10.20.0.2", "10.20.0.9", "10.20.0.11", "10.20.0.255"])
        expect(
          broken((c) => set(c, ip)),
          ip,
        ).toEqual([]);
    });
  }

  it("fails if the two fixed addresses are the same, naming the one taken first", () => {
    expect(broken((c) => (c.api.callbackClusterIP = c.egressGateway.clusterIP))).toEqual([
      `config/example.yaml: 'api.callbackClusterIP' equals 'egressGateway.clusterIP' (got "10.20.0.64"). Give each fixed Service its own address. ${FIX}`,
    ]);
    expect(broken((c) => (c.egressGateway.clusterIP = c.api.callbackClusterIP))).toEqual([
      expect.stringContaining(`'api.callbackClusterIP' equals 'egressGateway.clusterIP' (got "10.20.0.65")`),
    ]);
  });

  it("sizes the static band as Kubernetes does: min(max(16, size/16), 256)", () => {
    expect([4096n, 65536n, 256n, 16n, 8n].map(staticServiceBand)).toEqual([256n, 256n, 16n, 16n, 16n]);
    expect(staticServiceBand(1024n)).toBe(64n);
  });
});

describe("who may read the Anthropic API key", () => {
  it("fails if the key is missing or its consumers leave out the egress gateway", () => {
    expect(broken((c) => delete c.secrets.items["anthropic-api-key"])).toEqual([
      "config/example.yaml: 'secrets.items.anthropic-api-key' is missing (got nothing). Add it with consumers [egress] (see config/example.yaml).",
    ]);
    expect(broken((c) => (c.secrets.items["anthropic-api-key"].consumers = ["api"]))).toEqual([
      `config/example.yaml: 'secrets.items.anthropic-api-key.consumers' does not list egress (got ["api"]). Add egress: the plan reads this secret there.`,
      `config/example.yaml: 'secrets.items.anthropic-api-key.consumers' lists api: only the egress gateway may read the Anthropic API key (whoever reads it can hand it to a runner) (got ["api"]). Set consumers to [egress]; runners reach the API through the gateway, which adds the key.`,
    ]);
  });

  it("fails if anyone besides the egress gateway may read it (the API, the schema Job, Terraform)", () => {
    for (const other of ["api", "migrate", "edge", "data"]) {
      expect(
        broken((c) => (c.secrets.items["anthropic-api-key"].consumers = ["egress", other])),
        other,
      ).toEqual([
        expect.stringContaining(
          `'secrets.items.anthropic-api-key.consumers' lists ${other}: only the egress gateway may read the Anthropic API key`,
        ),
      ]);
    }
  });

  it("fails if the egress gateway is made a consumer of any other secret", () => {
    expect(broken((c) => c.secrets.items["session-secret"].consumers.push("egress"))).toEqual([
      `config/example.yaml: 'secrets.items.session-secret.consumers' lists egress, which reads only 'anthropic-api-key' (got ["api","egress"]). Remove egress: the gateway's identity may read no other secret.`,
    ]);
  });

  it("fails if a secret names an env but the API does not read it (the key must not come back as ANTHROPIC_API_KEY)", () => {
    expect(broken((c) => (c.secrets.items["anthropic-api-key"].env = "ANTHROPIC_API_KEY"))).toEqual([
      `config/example.yaml: 'secrets.items.anthropic-api-key.env' is set, but 'api' is not among the consumers (only the API's Secret has environment variables) (got "ANTHROPIC_API_KEY"). Remove env, or add api to consumers.`,
    ]);
    expect(broken((c) => (c.secrets.items["origin-key"].env = "ORIGIN_KEY"))[0]).toContain(
      "'secrets.items.origin-key.env' is set, but 'api'",
    );
  });

  it("gives the gateway's External Secrets identity a service account id within 30 characters, for the longest name prefix", () => {
    const config = { ...exampleConfig(), name: "a-prefix-of-18-chr" };
    expect(config.name).toHaveLength(18);
    expect(problemsOf({ ...exampleRaw(), name: config.name })).toEqual([]);
    const ids = Object.values(esoIdentities(config)).map((i) => i.accountId);
    expect(ids).toEqual(["a-prefix-of-18-chr-eso-api", "a-prefix-of-18-chr-eso-migrate", "a-prefix-of-18-chr-eso-egress"]);
    for (const id of ids) expect(id.length, id).toBeLessThanOrEqual(30);
  });
});

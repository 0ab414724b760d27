import { describe, expect, it } from "vitest";
import { exampleRaw, problemsOf, PROBLEM_LINE } from "../support/config.ts";

/** Applies `mutate` to a copy of the example and returns the problems. */
function broken(mutate: (c: Record<string, any>) => void): string[] {
  const raw = exampleRaw();
  mutate(raw);
  const problems = problemsOf(raw);
  for (const p of problems) expect(p).toMatch(PROBLEM_LINE);
  return problems;
}

function production(mutate: (c: Record<string, any>) => void = () => {}): string[] {
  return broken((c) => {
    c.production = true;
    mutate(c);
  });
}

describe("config validation", () => {
  it("accepts the example environment", () => {
    expect(problemsOf(exampleRaw())).toEqual([]);
  });

  it("fails if the project id is missing", () => {
    expect(broken((c) => delete c.project.id)).toEqual([expect.stringContaining("'project.id' is missing")]);
  });

  it("fails if the project id is malformed", () => {
    expect(broken((c) => (c.project.id = "Bad_Project"))[0]).toContain(`'project.id' is not a Google Cloud project id (got "Bad_Project")`);
  });

  it("fails if the region is malformed", () => {
    const p = broken((c) => (c.project.region = "us central"));
    expect(p.some((l) => l.includes(`'project.region' is not a Google Cloud region (got "us central")`))).toBe(true);
  });

  it("fails if a zone is not in the region", () => {
    expect(broken((c) => (c.project.zones = ["europe-west4-a"]))).toEqual([
      expect.stringContaining(`'project.zones[0]' is not a zone of region us-central1`),
    ]);
  });

  it("fails if a zone is listed twice", () => {
    expect(broken((c) => (c.project.zones = ["us-central1-a", "us-central1-a"]))[0]).toContain("lists a zone twice");
  });

  it("fails if CIDR blocks overlap, naming both fields and the fix", () => {
    expect(broken((c) => (c.network.podCidr = "10.8.0.0/14"))).toEqual([
      `config/example.yaml: 'network.podCidr' overlaps 'network.nodeCidr' (got "10.8.0.0/14"). Pick a range outside 10.10.0.0/20.`,
    ]);
  });

  it("fails if a CIDR is malformed or has host bits set", () => {
    expect(broken((c) => (c.network.nodeCidr = "10.10.0.1/20"))[0]).toContain("'network.nodeCidr' is not an IPv4 CIDR block");
    expect(broken((c) => (c.network.serviceCidr = "300.0.0.0/8"))[0]).toContain("'network.serviceCidr'");
  });

  it("fails if the control plane range is not a /28", () => {
    expect(broken((c) => (c.network.controlPlaneCidr = "172.16.0.0/24"))[0]).toContain("is not a /28 block");
  });

  it("fails if the private services range is smaller than a /24", () => {
    expect(broken((c) => (c.network.privateServicesCidr = "10.30.0.0/26"))[0]).toContain("smaller than a /24");
  });

  it("fails if an unknown field is present (a typo must not be silently ignored)", () => {
    expect(broken((c) => (c.cluster.sandboxPol = {}))).toEqual([expect.stringContaining("'cluster.sandboxPol' is not a known field")]);
  });

  it("fails if a value has the wrong type", () => {
    expect(broken((c) => (c.production = "yes"))[0]).toContain(`'production' is not a boolean (got "yes")`);
  });

  it("fails if a pool's minimum exceeds its maximum", () => {
    expect(broken((c) => (c.cluster.sandboxPool.minNodes = 9))[0]).toContain("'cluster.sandboxPool.minNodes' is above");
  });

  it("fails if the system pool has fewer nodes than zones (a zone without a node has no API NEG), and not with one per zone", () => {
    expect(broken((c) => (c.cluster.systemPool.minNodes = 2))).toEqual([
      "config/example.yaml: 'cluster.systemPool.minNodes' is below the number of zones (3): a zone without a node has no API NEG, and the edge stack's plan fails (got 2). Use at least 3 (one node per zone).",
    ]);
    expect(broken((c) => (c.cluster.systemPool.minNodes = 3))).toEqual([]);
    expect(
      broken((c) => {
        c.project.zones = ["us-central1-a"];
        c.cluster.systemPool.minNodes = 1;
      }),
    ).toEqual([]);
  });

  it("fails if the runner quota is more than the sandbox pool can run, naming both fixes, and not at the limit", () => {
    // n2-standard-4: 3.92 CPU allocatable, so one 2-CPU runner per node; five nodes.
    expect(broken((c) => (c.runner.maxPods = 6))).toEqual([
      "config/example.yaml: 'runner.maxPods' is more than the sandbox pool can run (1 runner of 2 CPU, 4Gi fit a n2-standard-4 node; 'cluster.sandboxPool.maxNodes' is 5, so at most 5) (got 6). Lower it to 5, or raise cluster.sandboxPool.maxNodes to 6.",
    ]);
    expect(broken((c) => (c.runner.maxPods = 5))).toEqual([]);
    // The same contradiction from the pool's side, and from the runner's size.
    expect(broken((c) => (c.cluster.sandboxPool.maxNodes = 4))[0]).toContain("'runner.maxPods' is more than the sandbox pool can run");
    expect(broken((c) => (c.runner.resources.cpu = "4"))[0]).toContain("(0 runners of 4 CPU, 4Gi fit a n2-standard-4 node;");
    // Bigger nodes hold more runners.
    expect(
      broken((c) => {
        c.cluster.sandboxPool.machineType = "n2-standard-8";
        c.runner.maxPods = 15;
      }),
    ).toEqual([]);
  });

  it("fails if a configured secret takes the database host secret's name", () => {
    expect(broken((c) => (c.secrets.items["db-host"] = { description: "x", consumers: ["api"] }))).toEqual([
      'config/example.yaml: \'secrets.items.db-host\' is reserved (the plan writes the database\'s private IP there) (got {"description":"x","consumers":["api"]}). Rename the secret.',
    ]);
  });

  it("fails if an authorized network takes the name of the cluster's own ranges", () => {
    for (const name of ["pods", "nodes"]) {
      expect(broken((c) => (c.cluster.authorizedNetworks = { [name]: "192.0.2.0/24" }))).toEqual([
        `config/example.yaml: 'cluster.authorizedNetworks.${name}' is reserved (the plan authorizes the cluster's own pod and node ranges under it) (got "192.0.2.0/24"). Give the network another name.`,
      ]);
    }
    expect(broken((c) => (c.cluster.authorizedNetworks = { office: "192.0.2.0/24" }))).toEqual([]);
  });

  it("fails if the API runs fewer than 2 replicas", () => {
    expect(broken((c) => (c.api.minReplicas = 1))[0]).toContain("'api.minReplicas' is below 2");
  });

  it("fails if the callback port equals the API port", () => {
    expect(broken((c) => (c.api.callbackPort = c.api.port))[0]).toContain("'api.callbackPort' equals 'api.port'");
  });

  it("fails if the environment name does not match the file", () => {
    expect(broken((c) => (c.environment = "prod"))[0]).toContain("'environment' does not match the file name");
  });

  it("fails if a label key has a hyphen (the provider would rename it)", () => {
    expect(broken((c) => (c.labels = { "team-name": "x" }))[0]).toContain("is not a valid label key");
  });

  it("fails if an image reference is malformed", () => {
    expect(broken((c) => (c.images.api = "not an image"))[0]).toContain("'images.api' is not a container image reference");
  });

  it("fails if SSH is enabled without source ranges", () => {
    expect(broken((c) => (c.api.ssh = { enabled: true, port: 2222, sourceRanges: [] }))).toEqual([
      expect.stringContaining("'api.ssh.sourceRanges' is empty while SSH is enabled"),
    ]);
  });

  it("fails if production opens SSH to the whole internet", () => {
    const p = production((c) => (c.api.ssh = { enabled: true, port: 2222, sourceRanges: ["0.0.0.0/0", "::/0"] })).join("\n");
    expect(p).toContain("'api.ssh.sourceRanges[0]' opens Git over SSH to the whole internet (production)");
    expect(p).toContain("'api.ssh.sourceRanges[1]' opens Git over SSH to the whole internet (production)");
  });

  it("fails if the database password secret is missing", () => {
    expect(broken((c) => delete c.secrets.items["db-password"])).toEqual([
      "config/example.yaml: 'secrets.items.db-password' is missing (got nothing). Add it with consumers [api, migrate, data] (see config/example.yaml).",
    ]);
  });

  it("fails if an origin key secret does not list edge", () => {
    expect(broken((c) => (c.secrets.items["origin-key"].consumers = ["api"]))).toEqual([
      `config/example.yaml: 'secrets.items.origin-key.consumers' does not list edge (got ["api"]). Add edge: the plan reads this secret there.`,
    ]);
    expect(broken((c) => delete c.secrets.items["origin-client-key"])[0]).toContain("'secrets.items.origin-client-key' is missing");
  });

  it("fails if two secrets share an env name, or one takes a reserved name", () => {
    expect(broken((c) => (c.secrets.items["csrf-key"].env = "SESSION_SECRET"))[0]).toMatch(
      /'secrets\.items\.(csrf-key|session-secret)\.env' is also the env of/,
    );
    expect(broken((c) => (c.secrets.items["csrf-key"].env = "DATABASE_URL"))[0]).toContain("'secrets.items.csrf-key.env' is reserved");
  });

  it("fails if a Cloudflare range is listed twice", () => {
    expect(broken((c) => c.edge.cloudflareRanges.cidrs.push("173.245.48.0/20"))[0]).toContain(
      "'edge.cloudflareRanges.cidrs[22]' lists a range twice",
    );
  });

  it("fails if the state location is one Cloud KMS cannot hold the state key in", () => {
    expect(broken((c) => (c.state.location = "NAM4"))[0]).toContain(
      "'state.location' is not a location both Cloud Storage and Cloud KMS offer",
    );
  });

  it("fails if the name prefix would make a service account id too long", () => {
    expect(broken((c) => (c.name = "a-nineteen-char-pfx"))[0]).toContain("'name' is not a valid name prefix");
  });

  it("fails if the API's minimum replicas exceed its maximum", () => {
    expect(broken((c) => (c.api.minReplicas = 12))[0]).toContain("'api.minReplicas' is above 'api.maxReplicas' (10)");
  });

  it("fails if production runs fewer than 3 API replicas", () => {
    expect(production().join("\n")).toContain("'api.minReplicas' is below 3 (production)");
  });

  it("fails if production keeps a placeholder state bucket or PKI organization", () => {
    const p = production().join("\n");
    expect(p).toContain("'state.bucket' holds a placeholder value (production)");
    expect(p).toContain("'pki.organization' holds a placeholder value (production)");
  });

  it.each([
    [
      "secrets.items.csrf-key.consumers[0]",
      (c: Record<string, any>) => (c.secrets.items["csrf-key"].consumers = ["everyone"]),
      "is not a consumer",
    ],
    [
      "secrets.items.csrf-key.env",
      (c: Record<string, any>) => (c.secrets.items["csrf-key"].env = "csrf-key"),
      "is not an environment variable name",
    ],
    ["secrets.rotationTopic", (c: Record<string, any>) => (c.secrets.rotationTopic = "rotation"), "is not a Pub/Sub topic id"],
    ["edge.cloudflareZoneId", (c: Record<string, any>) => (c.edge.cloudflareZoneId = "zone"), "is not a Cloudflare zone id"],
    [
      "edge.originCertValidityDays",
      (c: Record<string, any>) => (c.edge.originCertValidityDays = 100),
      "is not a validity Cloudflare's Origin CA offers",
    ],
    [
      "externalSecrets.chartVersion",
      (c: Record<string, any>) => (c.externalSecrets.chartVersion = "^2.0.0"),
      "is not an exact chart version",
    ],
    ["externalSecrets.refreshInterval", (c: Record<string, any>) => (c.externalSecrets.refreshInterval = "hourly"), "is not a duration"],
    ["cluster.maintenanceStart", (c: Record<string, any>) => (c.cluster.maintenanceStart = "25:00"), "is not a time of day"],
    ["database.backupStart", (c: Record<string, any>) => (c.database.backupStart = "2am"), "is not a time of day"],
    ["runner.resources.memory", (c: Record<string, any>) => (c.runner.resources.memory = "4 GB"), "is not a Kubernetes memory quantity"],
    ["api.healthPath", (c: Record<string, any>) => (c.api.healthPath = "health"), "is not a URL path"],
    ["pki.originHostnames[0]", (c: Record<string, any>) => (c.pki.originHostnames = ["not a host"]), "is not a hostname"],
    ["pki.dir", (c: Record<string, any>) => (c.pki.dir = "/abs path"), "is not a relative path"],
    [
      "database.version",
      (c: Record<string, any>) => (c.database.version = "POSTGRES_9_6"),
      "is not a supported Cloud SQL PostgreSQL version",
    ],
    ["cluster.releaseChannel", (c: Record<string, any>) => (c.cluster.releaseChannel = "EXTENDED"), "is not a GKE release channel"],
    ["edge.domain", (c: Record<string, any>) => (c.edge.domain = "localhost"), "is not a DNS name"],
    ["edge.originCertRenewal", (c: Record<string, any>) => (c.edge.originCertRenewal = "next week"), "is not a date"],
  ])("fails if '%s' is malformed", (field, mutate, problem) => {
    expect(broken(mutate)[0]).toContain(`'${field}' ${problem}`);
  });

  it("reports every problem at once", () => {
    const p = broken((c) => {
      delete c.project.id;
      c.project.region = "nowhere";
      c.network.podCidr = c.network.nodeCidr;
    });
    expect(p.length).toBeGreaterThanOrEqual(3);
  });

  it("fails if a production image is not pinned by digest", () => {
    expect(production((c) => (c.images.api = "ghcr.io/plue/api:latest")).join("\n")).toContain(
      "'images.api' is not pinned by digest (production)",
    );
  });

  it("fails if production keeps placeholder values", () => {
    const p = production().join("\n");
    expect(p).toContain("'project.id' holds a placeholder value (production)");
    expect(p).toContain("'edge.domain' holds a placeholder value (production)");
    expect(p).toContain("'images.runner' carries a placeholder digest (production)");
    expect(p).toContain("'edge.cloudflareZoneId' holds a placeholder value (production)");
  });

  it("fails if production is not regional HA", () => {
    const p = production((c) => (c.project.zones = ["us-central1-a"])).join("\n");
    expect(p).toContain("'project.zones' lists fewer than 3 zones (production)");
    expect(p).toContain("'database.availability' is not REGIONAL (production)");
  });

  it("fails if production uses the RAPID release channel", () => {
    expect(production((c) => (c.cluster.releaseChannel = "RAPID")).join("\n")).toContain("'cluster.releaseChannel' is RAPID (production)");
  });
});

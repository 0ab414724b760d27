/**
 * The deploy-readiness check (review/readiness): every rule fails on a broken fragment and passes
 * on its corrected one (fragments written to a temp dir and read back, as a plan is), and every
 * rule's findings on the real synthesized plan are pinned: today's plan has these traps (issue
 * 11); each expectation becomes "no findings" as its fix lands.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { checkReadiness, type Finding, RULES } from "../../review/readiness/index.ts";
import { allocatable, machineShape } from "../../lib/gke-capacity.ts";
import { canonicalQuantity, quantityValue } from "../../lib/quantity.ts";
import { planDir } from "../support/plan.ts";

// --- fragments ---------------------------------------------------------------------------------

type J = Record<string, unknown>;

/** A stack fragment: its dependencies and its cdk.tf.json body. */
interface StackFragment {
  readonly deps?: readonly string[];
  readonly project?: string;
  readonly resource?: Record<string, Record<string, J>>;
  readonly data?: Record<string, Record<string, J>>;
  readonly provider?: Record<string, J[]>;
}

const work = mkdtempSync(join(tmpdir(), "plue-readiness-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let count = 0;

/** Writes a plan directory (manifest.json, stacks/<s>/cdk.tf.json, k8s/<file>) and returns it. */
function writePlan(stacks: Record<string, StackFragment>, charts: Record<string, J[]> = {}): string {
  const dir = join(work, `plan-${++count}`);
  mkdirSync(dir, { recursive: true });
  const manifest: { stacks: Record<string, J> } = { stacks: {} };
  for (const [name, s] of Object.entries(stacks)) {
    mkdirSync(join(dir, "stacks", name), { recursive: true });
    const tf = {
      terraform: {},
      provider: s.provider ?? { google: [{ project: s.project ?? "plue-test", region: "r1" }] },
      ...(s.resource ? { resource: s.resource } : {}),
      ...(s.data ? { data: s.data } : {}),
    };
    writeFileSync(join(dir, "stacks", name, "cdk.tf.json"), JSON.stringify(tf));
    manifest.stacks[name] = { dependencies: s.deps ?? [], synthesizedStackPath: `stacks/${name}/cdk.tf.json` };
  }
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  mkdirSync(join(dir, "k8s"), { recursive: true });
  for (const [file, objects] of Object.entries(charts)) {
    writeFileSync(join(dir, "k8s", file), objects.map((o) => `---\n${stringify(o)}`).join(""));
  }
  return dir;
}

/** Findings of one rule as [severity, stack, address]. */
function run(dir: string, rule: string): [string, string | undefined, string][] {
  return checkReadiness(dir)
    .filter((f) => f.rule === rule)
    .map((f) => [f.severity, f.stack, f.address]);
}

/** Findings of one rule, whole. */
function findings(dir: string, rule: string): Finding[] {
  return checkReadiness(dir).filter((f) => f.rule === rule);
}

/** One kubernetes_manifest resource. */
function manifest(manifest: J, extra: J = {}): J {
  return { manifest, ...extra };
}

const job: J = {
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "migrate", namespace: "api", labels: { app: "migrate" } },
  spec: {
    template: { metadata: { labels: { app: "migrate" } }, spec: { restartPolicy: "Never", containers: [{ name: "m", image: "i" }] } },
  },
};

// --- the engine --------------------------------------------------------------------------------

describe("the readiness engine", () => {
  it("has one rule per class, with unique ids, a rationale and a source each", () => {
    expect(RULES.map((r) => r.id)).toEqual([
      "DR001",
      "DR002",
      "DR003",
      "DR004",
      "DR005",
      "DR006",
      "DR007",
      "DR008",
      "DR009",
      "DR010",
      "DR011",
      "DR012",
      "DR013",
      "DR014",
      "DR015",
    ]);
    for (const r of RULES) {
      expect(r.rationale.length, r.id).toBeGreaterThan(80);
      expect(r.source, r.id).toMatch(/https:\/\/|cli-core/);
      expect(["error", "warning", "info"], r.id).toContain(r.severity);
    }
  });

  it("fails with a message naming the directory when the plan has no manifest.json", () => {
    const dir = join(work, "empty");
    mkdirSync(dir, { recursive: true });
    expect(() => checkReadiness(dir)).toThrow(`${dir}: 'manifest.json' is missing (got no file). Run \`npm run synth\``);
  });

  it("finds nothing in an empty plan", () => {
    expect(checkReadiness(writePlan({}))).toEqual([]);
  });
});

// --- DR001 -------------------------------------------------------------------------------------

describe("DR001 server-rewritten fields of kubernetes_manifest", () => {
  it("fails on a Job that sets template labels without computed_fields, naming the path and the fix", () => {
    const dir = writePlan({ w: { resource: { kubernetes_manifest: { job: manifest(job) } } } });
    const [f] = findings(dir, "DR001");
    expect(findings(dir, "DR001")).toHaveLength(1);
    expect(f?.address).toBe("kubernetes_manifest.job");
    expect(f?.message).toContain("sets spec.template.metadata.labels");
    expect(f?.fix).toBe(
      'computed_fields = ["metadata.annotations","metadata.labels","spec.template.metadata.labels"] on this kubernetes_manifest (list the defaults again: setting computed_fields replaces them)',
    );
  });

  it("passes the Job once the template labels are computed", () => {
    const cf = { computed_fields: ["metadata.annotations", "metadata.labels", "spec.template.metadata.labels"] };
    expect(run(writePlan({ w: { resource: { kubernetes_manifest: { job: manifest(job, cf) } } } }), "DR001")).toEqual([]);
  });

  it("fails on a Namespace whose computed_fields drop the default metadata.labels, passes with the default", () => {
    const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name: "api", labels: { team: "x" } } };
    const broken = writePlan({ w: { resource: { kubernetes_manifest: { ns: manifest(ns, { computed_fields: ["spec.finalizers"] }) } } } });
    expect(run(broken, "DR001")).toEqual([["error", "w", "kubernetes_manifest.ns"]]);
    expect(run(writePlan({ w: { resource: { kubernetes_manifest: { ns: manifest(ns) } } } }), "DR001")).toEqual([]);
  });

  it("fails on a NEG Service whose computed_fields drop metadata.annotations, and not on a Service without a NEG", () => {
    const svc = (annotations: J) => ({ apiVersion: "v1", kind: "Service", metadata: { name: "api", namespace: "api", annotations } });
    const neg = { "cloud.google.com/neg": '{"exposed_ports":{"80":{"name":"n"}}}' };
    const cf = { computed_fields: ["metadata.labels"] };
    expect(run(writePlan({ w: { resource: { kubernetes_manifest: { s: manifest(svc(neg), cf) } } } }), "DR001")).toEqual([
      ["error", "w", "kubernetes_manifest.s"],
    ]);
    expect(run(writePlan({ w: { resource: { kubernetes_manifest: { s: manifest(svc({ a: "b" }), cf) } } } }), "DR001")).toEqual([]);
  });

  it("fails on quantities the API server rewrites (2000m, 1000, numbers), passes on canonical ones", () => {
    const pod = (cpu: unknown, memory: unknown) => ({
      apiVersion: "v1",
      kind: "PodTemplate",
      metadata: { name: "t", namespace: "n" },
      template: { spec: { containers: [{ name: "c", resources: { requests: { cpu, memory }, limits: { cpu, memory } } }] } },
    });
    const broken = findings(writePlan({ w: { resource: { kubernetes_manifest: { t: manifest(pod("2000m", 1024)) } } } }), "DR001");
    expect(broken.map((f) => f.fix)).toEqual([
      'write template.spec.containers[0].resources.limits.cpu as the string "2"',
      'write template.spec.containers[0].resources.limits.memory as the string "1024"',
      'write template.spec.containers[0].resources.requests.cpu as the string "2"',
      'write template.spec.containers[0].resources.requests.memory as the string "1024"',
    ]);
    expect(run(writePlan({ w: { resource: { kubernetes_manifest: { t: manifest(pod("2", "1Gi")) } } } }), "DR001")).toEqual([]);
  });

  it("canonicalises quantities as the API server does", () => {
    const cases: [string, string | undefined][] = [
      ["2000m", "2"],
      ["1000", "1k"],
      ["0.5", "500m"],
      ["1.5", "1500m"],
      ["1500m", "1500m"],
      ["2048Mi", "2Gi"],
      ["1536Mi", "1536Mi"],
      ["0.5Gi", "512Mi"],
      ["1024", "1024"],
      ["1e4", "10e3"],
      ["0", "0"],
      ["4Gi", "4Gi"],
      ["nonsense", undefined],
    ];
    for (const [q, c] of cases) expect(canonicalQuantity(q), q).toBe(c);
    expect(quantityValue("500m")).toBe(0.5);
    expect(quantityValue("4Gi")).toBe(4 * 2 ** 30);
    expect(quantityValue("x")).toBeUndefined();
  });
});

// --- DR002 -------------------------------------------------------------------------------------

describe("DR002 hand-built e-mails of service accounts the plan creates", () => {
  const sa = { google_service_account: { eso: { account_id: "app-eso" } } };
  const grant = (member: string) => ({ google_secret_manager_secret_iam_member: { g: { member, role: "r", secret_id: "s" } } });

  it("fails on a literal member naming an account the same stack creates", () => {
    const dir = writePlan({ data: { resource: { ...sa, ...grant("serviceAccount:app-eso@plue-test.iam.gserviceaccount.com") } } });
    const [f] = findings(dir, "DR002");
    expect(findings(dir, "DR002")).toHaveLength(1);
    expect(f?.address).toBe("google_secret_manager_secret_iam_member.g");
    expect(f?.fix).toContain("${google_service_account.eso.member}");
  });

  it("passes when the member references the account", () => {
    expect(run(writePlan({ data: { resource: { ...sa, ...grant("${google_service_account.eso.member}") } } }), "DR002")).toEqual([]);
  });

  it("fails across stacks when the account's stack is not applied first, passes when it is", () => {
    const member = "serviceAccount:app-eso@plue-test.iam.gserviceaccount.com";
    expect(run(writePlan({ a: { resource: sa }, b: { resource: grant(member) } }), "DR002")).toEqual([
      ["error", "b", "google_secret_manager_secret_iam_member.g"],
    ]);
    expect(run(writePlan({ a: { resource: sa }, b: { deps: ["a"], resource: grant(member) } }), "DR002")).toEqual([]);
  });

  it("ignores accounts of another project and Google-managed service agents", () => {
    const other = grant("serviceAccount:app-eso@other-project.iam.gserviceaccount.com");
    expect(run(writePlan({ data: { resource: { ...sa, ...other } } }), "DR002")).toEqual([]);
    const agent = grant("serviceAccount:service-123@container-engine-robot.iam.gserviceaccount.com");
    expect(run(writePlan({ data: { resource: { ...sa, ...agent } } }), "DR002")).toEqual([]);
  });
});

// --- DR003 -------------------------------------------------------------------------------------

describe("DR003 data sources that read what the same stack creates", () => {
  const secret = { google_secret_manager_secret: { db: { secret_id: "app-db-password" } } };
  const version = { google_secret_manager_secret_version: { pw: { secret: "app-db-password" } } };

  it("fails on a secret version read in the stack that creates the secret", () => {
    const dir = writePlan({ data: { resource: secret, data: version } });
    expect(run(dir, "DR003")).toEqual([["error", "data", "data.google_secret_manager_secret_version.pw"]]);
    expect(findings(dir, "DR003")[0]?.fix).toContain("create google_secret_manager_secret.db in an earlier stack");
  });

  it("fails on a secret version read by reference too (deferring the read does not add a value)", () => {
    const byRef = { google_secret_manager_secret_version: { pw: { secret: "${google_secret_manager_secret.db.id}" } } };
    expect(run(writePlan({ data: { resource: secret, data: byRef } }), "DR003")).toEqual([
      ["error", "data", "data.google_secret_manager_secret_version.pw"],
    ]);
  });

  it("passes when the secret is created by an earlier stack", () => {
    expect(run(writePlan({ secrets: { resource: secret }, data: { deps: ["secrets"], data: version } }), "DR003")).toEqual([]);
  });

  it("fails on a cluster read by literal name in its own stack, passes when read by reference", () => {
    const cluster = { google_container_cluster: { c: { name: "gke" } } };
    const literal = { google_container_cluster: { read: { name: "gke", location: "r1" } } };
    const byRef = { google_container_cluster: { read: { name: "${google_container_cluster.c.name}", location: "r1" } } };
    expect(run(writePlan({ s: { resource: cluster, data: literal } }), "DR003")).toEqual([
      ["error", "s", "data.google_container_cluster.read"],
    ]);
    expect(run(writePlan({ s: { resource: cluster, data: byRef } }), "DR003")).toEqual([]);
  });

  it("fails on a read from a stack that is not applied before the reader", () => {
    expect(run(writePlan({ secrets: { resource: secret }, data: { data: version } }), "DR003")).toEqual([
      ["error", "data", "data.google_secret_manager_secret_version.pw"],
    ]);
  });
});

// --- DR004 -------------------------------------------------------------------------------------

describe("DR004 ForceNew resources in use without create-before-destroy", () => {
  const entry = {
    google_certificate_manager_certificate_map_entry: { e: { certificates: ["${google_certificate_manager_certificate.c.id}"] } },
  };
  const cert = (body: J) => ({ google_certificate_manager_certificate: { c: { self_managed: { pem_certificate: "x" }, ...body } } });

  it("fails on a used certificate with a fixed name and no create_before_destroy", () => {
    const dir = writePlan({ edge: { resource: { ...cert({ name: "edge-origin" }), ...entry } } });
    const [f] = findings(dir, "DR004");
    expect(findings(dir, "DR004")).toHaveLength(1);
    expect(f?.message).toContain("it is replaced destroy-first and its name is fixed (edge-origin)");
    expect(f?.fix).toContain("lifecycle { create_before_destroy = true }");
  });

  it("fails on create_before_destroy with a fixed name (the create collides)", () => {
    const dir = writePlan({
      edge: { resource: { ...cert({ name: "edge-origin", lifecycle: { create_before_destroy: true } }), ...entry } },
    });
    expect(findings(dir, "DR004").map((f) => f.message)).toEqual([expect.stringContaining("its name is fixed (edge-origin)")]);
    expect(findings(dir, "DR004")[0]?.message).not.toContain("destroy-first");
  });

  it("passes with a content-derived name and create_before_destroy", () => {
    const fixed = cert({ name: "edge-origin-${substr(sha256(x), 0, 8)}", lifecycle: { create_before_destroy: true } });
    expect(run(writePlan({ edge: { resource: { ...fixed, ...entry } } }), "DR004")).toEqual([]);
  });

  it("passes on an unused certificate (nothing to deadlock)", () => {
    expect(run(writePlan({ edge: { resource: cert({ name: "edge-origin" }) } }), "DR004")).toEqual([]);
  });

  it("fails on a used Origin CA certificate replaced destroy-first, passes with create_before_destroy", () => {
    const user = {
      google_certificate_manager_certificate: {
        c: { self_managed: { pem_certificate: "${cloudflare_origin_ca_certificate.o.certificate}" } },
      },
    };
    const origin = (lifecycle: J) => ({
      cloudflare_origin_ca_certificate: { o: { csr: "c", hostnames: ["h"], request_type: "origin-rsa", ...lifecycle } },
    });
    const cbd = { name: "n-${sha256(x)}", lifecycle: { create_before_destroy: true } };
    const c = { google_certificate_manager_certificate: { c: { ...user.google_certificate_manager_certificate.c, ...cbd } } };
    expect(run(writePlan({ edge: { resource: { ...origin({}), ...c } } }), "DR004")).toEqual([
      ["error", "edge", "cloudflare_origin_ca_certificate.o"],
    ]);
    expect(run(writePlan({ edge: { resource: { ...origin({ lifecycle: { create_before_destroy: true } }), ...c } } }), "DR004")).toEqual(
      [],
    );
  });
});

// --- DR005 -------------------------------------------------------------------------------------

describe("DR005 Google APIs used but not enabled", () => {
  const iam = { google_project_iam_member: { m: { project: "plue-test", role: "r", member: "user:a@b.c" } } };
  const enable = (service: string) => ({ google_project_service: { [service.split(".")[0] as string]: { service } } });

  it("fails on a resource whose API nothing enables, naming the service", () => {
    const dir = writePlan({ x: { resource: iam } });
    expect(run(dir, "DR005")).toEqual([["error", "x", "google_project_iam_member.m"]]);
    expect(findings(dir, "DR005")[0]?.message).toBe(
      "calls cloudresourcemanager.googleapis.com, which no google_project_service in the plan enables",
    );
  });

  it("passes when an earlier stack enables the API", () => {
    const dir = writePlan({
      bootstrap: { resource: enable("cloudresourcemanager.googleapis.com") },
      x: { deps: ["bootstrap"], resource: iam },
    });
    expect(run(dir, "DR005")).toEqual([]);
  });

  it("fails when the API is enabled only in a stack that is not applied first", () => {
    const dir = writePlan({ bootstrap: { resource: enable("cloudresourcemanager.googleapis.com") }, x: { resource: iam } });
    expect(findings(dir, "DR005").map((f) => f.message)).toEqual([
      "calls cloudresourcemanager.googleapis.com, enabled only in stack bootstrap, which is not applied before stack x",
    ]);
  });

  it("fails on a same-stack user (or data source) without depends_on on the enablement, passes with it", () => {
    const key = (extra: J) => ({ google_kms_key_ring: { k: { name: "k", location: "r1", ...extra } } });
    const agent = (extra: J) => ({ google_storage_project_service_account: { a: { ...extra } } });
    const services = {
      google_project_service: {
        ...enable("cloudkms.googleapis.com").google_project_service,
        ...enable("storage.googleapis.com").google_project_service,
        ...enable("cloudresourcemanager.googleapis.com").google_project_service,
      },
    };
    const broken = writePlan({ b: { resource: { ...services, ...key({}) }, data: agent({}) } });
    expect(run(broken, "DR005")).toEqual([
      ["error", "b", "data.google_storage_project_service_account.a"],
      ["error", "b", "google_kms_key_ring.k"],
    ]);
    const fixed = writePlan({
      b: {
        resource: { ...services, ...key({ depends_on: ["google_project_service.cloudkms"] }) },
        data: agent({ depends_on: ["google_project_service.storage"] }),
      },
    });
    expect(run(fixed, "DR005")).toEqual([]);
  });

  it("fails on a Google type it has no service for, so it never passes silently", () => {
    const dir = writePlan({ x: { resource: { google_made_up_thing: { t: {} } } } });
    expect(findings(dir, "DR005").map((f) => f.message)).toEqual([
      "no Google service is known for google_made_up_thing, so this rule cannot tell whether its API is enabled",
    ]);
  });
});

// --- DR006 -------------------------------------------------------------------------------------

describe("DR006 controller-owned fields set in manifests", () => {
  const deployment = (replicas?: number) => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "api", namespace: "api" },
    spec: { ...(replicas !== undefined ? { replicas } : {}), selector: { matchLabels: { a: "b" } } },
  });
  const hpa = {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: "api", namespace: "api" },
    spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "api" }, minReplicas: 2, maxReplicas: 5 },
  };

  it("fails on spec.replicas of a Deployment an HPA targets", () => {
    const dir = writePlan({ w: { resource: { kubernetes_manifest: { d: manifest(deployment(2)), h: manifest(hpa) } } } });
    expect(run(dir, "DR006")).toEqual([["error", "w", "kubernetes_manifest.d"]]);
  });

  it("passes without spec.replicas, and on spec.replicas with no HPA", () => {
    expect(run(writePlan({ w: { resource: { kubernetes_manifest: { d: manifest(deployment()), h: manifest(hpa) } } } }), "DR006")).toEqual(
      [],
    );
    expect(run(writePlan({ w: { resource: { kubernetes_manifest: { d: manifest(deployment(2)) } } } }), "DR006")).toEqual([]);
  });

  it("checks chart objects that no kubernetes_manifest applies", () => {
    const dir = writePlan({}, { "api.k8s.yaml": [deployment(3), hpa] });
    expect(run(dir, "DR006")).toEqual([["error", undefined, "k8s/api.k8s.yaml: Deployment api/api"]]);
  });
});

// --- DR007 -------------------------------------------------------------------------------------

describe("DR007 per-zone lookups versus node placement", () => {
  const neg = { google_compute_network_endpoint_group: { "neg-a": { name: "api-neg", zone: "z-a" } } };
  const pool = (autoscaling: J) => ({ google_container_node_pool: { system: { node_locations: ["z-a", "z-b"], autoscaling } } });

  it("fails when the pools guarantee only a total, not a node per zone", () => {
    const dir = writePlan({
      cluster: { resource: pool({ total_min_node_count: 1, total_max_node_count: 3 }) },
      edge: { deps: ["cluster"], data: neg },
    });
    expect(run(dir, "DR007")).toEqual([["error", "edge", "data.google_compute_network_endpoint_group.neg-a"]]);
  });

  it("passes with a per-zone minimum in the NEG's zone", () => {
    const dir = writePlan({
      cluster: { resource: pool({ min_node_count: 1, max_node_count: 2 }) },
      edge: { deps: ["cluster"], data: neg },
    });
    expect(run(dir, "DR007")).toEqual([]);
  });

  it("fails when the per-zone pool does not cover the NEG's zone", () => {
    const other = { google_container_node_pool: { system: { node_locations: ["z-b"], autoscaling: { min_node_count: 1 } } } };
    expect(run(writePlan({ cluster: { resource: other }, edge: { deps: ["cluster"], data: neg } }), "DR007")).toHaveLength(1);
  });
});

// --- DR008 -------------------------------------------------------------------------------------

describe("DR008 quotas the node pools cannot hold", () => {
  const objects = (pods: string) => ({
    quota: manifest({ apiVersion: "v1", kind: "ResourceQuota", metadata: { name: "q", namespace: "runners" }, spec: { hard: { pods } } }),
    tpl: manifest({
      apiVersion: "v1",
      kind: "PodTemplate",
      metadata: { name: "runner", namespace: "runners" },
      template: {
        spec: {
          nodeSelector: { "sandbox.gke.io/runtime": "gvisor" },
          containers: [{ name: "r", resources: { requests: { cpu: "2", memory: "4Gi" } } }],
        },
      },
    }),
  });
  const pool = (machine_type: string, max: number) => ({
    google_container_node_pool: {
      sandbox: {
        node_locations: ["a", "b", "c"],
        autoscaling: { total_min_node_count: 0, total_max_node_count: max },
        node_config: { machine_type, sandbox_config: { sandbox_type: "gvisor" } },
      },
    },
  });

  it("fails when max nodes × runners per node is below the pod quota", () => {
    const dir = writePlan({ cluster: { resource: pool("n2-standard-4", 5) }, w: { resource: { kubernetes_manifest: objects("20") } } });
    expect(run(dir, "DR008")).toEqual([["warning", "w", "kubernetes_manifest.quota"]]);
    expect(findings(dir, "DR008")[0]?.message).toContain("fits 1 per n2-standard-4 node (allocatable 3.92 CPU)");
    expect(findings(dir, "DR008")[0]?.fix).toContain("the pool's maximum = ceil(20 / 1) = 20 nodes, or the quota = 5 pods");
  });

  it("passes when the pool can hold the quota", () => {
    expect(
      run(
        writePlan({ cluster: { resource: pool("n2-standard-4", 20) }, w: { resource: { kubernetes_manifest: objects("20") } } }),
        "DR008",
      ),
    ).toEqual([]);
    expect(
      run(writePlan({ cluster: { resource: pool("n2-standard-8", 7) }, w: { resource: { kubernetes_manifest: objects("20") } } }), "DR008"),
    ).toEqual([]);
  });

  it("reports a machine type it cannot size instead of passing", () => {
    const dir = writePlan({ cluster: { resource: pool("z9-custom-4", 5) }, w: { resource: { kubernetes_manifest: objects("20") } } });
    expect(run(dir, "DR008")).toEqual([["warning", "cluster", "google_container_node_pool.sandbox"]]);
  });

  it("sizes nodes with GKE's reservations", () => {
    expect(machineShape("n2-standard-4")).toEqual({ cpu: 4, memory: 16 * 2 ** 30 });
    const a = allocatable({ cpu: 4, memory: 16 * 2 ** 30 });
    expect(a.cpu).toBeCloseTo(3.92, 10);
    // 16 GiB: 25% of 4 + 20% of 4 + 10% of 8 = 2.6 GiB reserved, plus 100 MiB eviction.
    expect(a.memory).toBe(16 * 2 ** 30 - 2.6 * 2 ** 30 - 100 * 2 ** 20);
    expect(machineShape("e2-medium")).toBeUndefined();
  });
});

// --- DR009 -------------------------------------------------------------------------------------

describe("DR009 stacks that can be planned only after their predecessors are applied", () => {
  const es = manifest({ apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", metadata: { name: "e", namespace: "api" } });
  const release = { helm_release: { eso: { chart: "external-secrets", name: "external-secrets" } } };

  it("fails when the CRD's installer is in the same stack (the stack cannot plan on a fresh cluster)", () => {
    const dir = writePlan({ w: { resource: { ...release, kubernetes_manifest: { es } } } });
    expect(run(dir, "DR009")).toEqual([["error", "w", "kubernetes_manifest.es"]]);
  });

  it("fails when no earlier stack installs the CRD", () => {
    expect(run(writePlan({ w: { resource: { kubernetes_manifest: { es } } } }), "DR009")).toEqual([
      ["error", "w", "kubernetes_manifest.es"],
    ]);
  });

  it("documents (info) a CRD installed by a predecessor and a data source of a predecessor's resource", () => {
    const dir = writePlan({
      cluster: { resource: { google_container_cluster: { c: { name: "gke" } } } },
      platform: { deps: ["cluster"], resource: release },
      w: { deps: ["platform"], resource: { kubernetes_manifest: { es } }, data: { google_container_cluster: { c: { name: "gke" } } } },
    });
    expect(run(dir, "DR009")).toEqual([
      ["info", "w", "data.google_container_cluster.c"],
      ["info", "w", "kubernetes_manifest.es"],
    ]);
  });
});

// --- DR010 -------------------------------------------------------------------------------------

describe("DR010 out-of-band inputs a deploy needs", () => {
  const secret = { google_secret_manager_secret: { k: { secret_id: "app-key" } } };

  it("lists a secret Terraform reads that no resource writes, with the command that checks it", () => {
    const dir = writePlan({
      secrets: { resource: secret },
      edge: { deps: ["secrets"], data: { google_secret_manager_secret_version: { k: { secret: "app-key" } } } },
    });
    const [f] = findings(dir, "DR010");
    expect(findings(dir, "DR010")).toHaveLength(1);
    expect(f?.severity).toBe("info");
    expect(f?.address).toBe("google_secret_manager_secret.k");
    expect(f?.fix).toBe(
      'gcloud secrets versions add app-key --project plue-test --data-file=-; check: gcloud secrets versions list app-key --project plue-test --filter="state=ENABLED" --limit=1 --format="value(name)" prints a version',
    );
  });

  it("passes when the plan writes the version itself", () => {
    const written = {
      ...secret,
      google_secret_manager_secret_version: { v: { secret: "${google_secret_manager_secret.k.id}", secret_data: "x" } },
    };
    const dir = writePlan({
      secrets: { resource: written },
      edge: { deps: ["secrets"], data: { google_secret_manager_secret_version: { k: { secret: "app-key" } } } },
    });
    expect(run(dir, "DR010")).toEqual([]);
  });

  it("passes when a later stack writes the version by the secret's full name", () => {
    const dir = writePlan({
      secrets: { resource: secret },
      data: {
        deps: ["secrets"],
        resource: { google_secret_manager_secret_version: { v: { secret: "projects/plue-test/secrets/app-key", secret_data: "x" } } },
      },
      edge: { deps: ["data"], data: { google_secret_manager_secret_version: { k: { secret: "app-key" } } } },
    });
    expect(run(dir, "DR010")).toEqual([]);
  });

  it("lists secrets ExternalSecrets read", () => {
    const es = manifest({
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name: "e", namespace: "api" },
      spec: { data: [{ secretKey: "K", remoteRef: { key: "app-key" } }] },
    });
    const dir = writePlan({ secrets: { resource: secret }, w: { deps: ["secrets"], resource: { kubernetes_manifest: { es } } } });
    expect(findings(dir, "DR010").map((f) => f.message)).toEqual([
      "secret app-key needs a version added out of band after stack secrets creates it and before w/kubernetes_manifest.es read it",
    ]);
  });

  it("lists a Cloudflare provider without a token, not one with a token", () => {
    const cf = (c: J) => writePlan({ edge: { provider: { google: [{ project: "plue-test" }], cloudflare: [c] } } });
    expect(run(cf({}), "DR010")).toEqual([["info", "edge", "provider.cloudflare"]]);
    expect(run(cf({ api_token: "${var.cloudflare_api_token}" }), "DR010")).toEqual([]);
  });

  it("lists the APIs google_project_service itself needs before the first apply", () => {
    const dir = writePlan({ bootstrap: { resource: { google_project_service: { s: { service: "compute.googleapis.com" } } } } });
    expect(findings(dir, "DR010").map((f) => f.fix)).toEqual([
      'gcloud services enable serviceusage.googleapis.com cloudresourcemanager.googleapis.com --project plue-test; check: gcloud services list --enabled --project plue-test --filter="config.name=cloudresourcemanager.googleapis.com" --format="value(config.name)"',
    ]);
  });
});

// --- DR011 -------------------------------------------------------------------------------------

describe("DR011 fresh IAM grants used without a propagation wait", () => {
  const grant = {
    google_kms_crypto_key_iam_member: { g: { crypto_key_id: "k", role: "r", member: "serviceAccount:x@y.iam.gserviceaccount.com" } },
  };

  it("fails on a resource created right after the grant it needs", () => {
    const dir = writePlan({
      b: { resource: { ...grant, google_storage_bucket: { b: { name: "b", depends_on: ["google_kms_crypto_key_iam_member.g"] } } } },
    });
    expect(run(dir, "DR011")).toEqual([["warning", "b", "google_storage_bucket.b"]]);
    expect(findings(dir, "DR011")[0]?.fix).toContain('time_sleep { create_duration = "120s"');
  });

  it("passes with a time_sleep between the grant and its user", () => {
    const sleep = { time_sleep: { wait: { create_duration: "120s", depends_on: ["google_kms_crypto_key_iam_member.g"] } } };
    const dir = writePlan({
      b: { resource: { ...grant, ...sleep, google_storage_bucket: { b: { name: "b", depends_on: ["time_sleep.wait"] } } } },
    });
    expect(run(dir, "DR011")).toEqual([]);
  });
});

// --- DR012 -------------------------------------------------------------------------------------

describe("DR012 retired API values", () => {
  const cluster = (vulnerability_mode: string) => ({
    google_container_cluster: { c: { name: "gke", security_posture_config: { mode: "BASIC", vulnerability_mode } } },
  });

  it("fails on VULNERABILITY_BASIC and VULNERABILITY_ENTERPRISE", () => {
    expect(run(writePlan({ c: { resource: cluster("VULNERABILITY_BASIC") } }), "DR012")).toEqual([
      ["error", "c", "google_container_cluster.c"],
    ]);
    expect(run(writePlan({ c: { resource: cluster("VULNERABILITY_ENTERPRISE") } }), "DR012")).toEqual([
      ["error", "c", "google_container_cluster.c"],
    ]);
  });

  it("passes on VULNERABILITY_DISABLED", () => {
    expect(run(writePlan({ c: { resource: cluster("VULNERABILITY_DISABLED") } }), "DR012")).toEqual([]);
  });
});

// --- DR013 -------------------------------------------------------------------------------------

describe("DR013 implicit default identities", () => {
  const cluster = (extra: J) => ({ google_container_cluster: { c: { name: "gke", remove_default_node_pool: true, ...extra } } });
  const sa = { node_config: { service_account: "${google_service_account.nodes.email}" } };

  it("fails on a cluster whose default pool runs as the default compute account", () => {
    expect(run(writePlan({ c: { resource: cluster({}) } }), "DR013")).toEqual([["error", "c", "google_container_cluster.c"]]);
  });

  it("fails on a node_config that is not ignored after the default pool is removed", () => {
    const dir = writePlan({ c: { resource: cluster(sa) } });
    expect(findings(dir, "DR013").map((f) => f.fix)).toEqual(['lifecycle { ignore_changes = ["node_config"] }']);
  });

  it("passes with the node account and ignore_changes", () => {
    expect(run(writePlan({ c: { resource: cluster({ ...sa, lifecycle: { ignore_changes: ["node_config"] } }) } }), "DR013")).toEqual([]);
  });

  it("fails on a node pool without a service account, passes with one", () => {
    const pool = (node_config: J) => ({ google_container_node_pool: { p: { node_config } } });
    expect(run(writePlan({ c: { resource: pool({ machine_type: "e2-standard-4" }) } }), "DR013")).toEqual([
      ["error", "c", "google_container_node_pool.p"],
    ]);
    expect(run(writePlan({ c: { resource: pool({ service_account: "n@plue-test.iam.gserviceaccount.com" }) } }), "DR013")).toEqual([]);
  });
});

// --- DR014 -------------------------------------------------------------------------------------

describe("DR014 dependencies applied without waiting for readiness", () => {
  const es = (extra: J) =>
    manifest({ apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", metadata: { name: "e", namespace: "api" } }, extra);
  const user = manifest(job, { depends_on: ["kubernetes_manifest.es"] });

  it("fails on an ExternalSecret a Job depends on with no wait", () => {
    expect(run(writePlan({ w: { resource: { kubernetes_manifest: { es: es({}), job: user } } } }), "DR014")).toEqual([
      ["warning", "w", "kubernetes_manifest.es"],
    ]);
  });

  it("passes with wait { condition Ready }, and when nothing depends on it", () => {
    const ready = { wait: { condition: [{ type: "Ready", status: "True" }] } };
    expect(run(writePlan({ w: { resource: { kubernetes_manifest: { es: es(ready), job: user } } } }), "DR014")).toEqual([]);
    expect(run(writePlan({ w: { resource: { kubernetes_manifest: { es: es({}) } } } }), "DR014")).toEqual([]);
  });

  it("fails on a wait for the wrong condition", () => {
    const wrong = { wait: { condition: [{ type: "Complete", status: "True" }] } };
    expect(run(writePlan({ w: { resource: { kubernetes_manifest: { es: es(wrong), job: user } } } }), "DR014")).toHaveLength(1);
  });
});

// --- DR015 -------------------------------------------------------------------------------------

describe("DR015 expiring credentials without a renewal trigger", () => {
  const origin = (extra: J) => ({
    cloudflare_origin_ca_certificate: { o: { csr: "c", hostnames: ["h"], request_type: "origin-rsa", ...extra } },
  });

  it("fails on an Origin CA certificate nothing can replace", () => {
    expect(run(writePlan({ edge: { resource: origin({}) } }), "DR015")).toEqual([
      ["warning", "edge", "cloudflare_origin_ca_certificate.o"],
    ]);
  });

  it("passes with replace_triggered_by", () => {
    const renewal = { terraform_data: { renewal: { input: "2026-11" } } };
    const dir = writePlan({
      edge: { resource: { ...renewal, ...origin({ lifecycle: { replace_triggered_by: ["terraform_data.renewal"] } }) } },
    });
    expect(run(dir, "DR015")).toEqual([]);
  });
});

// --- the real plan -----------------------------------------------------------------------------

/**
 * The example plan with the issue 11 fixes: no error or warning of any rule; what remains is the
 * documented deploy order (DR009) and the inputs only an operator provides (DR010), each pinned.
 * Before the fixes, every rule below found the trap its name gives (52 findings, 38 of them errors
 * or warnings): the commit that fixed them shows the flip.
 */
describe("the synthesized example plan", () => {
  let all: Finding[] = [];
  beforeAll(() => {
    all = checkReadiness(planDir());
  });
  const real = (rule: string) => all.filter((f) => f.rule === rule).map((f) => [f.severity, f.stack, f.address]);

  const fixed: readonly [rule: string, what: string][] = [
    ["DR001", "the schema Job computes its server-written template labels (item 1)"],
    ["DR002", "the accessor bindings reference the accounts they name (item 2)"],
    ["DR003", "no stack reads a secret it creates (item 3)"],
    ["DR004", "both origin certificates are replaced create-before-destroy, the served one under a new name (item 4)"],
    ["DR005", "every API the plan calls is enabled, and nothing reads before its API is (item 5)"],
    ["DR006", "the API Deployment leaves replicas to its HPA (item 8)"],
    ["DR007", "the system pool has a node in every zone the edge reads a NEG in (item 6)"],
    ["DR008", "the runner quota fits the sandbox pool (item 12)"],
    ["DR011", "the bucket and the cluster wait for their KMS grants to propagate (item 9)"],
    ["DR012", "no retired vulnerability scanning mode (item 7)"],
    ["DR013", "the throwaway default pool runs as the node account (item 10)"],
    ["DR014", "ExternalSecrets and stores are waited for until Ready (item 11)"],
    ["DR015", "the Origin CA certificate has a renewal trigger (item 4)"],
  ];
  for (const [rule, what] of fixed) {
    it(`${rule}: ${what}`, () => {
      expect(real(rule)).toEqual([]);
    });
  }

  it("DR009: platform, workloads, data and edge can be planned only after their predecessors are applied (item 13, documented)", () => {
    expect(real("DR009")).toEqual([
      ["info", "data", "data.google_secret_manager_secret_version.postgres_password_83C6746C"],
      ["info", "edge", "data.google_compute_network_endpoint_group.api-neg-us-central1-a"],
      ["info", "edge", "data.google_compute_network_endpoint_group.api-neg-us-central1-b"],
      ["info", "edge", "data.google_compute_network_endpoint_group.api-neg-us-central1-c"],
      ["info", "edge", "data.google_secret_manager_secret_version.origin-client-key"],
      ["info", "edge", "data.google_secret_manager_secret_version.origin-key"],
      ["info", "platform", "data.google_container_cluster.cluster"],
      ["info", "platform", "kubernetes_manifest.external-secrets_fqdnnetworkpolicy-allow-google-apis-fqdn_F5826703"],
      ["info", "workloads", "data.google_container_cluster.cluster"],
      // The egress gateway (issue 15) brings its store, its ExternalSecret and its FQDN policy (CRDs of
      // the platform stack); the runners' own FQDN policy is gone (runners reach Anthropic only through it).
      ["info", "workloads", "kubernetes_manifest.egress-gateway-externalsecret-egress-egress-gateway-upstream-auth"],
      ["info", "workloads", "kubernetes_manifest.egress-gateway-fqdnnetworkpolicy-egress-gateway-egress-anthropic-fqdn"],
      ["info", "workloads", "kubernetes_manifest.external-secrets-clustersecretstore-cluster-gcp-secret-manager-api"],
      ["info", "workloads", "kubernetes_manifest.external-secrets-clustersecretstore-cluster-gcp-secret-manager-egress"],
      ["info", "workloads", "kubernetes_manifest.external-secrets-clustersecretstore-cluster-gcp-secret-manager-migrate"],
      ["info", "workloads", "kubernetes_manifest.external-secrets-externalsecret-api-api-env"],
      ["info", "workloads", "kubernetes_manifest.external-secrets-externalsecret-api-schema-migrate-env"],
      ["info", "workloads", "kubernetes_manifest.network-policies-fqdnnetworkpolicy-api-api-egress-google-fqdn"],
    ]);
  });

  it("DR010: seven secret values (not the database host, which the data stack writes), the Cloudflare token and two prerequisite APIs come from outside the plan (docs/deploy.md)", () => {
    expect(real("DR010")).toEqual([
      ["info", "bootstrap", "google_project_service.*"],
      ["info", "edge", "provider.cloudflare"],
      ["info", "secrets", "google_secret_manager_secret.secrets_anthropic-api-key_916DFF50"],
      ["info", "secrets", "google_secret_manager_secret.secrets_callback-signing-key_C572867C"],
      ["info", "secrets", "google_secret_manager_secret.secrets_csrf-key_D9BA9BFE"],
      ["info", "secrets", "google_secret_manager_secret.secrets_db-password_63683745"],
      ["info", "secrets", "google_secret_manager_secret.secrets_origin-client-key_6AB89466"],
      ["info", "secrets", "google_secret_manager_secret.secrets_origin-key_CD425861"],
      ["info", "secrets", "google_secret_manager_secret.secrets_session-secret_E07B5875"],
    ]);
  });

  it("has no error or warning at all, and every finding names a stack, an address, what happens and the fix", () => {
    expect(all.filter((f) => f.severity !== "info")).toEqual([]);
    // 15 DR009 + 9 DR010 before issue 15; the gateway adds three DR009 entries and removes one.
    expect(all.length).toBe(26);
    for (const f of all) {
      expect(f.stack, f.address).toMatch(/^(bootstrap|network|secrets|cluster|data|platform|workloads|edge)$/);
      expect(f.message.length, f.address).toBeGreaterThan(40);
      expect(f.fix.length, f.address).toBeGreaterThan(10);
    }
  });
});

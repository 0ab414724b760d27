import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Job } from "kubernetes-models/batch/v1/Job";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { allObjects, chart, chartText, resources, stack, type K8sObject } from "../support/plan.ts";
import { exampleConfig } from "../support/config.ts";
import { evaluate, type Endpoint, type PodEndpoint } from "../../review/netpol/index.ts";
import { K8S } from "../../lib/k8s-names.ts";
import { buildCharts } from "../../app/charts.ts";
import { readSchemaInputs } from "../../app/plan.ts";
import { DEFAULT_MIGRATIONS_DIR, RUNNER_SCRIPT_PATH, listMigrations, migrationsHash } from "../../db/migrations.ts";
import type { SchemaJobChart } from "../../charts/schema-job-chart.ts";
import type { PlueConfig } from "../../config/schema.ts";

const config = exampleConfig();
const objects = chart("schema-job");
const hash = migrationsHash();
const short = hash.slice(0, 10);

function one(kind: string): Record<string, any> {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} in the schema-job chart, found ${found.length}`);
  return found[0] as Record<string, any>;
}

const configMap = one("ConfigMap");
const job = one("Job");
const serviceAccount = one("ServiceAccount");
const policy = one("NetworkPolicy");
const pod = job.spec.template.spec as Record<string, any>;
const container = pod.containers[0] as Record<string, any>;

/** Builds the chart outside the plan (another migrations directory or config). */
function build(cfg: PlueConfig, migrationsDir?: string): { chart: SchemaJobChart; objects: K8sObject[] } {
  const { schemaJob } = buildCharts(cfg, readSchemaInputs(migrationsDir));
  return { chart: schemaJob, objects: schemaJob.toJson() as K8sObject[] };
}

const temps: string[] = [];

/** A temp directory, removed after the file's tests. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/**
 * Lays out a ConfigMap volume in `dir` as the kubelet does: the files in a timestamped hidden
 * directory, `..data` pointing at it, and one symlink per item through `..data`.
 */
function projectConfigMap(dir: string, data: Record<string, string>, items: readonly { key: string; path: string }[]): string {
  const stamp = "..2026_11_22_00_00_00.000000001";
  mkdirSync(join(dir, stamp), { recursive: true });
  for (const item of items) writeFileSync(join(dir, stamp, item.path), data[item.key] ?? "");
  symlinkSync(stamp, join(dir, "..data"));
  for (const item of items) symlinkSync(join("..data", item.path), join(dir, item.path));
  return dir;
}

/** Runs the mounted runner the way the Job's command does, with `--check` (no database). */
function runMounted(runnerDir: string, migrationsDir: string): { status: number | null; out: string } {
  const tmp = tempDir("plue-runner-tmp-");
  const run = spawnSync("/bin/sh", [join(runnerDir, "migrate.sh"), "--dir", migrationsDir, "--check"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TMPDIR: tmp },
  });
  return { status: run.status, out: run.stdout + run.stderr };
}
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

// --- connectivity (real policies of every chart) ------------------------------------------------

const migratePod: PodEndpoint = { kind: "pod", namespace: K8S.namespaces.api, labels: { "app.kubernetes.io/name": K8S.apps.migrate } };
const kubeDns: PodEndpoint = { kind: "pod", namespace: "kube-system", labels: { "k8s-app": "kube-dns" } };
const kubeSystem = { "kube-system": { "kubernetes.io/metadata.name": "kube-system" } };
const ext = (ip: string): Endpoint => ({ kind: "external", ip });

describe("schema-job chart", () => {
  it("matches the snapshot", () => {
    expect(chartText("schema-job")).toMatchSnapshot();
  });

  it("holds exactly a ConfigMap, a ServiceAccount, a Job and a NetworkPolicy, all in the api namespace", () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(["ConfigMap", "Job", "NetworkPolicy", "ServiceAccount"]);
    for (const o of objects) expect(o.metadata.namespace).toBe(K8S.namespaces.api);
  });

  it("names the ConfigMap and the Job after the migrations hash", () => {
    expect(configMap.metadata.name).toBe(`schema-migrations-${short}`);
    expect(job.metadata.name).toMatch(new RegExp(`^schema-migrate-${short}-[0-9a-f]{6}$`));
    expect(job.metadata.annotations["plue-infra/migrations-sha256"]).toBe(hash);
  });

  it("is the Job the workloads stack waits for (Complete) before the API rolls out", () => {
    const manifests = Object.values(resources(stack("workloads"), "kubernetes_manifest")) as Record<string, any>[];
    const waited = manifests.filter((m) => m.manifest?.kind === "Job" && m.manifest.metadata.name === job.metadata.name);
    expect(waited).toHaveLength(1);
    expect(waited[0]?.wait).toEqual({ condition: [{ type: "Complete", status: "True" }] });
  });

  it("gives a new ConfigMap and a new Job when a migration is added", () => {
    const dir = tempDir("plue-migrations-");
    cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    writeFileSync(join(dir, "9999_test_only.sql"), "CREATE TABLE IF NOT EXISTS test_only (id bigint PRIMARY KEY);\n");
    const built = build(config, dir);
    const newHash = migrationsHash(dir).slice(0, 10);
    expect(newHash).not.toBe(short);
    expect(built.chart.configMapName).toBe(`schema-migrations-${newHash}`);
    expect(built.chart.jobName).toMatch(new RegExp(`^schema-migrate-${newHash}-[0-9a-f]{6}$`));
    const cm = built.objects.find((o) => o.kind === "ConfigMap") as Record<string, any>;
    expect(cm.data["9999_test_only.sql"]).toContain("test_only");
  });

  it("gives a new Job (same ConfigMap) when the pod template changes, since a Job's template is immutable", () => {
    const other = structuredClone(config);
    other.images.migrate = `docker.io/library/postgres:17-alpine@sha256:${"1".repeat(64)}`;
    const built = build(other);
    expect(built.chart.configMapName).toBe(configMap.metadata.name);
    expect(built.chart.jobName).not.toBe(job.metadata.name);
    expect(built.chart.jobName.startsWith(`schema-migrate-${short}-`)).toBe(true);
  });

  it("builds the same names from the same input (no clock or randomness)", () => {
    expect(build(config).chart.jobName).toBe(job.metadata.name);
  });

  it("runs the configured migrate image", () => {
    expect(pod.containers).toHaveLength(1);
    expect(container.image).toBe(config.images.migrate);
  });

  it("runs the runner from its mount against the migrations directory", () => {
    expect(container.command).toEqual(["/bin/sh", "/opt/plue/migrate.sh", "--dir", "/migrations"]);
    expect(container.args).toBeUndefined();
  });

  it("ConfigMap holds exactly the runner and every migration, byte for byte, and is immutable", () => {
    const expected: Record<string, string> = { "migrate.sh": readFileSync(RUNNER_SCRIPT_PATH, "utf8") };
    for (const m of listMigrations()) expected[m.file] = readFileSync(join(DEFAULT_MIGRATIONS_DIR, m.file), "utf8");
    expect(Object.keys(expected).length).toBeGreaterThan(1);
    expect(configMap.data).toEqual(expected);
    expect(configMap.immutable).toBe(true);
  });

  it("the runner accepts the migrations volume as the kubelet lays it out (migrate.sh --check)", () => {
    const volumes = Object.fromEntries((pod.volumes as Record<string, any>[]).map((v) => [v.name, v]));
    const root = tempDir("plue-mounts-");
    const runnerDir = projectConfigMap(join(root, "opt-plue"), configMap.data, volumes.runner.configMap.items);
    const migrationsDir = projectConfigMap(join(root, "migrations"), configMap.data, volumes.migrations.configMap.items);
    const run = runMounted(runnerDir, migrationsDir);
    expect(run.out).toContain(`${listMigrations().length} migration file(s)`);
    expect(run.status).toBe(0);
  });

  it("would be refused with the whole ConfigMap in one directory (why the runner is mounted apart)", () => {
    const root = tempDir("plue-mounts-");
    const keys = Object.keys(configMap.data).map((key) => ({ key, path: key }));
    const together = projectConfigMap(join(root, "all"), configMap.data, keys);
    const run = runMounted(together, together);
    expect(run.out).toContain("refusing migrate.sh");
    expect(run.status).toBe(1);
  });

  it("mounts only migration files in the migrations directory, and the runner apart from them", () => {
    const volumes = Object.fromEntries((pod.volumes as Record<string, any>[]).map((v) => [v.name, v]));
    const mounts = Object.fromEntries((container.volumeMounts as Record<string, any>[]).map((m) => [m.mountPath, m]));
    expect(mounts["/migrations"]).toEqual({ name: "migrations", mountPath: "/migrations", readOnly: true });
    expect(mounts["/opt/plue"]).toEqual({ name: "runner", mountPath: "/opt/plue", readOnly: true });
    expect(volumes.migrations.configMap.name).toBe(configMap.metadata.name);
    expect(volumes.migrations.configMap.items).toEqual(listMigrations().map((m) => ({ key: m.file, path: m.file })));
    expect(volumes.runner.configMap).toMatchObject({ name: configMap.metadata.name, items: [{ key: "migrate.sh", path: "migrate.sh" }] });
  });

  it("has a restricted pod security context (non-root postgres uid 70, RuntimeDefault seccomp)", () => {
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 70,
      runAsGroup: 70,
      fsGroup: 70,
      seccompProfile: { type: "RuntimeDefault" },
    });
  });

  it("has a restricted container security context (every field)", () => {
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 70,
      runAsGroup: 70,
      seccompProfile: { type: "RuntimeDefault" },
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
  });

  it("writes only to an emptyDir at /tmp", () => {
    const tmp = (pod.volumes as Record<string, any>[]).find((v) => v.name === "tmp");
    expect(tmp).toEqual({ name: "tmp", emptyDir: { sizeLimit: "64Mi" } });
    const writable = (container.volumeMounts as Record<string, any>[]).filter((m) => m.readOnly !== true);
    expect(writable).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
  });

  it("requests what it is limited to (Guaranteed QoS)", () => {
    const r = { cpu: "250m", memory: "256Mi", "ephemeral-storage": "256Mi" };
    expect(container.resources).toEqual({ requests: r, limits: r });
  });

  it("sets backoffLimit and activeDeadlineSeconds, never restarts in place, and has no TTL", () => {
    expect(job.spec.backoffLimit).toBe(2);
    expect(job.spec.activeDeadlineSeconds).toBe(600);
    expect(pod.restartPolicy).toBe("Never");
    expect(job.spec.ttlSecondsAfterFinished).toBeUndefined();
  });

  // The runner reads its connection from the libpq variables only (db/README.md): each comes from
  // the Secret External Secrets writes for the migrate consumer, none from anywhere else, and no
  // DATABASE_URL (nothing in the pod decodes one).
  it("takes exactly the libpq variables PGHOST..PGSSLMODE from the External Secrets Secret, and nothing else secret", () => {
    const fromSecret = (key: string) => ({
      name: key,
      valueFrom: { secretKeyRef: { name: "schema-migrate-env", key, optional: false } },
    });
    expect(container.env).toEqual([
      fromSecret("PGHOST"),
      fromSecret("PGPORT"),
      fromSecret("PGUSER"),
      fromSecret("PGPASSWORD"),
      fromSecret("PGDATABASE"),
      fromSecret("PGSSLMODE"),
      { name: "TMPDIR", value: "/tmp" },
      { name: "HOME", value: "/tmp" },
    ]);
    expect(K8S.secrets.migrate).toBe("schema-migrate-env");
    expect(container.envFrom).toBeUndefined();
  });

  it("reads only keys the migrate ExternalSecret writes into its Secret", () => {
    const externalSecret = allObjects().find((o) => o.kind === "ExternalSecret" && o.metadata.name === K8S.secrets.migrate) as Record<
      string,
      any
    >;
    expect(externalSecret.spec.target.name).toBe(K8S.secrets.migrate);
    const written = Object.keys(externalSecret.spec.target.template.data).sort();
    const read = (container.env as Record<string, any>[]).flatMap((e) => (e.valueFrom ? [e.valueFrom.secretKeyRef.key as string] : []));
    expect(read.sort()).toEqual(written);
  });

  it("runs as its own ServiceAccount, with no API token mounted", () => {
    expect(pod.serviceAccountName).toBe(K8S.serviceAccounts.migrate);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(serviceAccount.metadata.name).toBe(K8S.serviceAccounts.migrate);
    expect(serviceAccount.automountServiceAccountToken).toBe(false);
    expect(pod.enableServiceLinks).toBe(false);
  });

  it("labels its pods with the migrate app name", () => {
    expect(job.spec.template.metadata.labels).toEqual({ "app.kubernetes.io/name": K8S.apps.migrate });
    expect(policy.spec.podSelector).toEqual({ matchLabels: { "app.kubernetes.io/name": K8S.apps.migrate } });
  });

  it("never runs on the sandbox pool", () => {
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: K8S.sandboxNodeLabel, operator: "DoesNotExist" }] },
    ]);
    expect(pod.runtimeClassName).toBeUndefined();
    expect(pod.tolerations).toBeUndefined();
  });

  it("NetworkPolicy isolates both directions, with no ingress rule", () => {
    expect(policy.metadata.name).toBe(K8S.apps.migrate);
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(policy.spec.ingress).toBeUndefined();
  });

  it("NetworkPolicy allows egress only to kube-dns on 53 and the Cloud SQL range on TCP 5432", () => {
    expect(policy.spec.egress).toEqual([
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
      { to: [{ ipBlock: { cidr: config.network.privateServicesCidr } }], ports: [{ protocol: "TCP", port: 5432 }] },
    ]);
  });

  it("allows the NodeLocal DNS cache too when it is enabled", () => {
    const other = structuredClone(config);
    other.cluster.nodeLocalDns = true;
    const np = build(other).objects.find((o) => o.kind === "NetworkPolicy") as Record<string, any>;
    expect(np.spec.egress[0].to).toContainEqual({ ipBlock: { cidr: "169.254.20.10/32" } });
    expect(np.spec.egress[0].ports).toEqual([
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ]);
    expect(evaluate([np], { from: migratePod, to: ext("169.254.20.10"), port: 53, protocol: "UDP" }).allowed).toBe(true);
    expect(evaluate([np], { from: migratePod, to: ext("169.254.169.254"), port: 80 }).allowed).toBe(false);
  });

  describe("connectivity of the migrate pods (every chart's policies)", () => {
    const all = allObjects();
    const decide = (to: Endpoint, port: number, protocol: "TCP" | "UDP" = "TCP") =>
      evaluate(all, { from: migratePod, to, port, protocol }, kubeSystem);

    it("reaches Cloud SQL (10.30.0.5:5432)", () => {
      expect(decide(ext("10.30.0.5"), 5432).allowed).toBe(true);
    });

    it("reaches kube-dns on UDP and TCP 53", () => {
      expect(decide(kubeDns, 53, "UDP").allowed).toBe(true);
      expect(decide(kubeDns, 53, "TCP").allowed).toBe(true);
    });

    it("does not reach the internet (8.8.8.8:443)", () => {
      expect(decide(ext("8.8.8.8"), 443).allowed).toBe(false);
    });

    it("does not reach the metadata server (169.254.169.254:80)", () => {
      expect(decide(ext("169.254.169.254"), 80).allowed).toBe(false);
    });

    it("does not reach another port in the Cloud SQL range (10.30.0.5:443)", () => {
      expect(decide(ext("10.30.0.5"), 443).allowed).toBe(false);
    });

    it("accepts no connection from other pods", () => {
      const api: PodEndpoint = { kind: "pod", namespace: K8S.namespaces.api, labels: { "app.kubernetes.io/name": K8S.apps.api } };
      expect(evaluate(all, { from: api, to: migratePod, port: 8080 }, kubeSystem).ingress.allowed).toBe(false);
    });
  });

  it("is valid against the Kubernetes schema (kubernetes-models)", () => {
    expect(() => new ConfigMap(configMap as any).validate()).not.toThrow();
    expect(() => new ServiceAccount(serviceAccount as any).validate()).not.toThrow();
    expect(() => new Job(job as any).validate()).not.toThrow();
    expect(() => new NetworkPolicy(policy as any).validate()).not.toThrow();
  });

  it("schema validation catches a broken Job (the check can fail)", () => {
    const broken = structuredClone(job);
    broken.spec.backoffLimit = "two";
    expect(() => new Job(broken as any).validate()).toThrow();
  });
});

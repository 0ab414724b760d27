import { createHash } from "node:crypto";
import { Chart } from "cdk8s";
import type { Construct } from "constructs";
// Types only (erased at runtime): the generated cdk8s-plus-28 classes would cost ~26 MB per synth.
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { K8S } from "../lib/k8s-names.ts";
import { DNS_PORTS, dnsPeers, tcp } from "../lib/network-policy.ts";
import { LIBPQ_CONNECTION_ENV } from "./external-secrets-chart.ts";
import { k8s as object } from "./k8s-object.ts";
import {
  guaranteedResources,
  NOT_ON_SANDBOX_NODES,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from "./restricted.ts";

/** Where the migration files are mounted; the runner gets it as `--dir`. */
export const MIGRATIONS_MOUNT = "/migrations";
/** Where the runner script is mounted (apart from the migrations: the runner refuses other files there). */
export const RUNNER_MOUNT = "/opt/plue";
/** ConfigMap key (and file name) of the runner script. */
export const RUNNER_KEY = "migrate.sh";
/** uid/gid of `postgres` in the official `postgres:*-alpine` images. */
export const MIGRATE_UID = 70;
/** Hex digits of the migrations hash in the ConfigMap and Job names. */
export const HASH_LENGTH = 10;
/** Hex digits of the pod template hash appended to the Job name. */
export const TEMPLATE_HASH_LENGTH = 6;
/** Kubernetes refuses ConfigMaps over 1 MiB. */
const CONFIG_MAP_LIMIT = 1024 * 1024;

/** One migration file as the ConfigMap carries it. */
export interface MigrationFile {
  /** File name, `NNNN_name.sql` (also its ConfigMap key). */
  readonly file: string;
  /** Its SQL text. */
  readonly sql: string;
}

/** Props of {@link SchemaJobChart}. */
export interface SchemaJobChartProps {
  /** `app.kubernetes.io/part-of` label of every object (the environment's name prefix). */
  readonly partOf: string;
  /** Image with `psql` and a POSIX shell (postgres:*-alpine). */
  readonly image: string;
  /** The migrations, in order (read by `app/` from `db/migrations`). */
  readonly migrations: readonly MigrationFile[];
  /** The runner script (`db/migrate.sh`). */
  readonly runnerScript: string;
  /** SHA-256 (hex) over the runner and the migrations: a new schema means a new ConfigMap and Job. */
  readonly migrationsHash: string;
  /** Also allow the NodeLocal DNS cache address for DNS. */
  readonly nodeLocalDns: boolean;
  /** Cloud SQL's private services range (the Job's only egress beside DNS). */
  readonly privateServicesCidr: string;
}

/**
 * The schema Job: the runner (`db/migrate.sh`) and every migration in an immutable ConfigMap,
 * a Job that applies them as the application user before the API rolls out, its
 * ServiceAccount (no token), and a NetworkPolicy that lets its pods reach only DNS and Cloud SQL.
 * Both names carry a hash of the runner and the migrations (`migrationsHash`), so a new
 * migration means a new ConfigMap and a new Job, which the workloads stack waits for; the Job's
 * name also carries a hash of its pod template, which Kubernetes does not let change in place.
 * @see https://kubernetes.io/docs/concepts/workloads/controllers/job/
 * @see https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 * @see db/README.md (runner contract)
 */
export class SchemaJobChart extends Chart {
  /**
   * Name of the Job, `schema-migrate-<migrations hash>-<pod template hash>`; the workloads stack
   * waits for it.
   */
  readonly jobName: string;
  /** Name of the ConfigMap holding the runner and the migrations. */
  readonly configMapName: string;

  constructor(scope: Construct, id: string, props: SchemaJobChartProps) {
    super(scope, id, { disableResourceNameHashes: true, labels: { "app.kubernetes.io/part-of": props.partOf } });
    const namespace = K8S.namespaces.api;
    const podLabels = { "app.kubernetes.io/name": K8S.apps.migrate };

    const migrations = props.migrations;
    const hash = props.migrationsHash;
    const short = hash.slice(0, HASH_LENGTH);
    this.configMapName = `schema-migrations-${short}`;

    const data: Record<string, string> = { [RUNNER_KEY]: props.runnerScript };
    for (const m of migrations) data[m.file] = m.sql;
    const size = Object.entries(data).reduce((sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (size > CONFIG_MAP_LIMIT) {
      throw new Error(
        `SchemaJobChart: 'migrations' would make a ConfigMap of ${size} bytes, over Kubernetes' 1 MiB limit (got ${migrations.length} files). Ship the migrations in the migrate image instead.`,
      );
    }

    object<IConfigMap>(this, "migrations", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: this.configMapName, namespace, labels: podLabels },
      // Its name changes with its contents, so it never needs to change in place.
      immutable: true,
      data,
    });

    object<IServiceAccount>(this, "service-account", {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: K8S.serviceAccounts.migrate, namespace, labels: podLabels },
      automountServiceAccountToken: false,
    });

    const template: IPodTemplateSpec = {
      metadata: { labels: podLabels },
      spec: {
        serviceAccountName: K8S.serviceAccounts.migrate,
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        restartPolicy: "Never",
        securityContext: restrictedPodSecurityContext(MIGRATE_UID),
        affinity: NOT_ON_SANDBOX_NODES,
        containers: [
          {
            name: "migrate",
            image: props.image,
            imagePullPolicy: "IfNotPresent",
            command: ["/bin/sh", `${RUNNER_MOUNT}/${RUNNER_KEY}`, "--dir", MIGRATIONS_MOUNT],
            env: [
              // The connection, as the libpq variables the runner reads, from the Secret External Secrets writes.
              ...LIBPQ_CONNECTION_ENV.map((name) => ({
                name,
                valueFrom: { secretKeyRef: { name: K8S.secrets.migrate, key: name, optional: false } },
              })),
              // mktemp and libpq's home directory lookups: the only writable path.
              { name: "TMPDIR", value: "/tmp" },
              { name: "HOME", value: "/tmp" },
            ],
            resources: guaranteedResources({ cpu: "250m", memory: "256Mi", ephemeralStorage: "256Mi" }),
            securityContext: restrictedContainerSecurityContext(MIGRATE_UID),
            volumeMounts: [
              { name: "runner", mountPath: RUNNER_MOUNT, readOnly: true },
              { name: "migrations", mountPath: MIGRATIONS_MOUNT, readOnly: true },
              { name: "tmp", mountPath: "/tmp" },
            ],
            terminationMessagePolicy: "FallbackToLogsOnError",
          },
        ],
        // ConfigMap keys cannot hold '/', and the runner refuses any file in its migrations
        // directory that is not a migration: two projections of the one ConfigMap.
        volumes: [
          {
            name: "runner",
            configMap: { name: this.configMapName, items: [{ key: RUNNER_KEY, path: RUNNER_KEY }], defaultMode: 0o444 },
          },
          {
            name: "migrations",
            configMap: { name: this.configMapName, items: migrations.map((m) => ({ key: m.file, path: m.file })), defaultMode: 0o444 },
          },
          { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
        ],
      },
    };

    // A Job's pod template is immutable, and kubernetes_manifest updates in place: any change to
    // it (image, resources, ...) must give a new Job, so its hash joins the migrations hash.
    const templateHash = createHash("sha256").update(JSON.stringify(template)).digest("hex").slice(0, TEMPLATE_HASH_LENGTH);
    this.jobName = `${K8S.apps.migrate}-${short}-${templateHash}`;

    object<IJob>(this, "job", {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name: this.jobName,
        namespace,
        labels: podLabels,
        annotations: { "plue-infra/migrations-sha256": hash },
      },
      spec: {
        // A failed attempt rolls back its migration (db/README.md), so retrying is safe.
        backoffLimit: 2,
        activeDeadlineSeconds: 600,
        // No ttlSecondsAfterFinished: the workloads stack applies this Job as a
        // kubernetes_manifest and waits for it to be Complete. A TTL would delete the finished
        // Job, Terraform would see it gone on the next plan and create it again (re-running the
        // migrations on every apply). A new Job comes with a new name (the hashes).
        template,
      },
    });

    object<INetworkPolicy>(this, "network-policy", {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: K8S.apps.migrate, namespace, labels: podLabels },
      spec: {
        podSelector: { matchLabels: podLabels },
        // Both types listed: no ingress rule = no ingress; egress only as below.
        policyTypes: ["Ingress", "Egress"],
        egress: [
          { to: dnsPeers(props.nodeLocalDns), ports: DNS_PORTS },
          { to: [{ ipBlock: { cidr: props.privateServicesCidr } }], ports: [tcp(5432)] },
        ],
      },
    });
  }
}

import { ApiObject, Chart } from "cdk8s";
import type { Construct } from "constructs";

/** API version of every External Secrets object (`v1beta1` is no longer served). */
export const EXTERNAL_SECRETS_API = "external-secrets.io/v1";

/** PostgreSQL port of the Cloud SQL instance. */
export const POSTGRES_PORT = 5432;

/** Keys the connection templates read (also keys of the API's Secret). */
export const DB_TEMPLATE_KEYS = { password: "DATABASE_PASSWORD", host: "DATABASE_HOST", url: "DATABASE_URL" } as const;

/**
 * The libpq variables a `libpq` consumer's Secret holds: the migration runner (db/migrate.sh)
 * takes its connection from these only, and reads no URL.
 * @see https://www.postgresql.org/docs/current/libpq-envars.html
 */
export const LIBPQ_CONNECTION_ENV = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE"] as const;

/**
 * One `spec.data` entry of an ExternalSecret, with the CRD's defaults written out (so the
 * applied object equals the planned one).
 * @see https://external-secrets.io/latest/api/externalsecret/
 */
export interface ExternalSecretData {
  readonly secretKey: string;
  readonly remoteRef: {
    readonly key: string;
    readonly version: "latest";
    readonly conversionStrategy: "Default";
    readonly decodingStrategy: "None";
    readonly metadataPolicy: "None";
  };
}

/**
 * The Go template (External Secrets template engine v2) that builds the connection string from
 * the password and the Cloud SQL private IP; the password is percent-encoded (`urlquery`).
 * @see https://external-secrets.io/latest/guides/templating/
 */
export function databaseUrlTemplate(database: DatabaseConnection): string {
  const { password, host } = DB_TEMPLATE_KEYS;
  return `postgresql://${database.user}:{{ .${password} | urlquery }}@{{ .${host} }}:${POSTGRES_PORT}/${database.name}?sslmode=require`;
}

/**
 * The same connection as the libpq variables ({@link LIBPQ_CONNECTION_ENV}): host and password
 * from the data keys (the password as it is: nothing to encode), the rest fixed. `require`: TLS
 * always, without verifying the server's certificate (docs/adr/0013: why not `verify-full` yet).
 */
export function libpqEnvTemplate(database: DatabaseConnection): Record<(typeof LIBPQ_CONNECTION_ENV)[number], string> {
  const { password, host } = DB_TEMPLATE_KEYS;
  return {
    PGHOST: `{{ .${host} }}`,
    PGPORT: String(POSTGRES_PORT),
    PGUSER: database.user,
    PGPASSWORD: `{{ .${password} }}`,
    PGDATABASE: database.name,
    PGSSLMODE: "require",
  };
}

function entry(secretKey: string, key: string): ExternalSecretData {
  return {
    secretKey,
    remoteRef: { key, version: "latest", conversionStrategy: "Default", decodingStrategy: "None", metadataPolicy: "None" },
  };
}

/** What the connection templates need: the user, the database, and the two secrets they read. */
export interface DatabaseConnection {
  /** The database user. */
  readonly user: string;
  /** The database name. */
  readonly name: string;
  /** Secret Manager secret id of the user's password. */
  readonly passwordSecret: string;
  /** Secret Manager secret id of the instance's private IP. */
  readonly hostSecret: string;
}

/** One key of a consumer's Secret and the Secret Manager secret it is read from. */
export interface SecretKeySource {
  /** Key in the Kubernetes Secret (an environment variable name). */
  readonly secretKey: string;
  /** Secret Manager secret id. */
  readonly remoteKey: string;
}

/** One consumer: its store (and the identity it uses) and the Secret its ExternalSecret writes. */
export interface SecretConsumerProps {
  /** ClusterSecretStore name. */
  readonly store: string;
  /** Kubernetes service account (in the operator's namespace) the store authenticates as. */
  readonly kubernetesServiceAccount: string;
  /** Name of the Secret the ExternalSecret writes (in {@link ExternalSecretsChartProps.namespace}). */
  readonly target: string;
  /** `Merge`: the data keys plus the connection keys; `Replace`: the connection keys only. */
  readonly mergePolicy: "Merge" | "Replace";
  /**
   * How the Secret gives the connection: `url`, one `DATABASE_URL` (the API); `libpq`, the
   * variables {@link LIBPQ_CONNECTION_ENV} (the schema Job's runner, which reads no URL).
   */
  readonly connection: "url" | "libpq";
  /** Keys written from Secret Manager, in order (the template's password and host are added after them). */
  readonly data: readonly SecretKeySource[];
}

/** A consumer whose ExternalSecret lives in its own chart (the egress gateway's): only its store is made here. */
export interface StoreOnlyConsumerProps {
  /** ClusterSecretStore name. */
  readonly store: string;
  /** Kubernetes service account (in the operator's namespace) the store authenticates as. */
  readonly kubernetesServiceAccount: string;
  /** The only namespace that may use the store. */
  readonly namespace: string;
}

/** The cluster whose Workload Identity the stores use. */
export interface WorkloadIdentityCluster {
  readonly name: string;
  /** Region of the (regional) cluster. */
  readonly location: string;
  readonly projectId: string;
}

/**
 * The data entries of a consumer's Secret: the consumer's own keys, then the password and host
 * the connection-string template needs (unless already present under the same key).
 */
export function consumerData(consumer: SecretConsumerProps, database: DatabaseConnection): ExternalSecretData[] {
  const data = consumer.data.map((d) => entry(d.secretKey, d.remoteKey));
  const add = (e: ExternalSecretData) => {
    if (!data.some((d) => d.secretKey === e.secretKey && d.remoteRef.key === e.remoteRef.key)) data.push(e);
  };
  add(entry(DB_TEMPLATE_KEYS.password, database.passwordSecret));
  add(entry(DB_TEMPLATE_KEYS.host, database.hostSecret));
  return data;
}

/** Props of {@link ExternalSecretsChart}. */
export interface ExternalSecretsChartProps {
  /** `app.kubernetes.io/part-of` label of every object (the environment's name prefix). */
  readonly partOf: string;
  /** Namespace of the consumers: the only one that may use the stores, and where the Secrets are written. */
  readonly namespace: string;
  /** Project whose Secret Manager the stores read. */
  readonly projectId: string;
  /** The cluster (its name, region and project must match the cluster stack exactly). */
  readonly cluster: WorkloadIdentityCluster;
  /** The operator's namespace, where the stores' Kubernetes service accounts live. */
  readonly operatorNamespace: string;
  /** How often ExternalSecrets re-read Secret Manager, e.g. `1h`. */
  readonly refreshInterval: string;
  /** The database connection every consumer's template builds. */
  readonly database: DatabaseConnection;
  /** Consumers by a stable name (construct ids derive from it): stores first, then ExternalSecrets, in key order. */
  readonly consumers: Readonly<Record<string, SecretConsumerProps>>;
  /**
   * Consumers whose ExternalSecret is in their own chart, by a stable name (construct ids derive
   * from it): only their store is made here (after the others), usable from their namespace only.
   * @default - none
   */
  readonly storesOnly?: Readonly<Record<string, StoreOnlyConsumerProps>>;
}

/**
 * The in-cluster half of External Secrets: one `ClusterSecretStore` per consumer (Google Secret
 * Manager through Workload Identity, as that consumer's own Kubernetes service account, usable
 * from the `api` namespace only), and one `ExternalSecret` per consumer writing its Secret:
 * `api-env` (every API secret under its env name, plus `DATABASE_URL`) and `schema-migrate-env`
 * (the libpq variables `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE` only);
 * and the stores of consumers whose ExternalSecret is elsewhere (the egress gateway's, usable from
 * its namespace only). The operator, its namespace and the service accounts are in the platform
 * stack; the Google service accounts and per-secret IAM in the data stack.
 *
 * The Workload Identity fields name the cluster exactly as the cluster stack creates it (name,
 * region, project): a mismatch fails every sync with `could not get idbindtoken token`.
 * @see https://external-secrets.io/latest/provider/google-secrets-manager/
 * @see https://external-secrets.io/latest/api/spec/
 */
export class ExternalSecretsChart extends Chart {
  constructor(scope: Construct, id: string, props: ExternalSecretsChartProps) {
    super(scope, id, { disableResourceNameHashes: true, labels: { "app.kubernetes.io/part-of": props.partOf } });
    const namespace = props.namespace;
    const consumers = Object.entries(props.consumers);

    const stores = [
      ...consumers.map(([key, consumer]) => [key, consumer, namespace] as const),
      ...Object.entries(props.storesOnly ?? {}).map(([key, consumer]) => [key, consumer, consumer.namespace] as const),
    ];
    for (const [key, consumer, allowed] of stores) {
      new ApiObject(this, `store-${key}`, {
        apiVersion: EXTERNAL_SECRETS_API,
        kind: "ClusterSecretStore",
        metadata: { name: consumer.store },
        spec: {
          // Only the consumer's namespace may use the store.
          conditions: [{ namespaces: [allowed] }],
          provider: {
            gcpsm: {
              projectID: props.projectId,
              secretVersionSelectionPolicy: "LatestOrFail",
              auth: {
                workloadIdentity: {
                  clusterLocation: props.cluster.location,
                  clusterName: props.cluster.name,
                  clusterProjectID: props.cluster.projectId,
                  serviceAccountRef: { name: consumer.kubernetesServiceAccount, namespace: props.operatorNamespace },
                },
              },
            },
          },
        },
      });
    }

    for (const [key, consumer] of consumers) {
      new ApiObject(this, `external-secret-${key}`, {
        apiVersion: EXTERNAL_SECRETS_API,
        kind: "ExternalSecret",
        metadata: { name: consumer.target, namespace },
        spec: {
          refreshInterval: props.refreshInterval,
          secretStoreRef: { kind: "ClusterSecretStore", name: consumer.store },
          target: {
            name: consumer.target,
            creationPolicy: "Owner",
            // Keep the Secret (and the running pods' config) if the ExternalSecret is deleted.
            deletionPolicy: "Retain",
            template: {
              engineVersion: "v2",
              // Merge: the data keys plus the connection keys; Replace: the connection keys only.
              mergePolicy: consumer.mergePolicy,
              data:
                consumer.connection === "libpq"
                  ? libpqEnvTemplate(props.database)
                  : { [DB_TEMPLATE_KEYS.url]: databaseUrlTemplate(props.database) },
            },
          },
          data: consumerData(consumer, props.database),
        },
      });
    }
  }
}

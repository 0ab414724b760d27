import { ApiObject, Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { PlueConfig } from "../config/schema.ts";
import { DB_PASSWORD_SECRET, DB_USER, K8S, dbHostSecretId, names, secretId } from "../config/names.ts";
import { esoIdentities, type EsoConsumer, type EsoIdentity } from "../constructs/secret-manager-secrets.ts";

/** API version of every External Secrets object (`v1beta1` is no longer served). */
export const EXTERNAL_SECRETS_API = "external-secrets.io/v1";

/** PostgreSQL port of the Cloud SQL instance. */
export const POSTGRES_PORT = 5432;

/** Keys the connection-string template reads (also keys of the API's Secret). */
export const DB_TEMPLATE_KEYS = { password: "DATABASE_PASSWORD", host: "DATABASE_HOST", url: "DATABASE_URL" } as const;

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
export function databaseUrlTemplate(config: PlueConfig): string {
  const { password, host } = DB_TEMPLATE_KEYS;
  return `postgresql://${DB_USER}:{{ .${password} | urlquery }}@{{ .${host} }}:${POSTGRES_PORT}/${config.database.databaseName}?sslmode=require`;
}

function entry(secretKey: string, key: string): ExternalSecretData {
  return {
    secretKey,
    remoteRef: { key, version: "latest", conversionStrategy: "Default", decodingStrategy: "None", metadataPolicy: "None" },
  };
}

/**
 * The data entries of a consumer's Secret: every configured secret the consumer reads that names
 * an `env` (`api` only: the schema Job reads just the connection string), then the password and
 * host the connection-string template needs. The config loader has already checked that
 * `db-password` lists both consumers and that no two entries write the same key.
 */
export function consumerData(config: PlueConfig, consumer: EsoConsumer): ExternalSecretData[] {
  const envs =
    consumer === "api"
      ? Object.keys(config.secrets.items)
          .sort()
          .flatMap((name) => {
            const item = config.secrets.items[name];
            return item?.env !== undefined && item.consumers.includes(consumer) ? [entry(item.env, secretId(config, name))] : [];
          })
      : [];
  const data = [...envs];
  const add = (e: ExternalSecretData) => {
    if (!data.some((d) => d.secretKey === e.secretKey && d.remoteRef.key === e.remoteRef.key)) data.push(e);
  };
  add(entry(DB_TEMPLATE_KEYS.password, secretId(config, DB_PASSWORD_SECRET)));
  add(entry(DB_TEMPLATE_KEYS.host, dbHostSecretId(config)));
  return data;
}

/** Props of {@link ExternalSecretsChart}. */
export interface ExternalSecretsChartProps {
  /** The validated environment. */
  readonly config: PlueConfig;
}

/**
 * The in-cluster half of External Secrets: one `ClusterSecretStore` per consumer (Google Secret
 * Manager through Workload Identity, as that consumer's own Kubernetes service account, usable
 * from the `api` namespace only), and one `ExternalSecret` per consumer writing its Secret:
 * `api-env` (every API secret under its env name, plus `DATABASE_URL`) and `schema-migrate-env`
 * (`DATABASE_URL` only). The operator, its namespace and the service accounts are in the platform
 * stack; the Google service accounts and per-secret IAM in the data stack.
 *
 * The Workload Identity fields name the cluster exactly as the cluster stack creates it (name,
 * region, project): a mismatch fails every sync with `could not get idbindtoken token`.
 * @see https://external-secrets.io/latest/provider/google-secrets-manager/
 * @see https://external-secrets.io/latest/api/spec/
 */
export class ExternalSecretsChart extends Chart {
  /** Store name by consumer. */
  readonly stores: Readonly<Record<EsoConsumer, string>>;

  constructor(scope: Construct, id: string, props: ExternalSecretsChartProps) {
    super(scope, id, { disableResourceNameHashes: true, labels: { "app.kubernetes.io/part-of": props.config.name } });
    const { config } = props;
    const identities = esoIdentities(config);
    const namespace = K8S.namespaces.api;

    const store = (identity: EsoIdentity) =>
      new ApiObject(this, `store-${identity.consumer}`, {
        apiVersion: EXTERNAL_SECRETS_API,
        kind: "ClusterSecretStore",
        metadata: { name: identity.store },
        spec: {
          // Only the consumers' namespace may use the store.
          conditions: [{ namespaces: [namespace] }],
          provider: {
            gcpsm: {
              projectID: config.project.id,
              secretVersionSelectionPolicy: "LatestOrFail",
              auth: {
                workloadIdentity: {
                  clusterLocation: config.project.region,
                  clusterName: names(config).cluster,
                  clusterProjectID: config.project.id,
                  serviceAccountRef: { name: identity.kubernetesServiceAccount, namespace: config.externalSecrets.namespace },
                },
              },
            },
          },
        },
      });

    const externalSecret = (identity: EsoIdentity, target: string, mergePolicy: "Merge" | "Replace") =>
      new ApiObject(this, `external-secret-${identity.consumer}`, {
        apiVersion: EXTERNAL_SECRETS_API,
        kind: "ExternalSecret",
        metadata: { name: target, namespace },
        spec: {
          refreshInterval: config.externalSecrets.refreshInterval,
          secretStoreRef: { kind: "ClusterSecretStore", name: identity.store },
          target: {
            name: target,
            creationPolicy: "Owner",
            // Keep the Secret (and the running pods' config) if the ExternalSecret is deleted.
            deletionPolicy: "Retain",
            template: {
              engineVersion: "v2",
              // Merge: the data keys plus DATABASE_URL; Replace: DATABASE_URL only.
              mergePolicy,
              data: { [DB_TEMPLATE_KEYS.url]: databaseUrlTemplate(config) },
            },
          },
          data: consumerData(config, identity.consumer),
        },
      });

    store(identities.api);
    store(identities.migrate);
    externalSecret(identities.api, K8S.secrets.api, "Merge");
    externalSecret(identities.migrate, K8S.secrets.migrate, "Replace");
    this.stores = { api: identities.api.store, migrate: identities.migrate.store };
  }
}

import { Fn } from "cdktf";
import { Construct } from "constructs";
import { SecretManagerSecret } from "@cdktf/provider-google/lib/secret-manager-secret";
import { SecretManagerSecretIamMember } from "@cdktf/provider-google/lib/secret-manager-secret-iam-member";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account";
import { PubsubTopicIamMember } from "@cdktf/provider-google/lib/pubsub-topic-iam-member";
import { DataGoogleProject } from "@cdktf/provider-google/lib/data-google-project";
import type { PlueConfig } from "../config/schema.ts";
import { names, secretId } from "../config/names.ts";

/** The only role any identity gets on a secret: read its versions. */
export const SECRET_ACCESSOR_ROLE = "roles/secretmanager.secretAccessor";

/** Consumers that read secrets in the cluster, each through its own External Secrets identity. */
export const ESO_CONSUMERS = ["api", "migrate"] as const;

/** A consumer that reads secrets through External Secrets. */
export type EsoConsumer = (typeof ESO_CONSUMERS)[number];

/** A consumer of a configured secret (see `secrets.items.*.consumers` in the config schema). */
export type SecretConsumer = PlueConfig["secrets"]["items"][string]["consumers"][number];

/**
 * The identity External Secrets uses for one consumer: a Google service account (created by
 * {@link SecretManagerSecrets}), the Kubernetes service account in the operator's namespace that
 * impersonates it through Workload Identity (platform stack), and the ClusterSecretStore that
 * uses that Kubernetes service account (external-secrets chart).
 */
export interface EsoIdentity {
  /** Which consumer's secrets this identity reads. */
  readonly consumer: EsoConsumer;
  /** Google service account id, `<prefix>-eso-<consumer>`. */
  readonly accountId: string;
  /** Google service account e-mail. */
  readonly email: string;
  /** IAM member string of the Google service account. */
  readonly member: string;
  /** Kubernetes service account (in the operator's namespace) annotated with {@link email}. */
  readonly kubernetesServiceAccount: string;
  /** ClusterSecretStore that authenticates as {@link kubernetesServiceAccount}. */
  readonly store: string;
}

/** Longest Google service account id (`account_id`). */
const MAX_ACCOUNT_ID = 30;

/**
 * The External Secrets identity of every in-cluster consumer, by consumer. The names are written
 * here only; the data stack, the platform stack and the chart all read them from here.
 * @throws Error when a service account id would exceed 30 characters (a long `name` prefix).
 */
export function esoIdentities(config: PlueConfig): Readonly<Record<EsoConsumer, EsoIdentity>> {
  const identity = (consumer: EsoConsumer): EsoIdentity => {
    const accountId = `${config.name}-eso-${consumer}`;
    if (accountId.length > MAX_ACCOUNT_ID) {
      throw new Error(
        `config: 'name' makes the service account id ${accountId} longer than ${MAX_ACCOUNT_ID} characters (got ${config.name}). Use a prefix of at most ${MAX_ACCOUNT_ID - `-eso-${consumer}`.length} characters.`,
      );
    }
    const email = `${accountId}@${config.project.id}.iam.gserviceaccount.com`;
    return {
      consumer,
      accountId,
      email,
      member: `serviceAccount:${email}`,
      kubernetesServiceAccount: `eso-${consumer}`,
      store: `gcp-secret-manager-${consumer}`,
    };
  };
  return { api: identity("api"), migrate: identity("migrate") };
}

/**
 * IAM member that reads a secret for `consumer`: the consumer's External Secrets identity for
 * `api` and `migrate`; the CI deployer for `edge` and `data` (Terraform reads those at apply time).
 */
export function accessorMember(config: PlueConfig, consumer: SecretConsumer): string {
  switch (consumer) {
    case "api":
    case "migrate":
      return esoIdentities(config)[consumer].member;
    case "edge":
    case "data":
      return `serviceAccount:${names(config).ciServiceAccount}@${config.project.id}.iam.gserviceaccount.com`;
  }
}

/** Full resource name of a secret of the environment's project. */
export function secretName(config: PlueConfig, id: string): string {
  return `projects/${config.project.id}/secrets/${id}`;
}

/** Props of {@link SecretManagerSecrets}. */
export interface SecretManagerSecretsProps {
  /** The validated environment: `secrets` (items, replication, rotation topic) and the project. */
  readonly config: PlueConfig;
  /**
   * The Cloud SQL host secret (created by the Cloud SQL construct): the `api` and `migrate`
   * identities get read access to it, since both build DATABASE_URL from it.
   * @default - no host secret access
   */
  readonly dbHostSecret?: SecretManagerSecret;
}

/** Replication of every secret: automatic, or the configured replica locations (sorted). */
export function secretReplication(config: PlueConfig) {
  return config.secrets.replicaLocations.length === 0
    ? { auto: {} }
    : { userManaged: { replicas: [...config.secrets.replicaLocations].sort().map((location) => ({ location })) } };
}

/**
 * One Secret Manager secret per configured secret (no value: versions are added out of band),
 * with per-secret accessor bindings for exactly the identities of its consumers, and the Google
 * service accounts External Secrets uses (one per in-cluster consumer, so the API's identity
 * cannot read the schema Job's secrets and the reverse). Nothing here grants a project-level role.
 *
 * Rotation reminders (`rotation`, `topics`) are set only when the item has `rotationDays` and the
 * environment has `secrets.rotationTopic`: Secret Manager requires a topic for a rotation
 * schedule. The first `next_rotation_time` is computed by Terraform at plan time
 * (`timeadd(plantimestamp(), …)`), never at synth, and then left to Secret Manager
 * (`ignore_changes`), which advances it after every notification.
 *
 * @see https://cloud.google.com/secret-manager/docs/access-control
 * @see https://cloud.google.com/secret-manager/docs/secret-rotation
 * @see https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/secret_manager_secret
 */
export class SecretManagerSecrets extends Construct {
  /** Secrets by configured name. */
  readonly secrets: ReadonlyMap<string, SecretManagerSecret>;
  /** External Secrets' Google service accounts, by consumer. */
  readonly identities: ReadonlyMap<EsoConsumer, ServiceAccount>;
  /** Accessor bindings by construct id (`<name>-<consumer>`, `db-host-<consumer>`). */
  readonly bindings: ReadonlyMap<string, SecretManagerSecretIamMember>;

  constructor(scope: Construct, id: string, props: SecretManagerSecretsProps) {
    super(scope, id);
    const { config } = props;
    const ids = esoIdentities(config);

    const identities = new Map<EsoConsumer, ServiceAccount>();
    for (const consumer of ESO_CONSUMERS) {
      identities.set(
        consumer,
        new ServiceAccount(this, `eso-${consumer}`, {
          accountId: ids[consumer].accountId,
          displayName: `External Secrets reader for ${consumer}`,
          description: `Reads the Secret Manager secrets of consumer '${consumer}' for External Secrets (Workload Identity, no keys).`,
        }),
      );
    }
    this.identities = identities;

    const topic = config.secrets.rotationTopic;
    let topicGrant: PubsubTopicIamMember | undefined;
    if (topic !== undefined && Object.values(config.secrets.items).some((item) => item.rotationDays !== undefined)) {
      // Secret Manager publishes rotation reminders as its service agent.
      const project = new DataGoogleProject(this, "project", { projectId: config.project.id });
      topicGrant = new PubsubTopicIamMember(this, "rotation-topic-publisher", {
        topic,
        role: "roles/pubsub.publisher",
        member: `serviceAccount:service-${project.number}@gcp-sa-secretmanager.iam.gserviceaccount.com`,
      });
    }

    const replication = secretReplication(config);

    const secrets = new Map<string, SecretManagerSecret>();
    const bindings = new Map<string, SecretManagerSecretIamMember>();
    for (const name of Object.keys(config.secrets.items).sort()) {
      const item = config.secrets.items[name];
      if (item === undefined) continue;
      const consumers = [...new Set(item.consumers)].sort();
      const days = topic !== undefined ? item.rotationDays : undefined;
      const secret = new SecretManagerSecret(this, name, {
        secretId: secretId(config, name),
        replication,
        labels: { secret_name: name, ...Object.fromEntries(consumers.map((c) => [`consumer_${c}`, "true"])) },
        annotations: { description: item.description, consumers: consumers.join(",") },
        deletionProtection: true,
        ...(days !== undefined && topic !== undefined
          ? {
              rotation: { rotationPeriod: `${days * 86400}s`, nextRotationTime: Fn.timeadd(Fn.plantimestamp(), `${days * 24}h`) },
              topics: [{ name: topic }],
              lifecycle: { ignoreChanges: ["rotation[0].next_rotation_time"] },
              ...(topicGrant ? { dependsOn: [topicGrant] } : {}),
            }
          : {}),
      });
      secrets.set(name, secret);
      for (const consumer of consumers) {
        const bindingId = `${name}-${consumer}`;
        bindings.set(
          bindingId,
          new SecretManagerSecretIamMember(this, bindingId, {
            secretId: secret.id,
            role: SECRET_ACCESSOR_ROLE,
            member: accessorMember(config, consumer),
          }),
        );
      }
    }
    this.secrets = secrets;

    if (props.dbHostSecret) {
      for (const consumer of ESO_CONSUMERS) {
        const bindingId = `db-host-${consumer}`;
        bindings.set(
          bindingId,
          new SecretManagerSecretIamMember(this, bindingId, {
            secretId: props.dbHostSecret.id,
            role: SECRET_ACCESSOR_ROLE,
            member: ids[consumer].member,
          }),
        );
      }
    }
    this.bindings = bindings;
  }
}

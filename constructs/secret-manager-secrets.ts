import { Fn } from "cdktf";
import { Construct } from "constructs";
import { SecretManagerSecret } from "@cdktf/provider-google/lib/secret-manager-secret";
import { SecretManagerSecretIamMember } from "@cdktf/provider-google/lib/secret-manager-secret-iam-member";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account";
import { PubsubTopicIamMember } from "@cdktf/provider-google/lib/pubsub-topic-iam-member";
import { DataGoogleProject } from "@cdktf/provider-google/lib/data-google-project";

/** The only role any identity gets on a secret: read its versions. */
export const SECRET_ACCESSOR_ROLE = "roles/secretmanager.secretAccessor";

/** One secret: its id, what it is for, and who may read it. */
export interface SecretSpec {
  /** Secret Manager secret id. */
  readonly secretId: string;
  /** What the secret holds (an annotation). */
  readonly description: string;
  /**
   * Who is granted {@link SECRET_ACCESSOR_ROLE} on this secret, by reader name: a key of
   * `readerAccounts` (the account created here) or of `externalReaders`. Binding ids `<secret>-<reader>`.
   */
  readonly readers: readonly string[];
  /**
   * Rotation reminder period in days (needs {@link SecretManagerSecretsProps.rotationTopic}).
   * @default - no rotation schedule
   */
  readonly rotationDays?: number;
}

/** A reader's Google service account, created here (External Secrets impersonates it). */
export interface SecretReaderAccount {
  /** Service account id. */
  readonly accountId: string;
}

/** Props of {@link SecretManagerSecrets}. */
export interface SecretManagerSecretsProps {
  /** The project (its number names the Secret Manager service agent that publishes rotation reminders). */
  readonly projectId: string;
  /** Secrets by a stable name (construct ids derive from it). */
  readonly secrets: Readonly<Record<string, SecretSpec>>;
  /** Replica locations of every secret; empty = automatic replication. */
  readonly replicaLocations: readonly string[];
  /**
   * Pub/Sub topic (full id) that receives rotation reminders.
   * @default - no rotation notifications
   */
  readonly rotationTopic?: string;
  /**
   * Google service accounts to create for readers, by reader name (ids `eso-<reader>`); their
   * bindings reference the account (`.member`), so IAM is applied after the account exists.
   */
  readonly readerAccounts: Readonly<Record<string, SecretReaderAccount>>;
  /**
   * IAM members of readers whose identity exists before this construct's stack is applied (e.g. the
   * CI deployer, created by the bootstrap stack), by reader name.
   * @default - none
   */
  readonly externalReaders?: Readonly<Record<string, string>>;
}

/** Replication of every secret: automatic, or the given replica locations (sorted). */
export function secretReplication(replicaLocations: readonly string[]) {
  return replicaLocations.length === 0
    ? { auto: {} }
    : { userManaged: { replicas: [...replicaLocations].sort().map((location) => ({ location })) } };
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
  /** Secrets by name. */
  readonly secrets: ReadonlyMap<string, SecretManagerSecret>;
  /** External Secrets' Google service accounts, by consumer. */
  readonly identities: ReadonlyMap<string, ServiceAccount>;
  /** Accessor bindings by construct id (`<name>-<reader>`). */
  readonly bindings: ReadonlyMap<string, SecretManagerSecretIamMember>;

  constructor(scope: Construct, id: string, props: SecretManagerSecretsProps) {
    super(scope, id);
    const external = props.externalReaders ?? {};
    const unknown = Object.entries(props.secrets).flatMap(([name, spec]) =>
      spec.readers.filter((r) => !Object.hasOwn(props.readerAccounts, r) && !Object.hasOwn(external, r)).map((r) => `${name}: ${r}`),
    );
    if (unknown.length > 0) {
      throw new Error(
        `SecretManagerSecrets ${id}: 'secrets.*.readers' names readers with no account (got ${unknown.join(", ")}). Add them to readerAccounts or externalReaders.`,
      );
    }

    const identities = new Map<string, ServiceAccount>();
    for (const [consumer, account] of Object.entries(props.readerAccounts)) {
      identities.set(
        consumer,
        new ServiceAccount(this, `eso-${consumer}`, {
          accountId: account.accountId,
          displayName: `External Secrets reader for ${consumer}`,
          description: `Reads the Secret Manager secrets of consumer '${consumer}' for External Secrets (Workload Identity, no keys).`,
        }),
      );
    }
    this.identities = identities;

    const topic = props.rotationTopic;
    let topicGrant: PubsubTopicIamMember | undefined;
    if (topic !== undefined && Object.values(props.secrets).some((spec) => spec.rotationDays !== undefined)) {
      // Secret Manager publishes rotation reminders as its service agent.
      const project = new DataGoogleProject(this, "project", { projectId: props.projectId });
      topicGrant = new PubsubTopicIamMember(this, "rotation-topic-publisher", {
        topic,
        role: "roles/pubsub.publisher",
        member: `serviceAccount:service-${project.number}@gcp-sa-secretmanager.iam.gserviceaccount.com`,
      });
    }

    const replication = secretReplication(props.replicaLocations);

    const secrets = new Map<string, SecretManagerSecret>();
    const bindings = new Map<string, SecretManagerSecretIamMember>();
    for (const name of Object.keys(props.secrets).sort()) {
      const spec = props.secrets[name];
      if (spec === undefined) continue;
      const consumers = [...new Set(spec.readers)].sort();
      const days = topic !== undefined ? spec.rotationDays : undefined;
      const secret = new SecretManagerSecret(this, name, {
        secretId: spec.secretId,
        replication,
        labels: { secret_name: name, ...Object.fromEntries(consumers.map((c) => [`consumer_${c}`, "true"])) },
        annotations: { description: spec.description, consumers: consumers.join(",") },
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
            member: identities.get(consumer)?.member ?? (external[consumer] as string),
          }),
        );
      }
    }
    this.secrets = secrets;

    this.bindings = bindings;
  }
}

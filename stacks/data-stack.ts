import type { Construct } from "constructs";
import { accessorMember, DB_USER, dbHostSecretId, ESO_CONSUMERS, esoIdentities, names, networkId, secretId } from "../config/names.ts";
import { DB_PASSWORD_SECRET } from "../config/secrets.ts";
import { CloudSqlPostgres } from "../constructs/cloud-sql-postgres.ts";
import { SecretManagerSecrets, type SecretSpec } from "../constructs/secret-manager-secrets.ts";
import { PlueStack, type PlueStackProps } from "./plue-stack.ts";

/**
 * The `data` stack: the platform's secrets in Google Secret Manager (values added out of band)
 * and Cloud SQL for PostgreSQL on a private IP.
 */
export class DataStack extends PlueStack {
  readonly secrets: SecretManagerSecrets;
  readonly postgres: CloudSqlPostgres;

  constructor(scope: Construct, id: string, props: PlueStackProps) {
    super(scope, id, props);
    const { config } = props;
    const n = names(config);
    const db = config.database;
    const identities = esoIdentities(config);

    this.postgres = new CloudSqlPostgres(this, "postgres", {
      name: n.sqlInstance,
      region: config.project.region,
      databaseVersion: db.version,
      tier: db.tier,
      availability: db.availability,
      databaseName: db.databaseName,
      backupStart: db.backupStart,
      retainedBackups: db.retainedBackups,
      labels: { ...config.labels, environment: config.environment },
      network: networkId(config),
      allocatedIpRange: n.privateServicesRange,
      user: DB_USER,
      passwordSecret: secretId(config, DB_PASSWORD_SECRET),
      hostSecretId: dbHostSecretId(config),
      secretReplicaLocations: config.secrets.replicaLocations,
    });

    const secrets: Record<string, SecretSpec> = {};
    for (const [name, item] of Object.entries(config.secrets.items)) {
      secrets[name] = {
        secretId: secretId(config, name),
        description: item.description,
        accessors: Object.fromEntries(item.consumers.map((c) => [c, accessorMember(config, c)])),
        ...(item.rotationDays !== undefined ? { rotationDays: item.rotationDays } : {}),
      };
    }
    this.secrets = new SecretManagerSecrets(this, "secrets", {
      projectId: config.project.id,
      secrets,
      replicaLocations: config.secrets.replicaLocations,
      ...(config.secrets.rotationTopic !== undefined ? { rotationTopic: config.secrets.rotationTopic } : {}),
      readerAccounts: Object.fromEntries(ESO_CONSUMERS.map((c) => [c, { accountId: identities[c].accountId }])),
      hostSecret: {
        secret: this.postgres.hostSecret,
        readers: Object.fromEntries(ESO_CONSUMERS.map((c) => [c, identities[c].member])),
      },
    });
  }
}

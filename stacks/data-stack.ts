import type { Construct } from "constructs";
import { DB_USER, dbHostSecretId, names, networkId, secretId, secretName } from "../config/names.ts";
import { DB_PASSWORD_SECRET } from "../config/secrets.ts";
import { CloudSqlPostgres } from "../constructs/cloud-sql-postgres.ts";
import { PlueStack, type PlueStackProps } from "./plue-stack.ts";

/**
 * The `data` stack: Cloud SQL for PostgreSQL on a private IP. Applied after the `secrets` stack
 * (the password is read from its secret; the instance's address is written to its host secret).
 */
export class DataStack extends PlueStack {
  readonly postgres: CloudSqlPostgres;

  constructor(scope: Construct, id: string, props: PlueStackProps) {
    super(scope, id, props);
    const { config } = props;
    const n = names(config);
    const db = config.database;

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
      hostSecret: secretName(config, dbHostSecretId(config)),
    });
  }
}

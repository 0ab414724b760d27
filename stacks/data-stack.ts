import type { Construct } from "constructs";
import { PlueStack, type PlueStackProps } from "./plue-stack.ts";
import { SecretManagerSecrets } from "../constructs/secret-manager-secrets.ts";
import { CloudSqlPostgres } from "../constructs/cloud-sql-postgres.ts";

/**
 * The `data` stack: the platform's secrets in Google Secret Manager (values added out of band)
 * and Cloud SQL for PostgreSQL on a private IP.
 */
export class DataStack extends PlueStack {
  readonly secrets: SecretManagerSecrets;
  readonly postgres: CloudSqlPostgres;

  constructor(scope: Construct, id: string, props: PlueStackProps) {
    super(scope, id, props);
    this.postgres = new CloudSqlPostgres(this, "postgres", { config: props.config });
    this.secrets = new SecretManagerSecrets(this, "secrets", { config: props.config, dbHostSecret: this.postgres.hostSecret });
  }
}

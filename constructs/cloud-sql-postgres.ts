import { Construct } from "constructs";
import { Fn, TerraformStack } from "cdktf";
import { SqlDatabaseInstance } from "@cdktf/provider-google/lib/sql-database-instance";
import { SqlDatabase } from "@cdktf/provider-google/lib/sql-database";
import { SqlUser } from "@cdktf/provider-google/lib/sql-user";
import { DataGoogleSecretManagerSecretVersion } from "@cdktf/provider-google/lib/data-google-secret-manager-secret-version";
import { SecretManagerSecretVersion } from "@cdktf/provider-google/lib/secret-manager-secret-version";

/**
 * Database flags set on every instance: connection and error logging and pgAudit (DDL and role
 * changes), after the CIS Google Cloud benchmark (section 6.2). Statement durations are not
 * logged (`-1`): statement text can carry personal data; Query Insights covers slow queries.
 * Every name is a flag Cloud SQL for PostgreSQL supports.
 * @see https://cloud.google.com/sql/docs/postgres/flags#list-flags-postgres
 * @see https://cloud.google.com/sql/docs/postgres/pg-audit
 */
export const POSTGRES_FLAGS: Readonly<Record<string, string>> = {
  "cloudsql.enable_pgaudit": "on",
  "pgaudit.log": "ddl,role",
  log_connections: "on",
  log_disconnections: "on",
  log_lock_waits: "on",
  log_statement: "ddl",
  log_error_verbosity: "default",
  log_min_messages: "warning",
  log_min_error_statement: "error",
  log_min_duration_statement: "-1",
};

/**
 * Shortest password Cloud SQL accepts for built-in users. The password is machine-generated
 * (docs/adr/0005: `openssl rand -hex 32`, 64 characters), so length, not character classes.
 */
export const MIN_PASSWORD_LENGTH = 32;

/**
 * Terraform version the stack needs: write-only arguments (`password_wo`) arrived in 1.11;
 * older versions are refused up front instead of failing inside the provider.
 */
export const REQUIRED_TERRAFORM = ">= 1.11.0";

/** Weekly maintenance window of the instance (UTC). */
export interface MaintenanceWindow {
  /** Day of the week, 1 (Monday) to 7 (Sunday). */
  readonly day: number;
  /** Hour of the day, 0 to 23, UTC. */
  readonly hour: number;
}

/** Props of {@link CloudSqlPostgres}. */
export interface CloudSqlPostgresProps {
  /** Instance name. */
  readonly name: string;
  readonly region: string;
  /** `POSTGRES_15` .. `POSTGRES_17`. */
  readonly databaseVersion: string;
  /** Machine tier, e.g. `db-custom-2-7680`. */
  readonly tier: string;
  /** `ZONAL`, or `REGIONAL` for a standby in a second zone. */
  readonly availability: "ZONAL" | "REGIONAL";
  /** The application database's name. */
  readonly databaseName: string;
  /** Daily backup window start, HH:MM UTC. */
  readonly backupStart: string;
  /** Automated backups kept. */
  readonly retainedBackups: number;
  /** Labels on the instance. */
  readonly labels: Readonly<Record<string, string>>;
  /** VPC network id whose private services access range holds the instance's IP. */
  readonly network: string;
  /** Name of the private services access range. */
  readonly allocatedIpRange: string;
  /** The application user's name. */
  readonly user: string;
  /** Secret Manager secret id holding the user's password (read at apply time). */
  readonly passwordSecret: string;
  /**
   * Secret Manager secret (full name, `projects/<p>/secrets/<id>`) that receives the instance's
   * private IP as a new version. Created beforehand (the secrets stack), like every secret.
   */
  readonly hostSecret: string;
  /**
   * When Cloud SQL may apply updates (update track `stable`).
   * @default - Sunday, starting 4 hours after `database.backupStart` (after the backup window)
   */
  readonly maintenanceWindow?: MaintenanceWindow;
}

/** The default maintenance window: Sunday, right after the 4-hour backup window. */
function defaultMaintenanceWindow(backupStart: string): MaintenanceWindow {
  const hour = Number(backupStart.slice(0, 2));
  return { day: 7, hour: (hour + 4) % 24 };
}

/**
 * Cloud SQL for PostgreSQL on a private IP only, TLS required, with backups, point-in-time
 * recovery and deletion protection (Terraform and API side); the application database; the
 * built-in application user, whose password Terraform reads from Secret Manager at apply time
 * and sends write-only (docs/adr/0005); and the instance's private IP as a version of a given
 * Secret Manager secret, from which External Secrets templates `DATABASE_URL`.
 * @see https://cloud.google.com/sql/docs/postgres/configure-private-ip
 * @see https://cloud.google.com/sql/docs/postgres/configure-ssl-instance
 * @see https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/sql_database_instance
 * @see https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/sql_user
 */
export class CloudSqlPostgres extends Construct {
  /** The instance. */
  readonly instance: SqlDatabaseInstance;
  /** The application database (`database.databaseName`). */
  readonly database: SqlDatabase;
  /** The application user ({@link CloudSqlPostgresProps.user}). */
  readonly user: SqlUser;

  constructor(scope: Construct, id: string, props: CloudSqlPostgresProps) {
    super(scope, id);
    const maintenance = props.maintenanceWindow ?? defaultMaintenanceWindow(props.backupStart);

    TerraformStack.of(this).addOverride("terraform.required_version", REQUIRED_TERRAFORM);

    this.instance = new SqlDatabaseInstance(this, "instance", {
      name: props.name,
      region: props.region,
      databaseVersion: props.databaseVersion,
      // Terraform refuses to destroy it; `settings.deletion_protection_enabled` makes the
      // API refuse too (console, gcloud), and prevent_destroy fails any plan that would.
      deletionProtection: true,
      lifecycle: { preventDestroy: true },
      settings: {
        tier: props.tier,
        // Explicit: new PostgreSQL 16+ instances default to Enterprise Plus, which has no
        // db-custom-* tiers.
        edition: "ENTERPRISE",
        availabilityType: props.availability,
        deletionProtectionEnabled: true,
        retainBackupsOnDelete: true,
        diskType: "PD_SSD",
        diskAutoresize: true,
        userLabels: { ...props.labels },
        ipConfiguration: {
          ipv4Enabled: false,
          privateNetwork: props.network,
          allocatedIpRange: props.allocatedIpRange,
          // TLS required, password authentication. Client certificates
          // (TRUSTED_CLIENT_CERTIFICATE_REQUIRED) would add per-client key distribution
          // for little gain on a private-only IP (docs/adr/0005).
          sslMode: "ENCRYPTED_ONLY",
          enablePrivatePathForGoogleCloudServices: true,
        },
        backupConfiguration: {
          enabled: true,
          pointInTimeRecoveryEnabled: true,
          startTime: props.backupStart,
          transactionLogRetentionDays: 7,
          backupRetentionSettings: { retainedBackups: props.retainedBackups, retentionUnit: "COUNT" },
        },
        maintenanceWindow: { day: maintenance.day, hour: maintenance.hour, updateTrack: "stable" },
        insightsConfig: {
          queryInsightsEnabled: true,
          recordApplicationTags: true,
          recordClientAddress: false,
        },
        passwordValidationPolicy: {
          enablePasswordPolicy: true,
          minLength: MIN_PASSWORD_LENGTH,
          disallowUsernameSubstring: true,
        },
        databaseFlags: Object.entries(POSTGRES_FLAGS).map(([name, value]) => ({ name, value })),
      },
    });

    this.database = new SqlDatabase(this, "database", {
      name: props.databaseName,
      instance: this.instance.name,
      charset: "UTF8",
      collation: "en_US.UTF8",
      // Dropping the database would lose every row even with the instance protected.
      deletionPolicy: "ABANDON",
      lifecycle: { preventDestroy: true },
    });

    // Read when Terraform runs (plan/apply), never at synth: the plan holds only this reference.
    const password = new DataGoogleSecretManagerSecretVersion(this, "password", {
      secret: props.passwordSecret,
    });

    this.user = new SqlUser(this, "user", {
      name: props.user,
      instance: this.instance.name,
      type: "BUILT_IN",
      // Write-only: sent to the API, never stored in this resource's state. A new secret
      // version bumps password_wo_version, which is what makes Terraform send it again.
      passwordWo: password.secretData,
      passwordWoVersion: Fn.tonumber(password.version),
      // The user owns the schema's objects; deleting it would fail, or orphan them.
      deletionPolicy: "ABANDON",
    });

    new SecretManagerSecretVersion(this, "host-secret-version", {
      secret: props.hostSecret,
      secretData: this.instance.privateIpAddress,
    });
  }
}

import { describe, expect, it } from "vitest";
import { only, resources, stack, stackText } from "../support/plan.ts";
import { exampleConfig } from "../support/config.ts";
import { MIN_PASSWORD_LENGTH, POSTGRES_FLAGS, REQUIRED_TERRAFORM } from "../../constructs/cloud-sql-postgres.ts";
import { DB_USER, dbHostSecretId, names, networkId, secretId } from "../../config/names.ts";

const config = exampleConfig();
const tf = stack("data");
const instances = resources(tf, "google_sql_database_instance");
const [instanceId, instance] = Object.entries(instances)[0] as [string, Record<string, any>];
const settings = instance.settings as Record<string, any>;
const user = only(tf, "google_sql_user") as Record<string, any>;
const passwordSources = tf.data?.google_secret_manager_secret_version ?? {};

/** Every string value under a key that names a password, anywhere in `value`. */
function passwordValues(value: unknown, key = ""): string[] {
  if (typeof value === "string") return /password/i.test(key) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((v) => passwordValues(v, key));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => passwordValues(v, k));
  return [];
}

describe("Cloud SQL for PostgreSQL (data stack)", () => {
  it("is the only instance, named for the environment, in its region", () => {
    expect(Object.keys(instances)).toHaveLength(1);
    expect(instance.name).toBe(names(config).sqlInstance);
    expect(instance.region).toBe("us-central1");
  });

  it("runs the configured PostgreSQL version and tier on the Enterprise edition", () => {
    expect(instance.database_version).toBe(config.database.version);
    expect(settings.tier).toBe(config.database.tier);
    expect(settings.edition).toBe("ENTERPRISE");
  });

  it("has a private IP only (no public IPv4, no authorized networks)", () => {
    expect(settings.ip_configuration.ipv4_enabled).toBe(false);
    expect(settings.ip_configuration.authorized_networks).toBeUndefined();
    expect(settings.ip_configuration.psc_config).toBeUndefined();
  });

  it("lives on the environment's VPC, in the private services range", () => {
    expect(settings.ip_configuration.private_network).toBe(networkId(config));
    expect(settings.ip_configuration.private_network).toBe("projects/plue-example/global/networks/plue-vpc");
    expect(settings.ip_configuration.allocated_ip_range).toBe(names(config).privateServicesRange);
    expect(settings.ip_configuration.enable_private_path_for_google_cloud_services).toBe(true);
  });

  it("requires TLS on every connection (ssl_mode ENCRYPTED_ONLY)", () => {
    expect(settings.ip_configuration.ssl_mode).toBe("ENCRYPTED_ONLY");
  });

  it("takes daily backups at the configured time, with point-in-time recovery", () => {
    expect(settings.backup_configuration).toEqual({
      enabled: true,
      point_in_time_recovery_enabled: true,
      start_time: config.database.backupStart,
      transaction_log_retention_days: 7,
      backup_retention_settings: { retained_backups: config.database.retainedBackups, retention_unit: "COUNT" },
    });
  });

  it("is protected from deletion by Terraform, by the API, and by prevent_destroy; keeps backups if deleted anyway", () => {
    expect(instance.deletion_protection).toBe(true);
    expect(settings.deletion_protection_enabled).toBe(true);
    expect(instance.lifecycle).toEqual({ prevent_destroy: true });
    expect(settings.retain_backups_on_delete).toBe(true);
  });

  it("has a weekly maintenance window on the stable track, after the backup window", () => {
    const backupHour = Number(config.database.backupStart.slice(0, 2));
    expect(settings.maintenance_window).toEqual({ day: 7, hour: (backupHour + 4) % 24, update_track: "stable" });
    expect(settings.maintenance_window.hour).toBe(6);
  });

  it("turns on Query Insights without recording client addresses", () => {
    expect(settings.insights_config).toEqual({ query_insights_enabled: true, record_application_tags: true, record_client_address: false });
  });

  it("takes its availability type from the config", () => {
    expect(settings.availability_type).toBe(config.database.availability);
  });

  it("grows its SSD disk automatically", () => {
    expect(settings.disk_autoresize).toBe(true);
    expect(settings.disk_type).toBe("PD_SSD");
  });

  it("sets the audit and logging flags (pgAudit, connections, DDL, errors), and no statement-duration logging", () => {
    const flags = Object.fromEntries((settings.database_flags as { name: string; value: string }[]).map((f) => [f.name, f.value]));
    expect(flags).toEqual(POSTGRES_FLAGS);
    expect(flags).toEqual({
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
    });
  });

  it("enforces a password policy on built-in users", () => {
    expect(settings.password_validation_policy).toEqual({
      enable_password_policy: true,
      min_length: MIN_PASSWORD_LENGTH,
      disallow_username_substring: true,
    });
  });

  it("creates the application database, never dropped by Terraform", () => {
    const db = only(tf, "google_sql_database") as Record<string, any>;
    expect(db.name).toBe(config.database.databaseName);
    expect(db.instance).toBe(`\${google_sql_database_instance.${instanceId}.name}`);
    expect(db.deletion_policy).toBe("ABANDON");
    expect(db.lifecycle).toEqual({ prevent_destroy: true });
  });

  it("creates the application user as a built-in user", () => {
    expect(user.name).toBe(DB_USER);
    expect(user.type).toBe("BUILT_IN");
    expect(user.instance).toBe(`\${google_sql_database_instance.${instanceId}.name}`);
  });

  it("reads the password from the latest version of the db-password secret when Terraform runs", () => {
    expect(Object.values(passwordSources)).toEqual([expect.objectContaining({ secret: secretId(config, "db-password") })]);
    const source = Object.values(passwordSources)[0] as Record<string, unknown>;
    expect(source.version).toBeUndefined();
    expect(source.secret).toBe("plue-db-password");
  });

  it("sends the password write-only (never in the user's state); a new secret version re-sends it", () => {
    const [sourceId] = Object.keys(passwordSources);
    expect(user.password).toBeUndefined();
    expect(user.password_wo).toBe(`\${data.google_secret_manager_secret_version.${sourceId}.secret_data}`);
    expect(user.password_wo_version).toBe(`\${tonumber(data.google_secret_manager_secret_version.${sourceId}.version)}`);
  });

  it("requires a Terraform that supports write-only arguments", () => {
    expect((tf.terraform as Record<string, unknown>).required_version).toBe(REQUIRED_TERRAFORM);
  });

  it("has no password literal anywhere in the data stack", () => {
    const values = passwordValues(tf);
    expect(values.length).toBeGreaterThan(0);
    for (const v of values) expect(v).toMatch(/^\$\{[^}]+\}$/);
    expect(stackText("data")).not.toMatch(/"(root_password|password)"\s*:/);
  });

  it("writes the instance's private IP (a reference, never a literal) as a version of the db-host secret the secrets stack creates", () => {
    expect(tf.resource?.google_secret_manager_secret).toBeUndefined();
    expect(Object.values(resources(tf, "google_secret_manager_secret_version"))).toEqual([
      {
        "//": expect.anything(),
        secret: `projects/${config.project.id}/secrets/${dbHostSecretId(config)}`,
        secret_data: `\${google_sql_database_instance.${instanceId}.private_ip_address}`,
      },
    ]);
    const host = Object.values(resources(stack("secrets"), "google_secret_manager_secret")).filter(
      (s) => s.secret_id === dbHostSecretId(config),
    );
    expect(host).toHaveLength(1);
  });
});

/** Stateful resources: Cloud SQL, the state bucket and its backend, KMS keys, audit logs. */
import { type Block, isLiteral } from "../plan-model.ts";
import { finding, get, list, resourcesOf } from "./helpers.ts";
import type { Finding, PostureRule, ReviewContext } from "./types.ts";

const SQL = "google_sql_database_instance";
const BUCKET = "google_storage_bucket";
const SEED_IAC = "004 Infrastructure as Code Security";

/** A rule over every resource of `type`; `test` returns the problems. */
function typeRule(
  type: string,
  spec: Omit<PostureRule, "check"> & { readonly test: (b: Block, ctx: ReviewContext) => [string, string][] },
): PostureRule {
  const rule: PostureRule = {
    ...spec,
    check: (ctx) => resourcesOf(ctx, type).flatMap((b) => spec.test(b, ctx).map(([m, fix]) => finding(rule, b, m, fix))),
  };
  return rule;
}

export const sqlPrivate = typeRule(SQL, {
  id: "SQL01",
  title: "Cloud SQL on a private IP only",
  severity: "error",
  rationale: "the database has no public address; only the VPC (and through NetworkPolicy only the API and the schema Job) reaches it",
  references: { checkov: "CKV_GCP_60, CKV_GCP_11", seed: `${SEED_IAC} (Use private subnets)` },
  test: (b) => {
    const out: [string, string][] = [];
    if (get(b.body, "settings.ip_configuration.ipv4_enabled") !== false)
      out.push(["settings.ip_configuration.ipv4_enabled is not false", "ip_configuration { ipv4_enabled = false }"]);
    if (get(b.body, "settings.ip_configuration.private_network") === undefined)
      out.push(["settings.ip_configuration.private_network is unset", "ip_configuration { private_network = <VPC id> }"]);
    for (const n of list(b.body, "settings.ip_configuration.authorized_networks"))
      out.push([`authorized_networks lists ${String(get(n, "value"))}`, "remove authorized_networks"]);
    return out;
  },
});

export const sqlTls = typeRule(SQL, {
  id: "SQL02",
  title: "Cloud SQL requires TLS",
  severity: "error",
  rationale: "connections without TLS are refused, so credentials and data never cross the network in clear",
  references: { checkov: "CKV_GCP_6", seed: "004 A02: Cryptographic Failures" },
  test: (b) => {
    const mode = get(b.body, "settings.ip_configuration.ssl_mode");
    return mode === "ENCRYPTED_ONLY" || mode === "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
      ? []
      : [[`settings.ip_configuration.ssl_mode is ${JSON.stringify(mode)}`, 'ip_configuration { ssl_mode = "ENCRYPTED_ONLY" }']];
  },
});

export const sqlBackups = typeRule(SQL, {
  id: "SQL03",
  title: "Cloud SQL backups and point-in-time recovery",
  severity: "error",
  rationale: "a bad migration or a deleted table is recovered to the minute before it",
  references: { checkov: "CKV_GCP_14", docs: "https://cloud.google.com/sql/docs/postgres/backup-recovery/pitr" },
  test: (b) => {
    const off = ["enabled", "point_in_time_recovery_enabled"].filter((k) => get(b.body, `settings.backup_configuration.${k}`) !== true);
    return off.length === 0
      ? []
      : [
          [
            `settings.backup_configuration: ${off.join(", ")} not true`,
            "backup_configuration { enabled = true, point_in_time_recovery_enabled = true }",
          ],
        ];
  },
});

export const sqlDeletionProtection = typeRule(SQL, {
  id: "SQL04",
  title: "Cloud SQL deletion protection (Terraform, API and lifecycle)",
  severity: "error",
  rationale:
    "the instance survives a destroy in Terraform (deletion_protection, prevent_destroy) and in the console or API (deletion_protection_enabled)",
  references: { docs: "https://cloud.google.com/sql/docs/postgres/deletion-protection" },
  test: (b) => {
    const out: [string, string][] = [];
    if (b.body.deletion_protection !== true) out.push(["deletion_protection is not true", "deletion_protection = true"]);
    if (get(b.body, "settings.deletion_protection_enabled") !== true)
      out.push(["settings.deletion_protection_enabled is not true", "settings { deletion_protection_enabled = true }"]);
    if (get(b.body, "lifecycle.prevent_destroy") !== true)
      out.push(["lifecycle.prevent_destroy is not true", "lifecycle { prevent_destroy = true }"]);
    return out;
  },
});

/** PostgreSQL flags the review requires, with the value each must have. */
const AUDIT_FLAGS: Readonly<Record<string, string>> = {
  "cloudsql.enable_pgaudit": "on",
  log_connections: "on",
  log_disconnections: "on",
};

export const sqlAuditFlags = typeRule(SQL, {
  id: "SQL05",
  title: "Cloud SQL audit logging (pgAudit, connections)",
  severity: "warning",
  rationale: "who connected and which DDL ran are in the logs when an incident is investigated",
  references: { checkov: "CKV_GCP_52, CKV_GCP_53, CKV_GCP_110", seed: "004 Audit Logging" },
  test: (b) => {
    const flags = new Map(list(b.body, "settings.database_flags").map((f) => [String(get(f, "name")), String(get(f, "value"))]));
    const bad = Object.entries(AUDIT_FLAGS).filter(([k, v]) => flags.get(k) !== v);
    return bad.length === 0
      ? []
      : [
          [
            `settings.database_flags: ${bad.map(([k, v]) => `${k} != ${v}`).join(", ")}`,
            `database_flags { ${bad.map(([k, v]) => `${k} = ${v}`).join("; ")} }`,
          ],
        ];
  },
});

export const sqlHighAvailability = typeRule(SQL, {
  id: "SQL06",
  title: "Cloud SQL regional (HA) in production",
  severity: "error",
  rationale: "a production database keeps a standby in a second zone",
  references: { docs: "https://cloud.google.com/sql/docs/postgres/high-availability" },
  test: (b, ctx) =>
    !ctx.config.production || get(b.body, "settings.availability_type") === "REGIONAL"
      ? []
      : [
          [
            `settings.availability_type is ${JSON.stringify(get(b.body, "settings.availability_type"))} in production`,
            'settings { availability_type = "REGIONAL" }',
          ],
        ],
});

export const bucketVersioning = typeRule(BUCKET, {
  id: "BKT01",
  title: "bucket versioning",
  severity: "error",
  rationale: "an overwritten or deleted Terraform state (or object) can be restored",
  references: { checkov: "CKV_GCP_78", seed: `${SEED_IAC} (Use encrypted backend)` },
  test: (b) => (get(b.body, "versioning.enabled") === true ? [] : [["versioning.enabled is not true", "versioning { enabled = true }"]]),
});

export const bucketCmek = typeRule(BUCKET, {
  id: "BKT02",
  title: "bucket encrypted with a customer-managed KMS key",
  severity: "error",
  rationale: "the Terraform state holds the origin client key (DESIGN: AOP); encryption with our own rotated key limits who can read it",
  references: { seed: `${SEED_IAC} (Use encrypted backend; Enable encryption by default)` },
  test: (b) =>
    typeof get(b.body, "encryption.default_kms_key_name") === "string"
      ? []
      : [["encryption.default_kms_key_name is unset", "encryption { default_kms_key_name = google_kms_crypto_key.<key>.id }"]],
});

export const bucketNotPublic: PostureRule = {
  id: "BKT03",
  title: "bucket not public: public access prevention, uniform access, no allUsers",
  severity: "error",
  rationale: "no ACL or IAM binding can ever make the state readable by the internet",
  references: { checkov: "CKV_GCP_114, CKV_GCP_29, CKV_GCP_28" },
  check(ctx) {
    const out: Finding[] = [];
    for (const b of resourcesOf(ctx, BUCKET)) {
      if (b.body.public_access_prevention !== "enforced")
        out.push(finding(bucketNotPublic, b, "public_access_prevention is not enforced", 'public_access_prevention = "enforced"'));
      if (b.body.uniform_bucket_level_access !== true)
        out.push(finding(bucketNotPublic, b, "uniform_bucket_level_access is not true", "uniform_bucket_level_access = true"));
    }
    for (const type of ["google_storage_bucket_iam_member", "google_storage_bucket_iam_binding"]) {
      for (const b of resourcesOf(ctx, type)) {
        const members = [b.body.member, ...list(b.body, "members")].filter((m): m is string => typeof m === "string");
        for (const m of members.filter((x) => x === "allUsers" || x === "allAuthenticatedUsers")) {
          out.push(finding(bucketNotPublic, b, `grants ${String(b.body.role)} to ${m}`, "grant to named principals only"));
        }
      }
    }
    return out;
  },
};

export const bucketKept = typeRule(BUCKET, {
  id: "BKT04",
  title: "bucket never force-destroyed, destroy prevented",
  severity: "error",
  rationale: "destroying the state bucket with its objects loses every stack's state",
  references: { docs: "https://developer.hashicorp.com/terraform/language/meta-arguments/lifecycle#prevent_destroy" },
  test: (b) => {
    const out: [string, string][] = [];
    if (b.body.force_destroy === true) out.push(["force_destroy is true", "force_destroy = false"]);
    if (get(b.body, "lifecycle.prevent_destroy") !== true)
      out.push(["lifecycle.prevent_destroy is not true", "lifecycle { prevent_destroy = true }"]);
    return out;
  },
});

/** Seconds in 90 days. */
const NINETY_DAYS = 90 * 24 * 3600;

export const kmsKeys = typeRule("google_kms_crypto_key", {
  id: "KMS01",
  title: "KMS keys rotate within 90 days and cannot be destroyed by a plan",
  severity: "error",
  rationale: "a rotated key limits what one leaked key version decrypts; destroying a key makes everything encrypted with it unreadable",
  references: { checkov: "CKV_GCP_43, CKV_GCP_82", seed: "004 Key Rotation" },
  test: (b) => {
    const out: [string, string][] = [];
    const period = typeof b.body.rotation_period === "string" ? Number.parseInt(b.body.rotation_period, 10) : Number.NaN;
    if (!(period > 0 && period <= NINETY_DAYS))
      out.push([`rotation_period is ${JSON.stringify(b.body.rotation_period)}`, `rotation_period = "${NINETY_DAYS}s" or less`]);
    if (get(b.body, "lifecycle.prevent_destroy") !== true)
      out.push(["lifecycle.prevent_destroy is not true", "lifecycle { prevent_destroy = true }"]);
    return out;
  },
});

export const encryptedState: PostureRule = {
  id: "STATE01",
  title: "every stack keeps its state in the CMEK state bucket",
  severity: "error",
  rationale:
    "Terraform state holds every secret Terraform reads (the origin client key, the database password's version); it lives only in the versioned, CMEK-encrypted bucket (local only for bootstrap's first apply, docs/adr/0003)",
  references: { seed: `${SEED_IAC} (Use encrypted backend)`, docs: "docs/adr/0003-bootstrap-state.md" },
  check(ctx) {
    const buckets = new Map(
      resourcesOf(ctx, BUCKET)
        .filter((b) => isLiteral(b.body.name) && typeof get(b.body, "encryption.default_kms_key_name") === "string")
        .map((b) => [b.body.name as string, b]),
    );
    const out: Finding[] = [];
    for (const s of ctx.plan.stacks) {
      const backend = (s.tf.terraform?.backend ?? {}) as Record<string, { bucket?: string }>;
      const [kind, cfg] = Object.entries(backend)[0] ?? ["none", {}];
      const target = {
        stack: s.name,
        mode: "resource" as const,
        type: "terraform",
        name: "backend",
        address: `terraform.backend.${kind}`,
        body: {},
      };
      if (kind === "local" && s.name === "bootstrap" && ctx.config.state.bootstrapBackend === "local") continue;
      if (kind !== "gcs")
        out.push(finding(encryptedState, target, `backend is ${kind}, not gcs`, "every stack uses the gcs backend in the state bucket"));
      else if (!cfg.bucket || !buckets.has(cfg.bucket))
        out.push(
          finding(
            encryptedState,
            target,
            `backend bucket ${JSON.stringify(cfg.bucket)} is not a CMEK-encrypted bucket of this plan`,
            `bucket = "${[...buckets.keys()][0] ?? "<state bucket>"}"`,
          ),
        );
    }
    return out;
  },
};

/** Services whose data access must be logged. */
const AUDITED = ["cloudkms.googleapis.com", "secretmanager.googleapis.com", "storage.googleapis.com"];

export const dataAccessAudit: PostureRule = {
  id: "AUDIT01",
  title: "data-access audit logs for KMS, Secret Manager and Storage",
  severity: "warning",
  rationale: "every read of a key, a secret or the state is attributable to an identity",
  references: { seed: "004 Audit Logging", docs: "https://cloud.google.com/logging/docs/audit/configure-data-access" },
  check(ctx) {
    const configs = resourcesOf(ctx, "google_project_iam_audit_config");
    const covered = new Set(
      configs
        .filter((c) => ["DATA_READ", "DATA_WRITE"].every((t) => list(c.body, "audit_log_config").some((l) => get(l, "log_type") === t)))
        .map((c) => c.body.service),
    );
    const anchor = resourcesOf(ctx, BUCKET)[0] ?? configs[0];
    if (!anchor) return [];
    return AUDITED.filter((s) => !covered.has(s) && !covered.has("allServices")).map((s) =>
      finding(
        dataAccessAudit,
        anchor,
        `no audit config logs DATA_READ and DATA_WRITE for ${s}`,
        `google_project_iam_audit_config { service = "${s}", audit_log_config { log_type = DATA_READ } audit_log_config { log_type = DATA_WRITE } }`,
      ),
    );
  },
};

/** Every rule over stateful resources, in id order. */
export const DATA_RULES: readonly PostureRule[] = [
  sqlPrivate,
  sqlTls,
  sqlBackups,
  sqlDeletionProtection,
  sqlAuditFlags,
  sqlHighAvailability,
  bucketVersioning,
  bucketCmek,
  bucketNotPublic,
  bucketKept,
  kmsKeys,
  encryptedState,
  dataAccessAudit,
];

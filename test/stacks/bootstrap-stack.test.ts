import { describe, expect, it } from "vitest";
import { only, resources, stack, stackText } from "../support/plan.ts";

const tf = stack("bootstrap");
const bucket = only(tf, "google_storage_bucket");
const stateKey = resources(tf, "google_kms_crypto_key")["state-key"] as Record<string, any>;

describe("bootstrap stack", () => {
  it("matches the snapshot", () => {
    expect(stackText("bootstrap")).toMatchSnapshot();
  });

  it("keeps its own state in the state bucket under its own prefix", () => {
    expect(tf.terraform.backend?.gcs).toEqual({ bucket: "plue-example-tfstate", prefix: "example/bootstrap" });
  });

  it("versions the state bucket", () => {
    expect(bucket.versioning).toEqual({ enabled: true });
  });

  it("enforces uniform bucket-level access and public access prevention", () => {
    expect(bucket.uniform_bucket_level_access).toBe(true);
    expect(bucket.public_access_prevention).toBe("enforced");
  });

  it("encrypts the state bucket with the CMEK state key", () => {
    expect(bucket.encryption).toEqual({ default_kms_key_name: "${google_kms_crypto_key.state-key.id}" });
  });

  it("lets the Cloud Storage service agent use the key before the bucket is created", () => {
    const member = resources(tf, "google_kms_crypto_key_iam_member")["state-key-gcs-agent"] as Record<string, any>;
    expect(member.role).toBe("roles/cloudkms.cryptoKeyEncrypterDecrypter");
    expect(member.member).toBe("serviceAccount:${data.google_storage_project_service_account.gcs-agent.email_address}");
    // IAM is eventually consistent: the bucket waits 120 s after the grant is made (or remade).
    expect(resources(tf, "time_sleep")["state-key-grant-propagation"]).toEqual({
      "//": expect.anything(),
      create_duration: "120s",
      triggers: { "state-key-gcs-agent": "${google_kms_crypto_key_iam_member.state-key-gcs-agent.etag}" },
    });
    expect(bucket.depends_on).toEqual(["time_sleep.state-key-grant-propagation"]);
    expect(tf.terraform.required_providers?.time).toEqual({ source: "hashicorp/time", version: "0.13.1" });
  });

  it("reads the Cloud Storage agent, and writes audit configs, only after the APIs are on", () => {
    const services = Object.keys(resources(tf, "google_project_service"))
      .map((id) => `google_project_service.${id}`)
      .sort();
    const agent = tf.data?.google_storage_project_service_account?.["gcs-agent"] as Record<string, any>;
    expect([...agent.depends_on].sort()).toEqual(services);
    for (const audit of Object.values(resources(tf, "google_project_iam_audit_config")))
      expect([...(audit.depends_on as string[])].sort()).toEqual(services);
  });

  it("keeps the state key in the bucket's own location, as CMEK on Cloud Storage requires", () => {
    expect(bucket.location).toBe("US");
    const rings = resources(tf, "google_kms_key_ring") as Record<string, any>;
    expect(stateKey.key_ring).toBe("${google_kms_key_ring.state-key-ring.id}");
    expect(rings["state-key-ring"]).toMatchObject({ name: "plue-tfstate-keyring", location: "us" });
    expect(rings["key-ring"]).toMatchObject({ name: "plue-keyring", location: "us-central1" });
  });

  it("rotates the state key on the configured period", () => {
    expect(stateKey.rotation_period).toBe(`${90 * 86400}s`);
  });

  it("never force-destroys the state bucket and protects bucket and keys from destroy", () => {
    expect(bucket.force_destroy).toBe(false);
    expect(bucket.lifecycle).toEqual({ prevent_destroy: true });
    expect(stateKey.lifecycle).toEqual({ prevent_destroy: true });
    for (const ring of Object.values(resources(tf, "google_kms_key_ring"))) expect(ring.lifecycle).toEqual({ prevent_destroy: true });
  });

  it("expires non-current state versions only after the retention period", () => {
    expect(bucket.lifecycle_rule).toEqual([
      { action: { type: "Delete" }, condition: { days_since_noncurrent_time: 90, with_state: "ARCHIVED" } },
    ]);
  });

  it("audit-logs data access to KMS, Secret Manager and Storage", () => {
    const audited = Object.values(resources(tf, "google_project_iam_audit_config")).map((a) => a.service);
    expect(audited.sort()).toEqual([
      "cloudkms.googleapis.com",
      "iam.googleapis.com",
      "iamcredentials.googleapis.com",
      "secretmanager.googleapis.com",
      "storage.googleapis.com",
      "sts.googleapis.com",
    ]);
    for (const a of Object.values(resources(tf, "google_project_iam_audit_config"))) {
      expect((a.audit_log_config as { log_type: string }[]).map((c) => c.log_type)).toEqual(["ADMIN_READ", "DATA_READ", "DATA_WRITE"]);
    }
  });

  it("enables every API the plan needs and never disables one on destroy", () => {
    const services = Object.values(resources(tf, "google_project_service"));
    expect(services.map((s) => s.service).sort()).toEqual([
      "certificatemanager.googleapis.com",
      "cloudkms.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "compute.googleapis.com",
      "container.googleapis.com",
      "dns.googleapis.com",
      "iam.googleapis.com",
      "iamcredentials.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "networksecurity.googleapis.com",
      "secretmanager.googleapis.com",
      "servicenetworking.googleapis.com",
      "serviceusage.googleapis.com",
      "sqladmin.googleapis.com",
      "storage.googleapis.com",
      "sts.googleapis.com",
    ]);
    for (const s of services) expect(s.disable_on_destroy).toBe(false);
  });

  it("gives the CI identities the state bucket's objects (deployer read-write, planner read-only) and its settings to read, and creates no key", () => {
    const grants = Object.values(resources(tf, "google_storage_bucket_iam_member")).map((g) => [g.role, g.member, g.bucket]);
    expect(grants.sort()).toEqual(
      [
        ["roles/storage.legacyBucketReader", "${google_service_account.ci-identity.member}", "${google_storage_bucket.state-bucket.name}"],
        ["roles/storage.objectUser", "${google_service_account.ci-identity.member}", "${google_storage_bucket.state-bucket.name}"],
        [
          "roles/storage.objectViewer",
          "${google_service_account.github_planner_CA69336E.member}",
          "${google_storage_bucket.state-bucket.name}",
        ],
      ].sort(),
    );
    expect(tf.resource?.google_service_account_key).toBeUndefined();
  });

  it("makes audit-log configuration wait for the APIs (project IAM calls Cloud Resource Manager)", () => {
    for (const a of Object.values(resources(tf, "google_project_iam_audit_config"))) {
      expect(a.depends_on).toContain("google_project_service.service-cloudresourcemanager");
    }
  });
});

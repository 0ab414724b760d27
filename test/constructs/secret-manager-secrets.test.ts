/**
 * Secret Manager secrets and their IAM, read from the real synthesized secrets stack; variants of
 * the environment (replicas, rotation topic) are synthesized through the plan (test/support/build.ts).
 */
import { describe, expect, it } from "vitest";
import { resources, stack, stackNames, type TfJson } from "../support/plan.ts";
import { exampleConfig } from "../support/config.ts";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { SECRET_ACCESSOR_ROLE, SecretManagerSecrets } from "../../constructs/secret-manager-secrets.ts";
import { HOST_SECRET } from "../../config/secrets.ts";
import { HOST_SECRET_DESCRIPTION } from "../../stacks/secrets-stack.ts";
import { esoIdentities } from "../../config/names.ts";
import { stackFor, synthConstruct } from "../support/build.ts";
import type { PlueConfig } from "../../config/schema.ts";

type Resource = Record<string, any>;

const config = exampleConfig();
const tf = stack("secrets");
const all = resources(tf, "google_secret_manager_secret") as Record<string, Resource>;
const secretsByName = new Map(
  Object.entries(all)
    .filter(([, s]) => s.labels?.secret_name !== undefined)
    .map(([id, s]) => [s.labels.secret_name as string, { id, ...s } as Resource]),
);
const grants = Object.values(resources(tf, "google_secret_manager_secret_iam_member")) as Resource[];

/** The member reference of the service account this stack creates with `accountId`. */
function accountMember(accountId: string): string {
  const [id] = Object.entries(resources(tf, "google_service_account")).find(([, a]) => a.account_id === accountId) ?? [];
  if (!id) throw new Error(`no service account ${accountId} in the secrets stack`);
  return `\${google_service_account.${id}.member}`;
}
const API = accountMember("plue-eso-api");
const MIGRATE = accountMember("plue-eso-migrate");
const EGRESS = accountMember("plue-eso-egress");
const CI = "serviceAccount:plue-ci@plue-example.iam.gserviceaccount.com";
/** The read-only pull-request planner (docs/adr/0014): reads what Terraform reads at plan time. */
const PLANNER = "serviceAccount:plue-ci-plan@plue-example.iam.gserviceaccount.com";

/** Members that hold accessor on the secret with logical id `id` (by reference or by full name). */
function readersOf(secretLogicalId: string, secretId: string): string[] {
  return grants
    .filter(
      (g) =>
        g.secret_id === `\${google_secret_manager_secret.${secretLogicalId}.id}` ||
        g.secret_id === `projects/plue-example/secrets/${secretId}`,
    )
    .map((g) => g.member as string)
    .sort();
}

function synthSecrets(mutate: (c: PlueConfig) => PlueConfig): TfJson {
  return stackFor(mutate(exampleConfig()), "secrets");
}

function everyStack(): [string, TfJson][] {
  return stackNames().map((n) => [n, stack(n)]);
}

describe("SecretManagerSecrets in the secrets stack", () => {
  it("creates one secret per configured item, and the Cloud SQL host secret, with id <prefix>-<name>", () => {
    expect([...secretsByName.keys()].sort()).toEqual([...Object.keys(config.secrets.items), HOST_SECRET].sort());
    for (const [name, s] of secretsByName) expect(s.secret_id).toBe(`plue-${name}`);
  });

  it("keys each secret's construct id by its stable name", () => {
    for (const [name, s] of secretsByName) expect(s["//"].metadata.path).toBe(`secrets/secrets/${name}`);
  });

  it("binds the External Secrets identities by reference to the accounts it creates, never by a hand-built e-mail (ordered after them)", () => {
    expect(grants.filter((g) => String(g.member).includes("eso-api@") || String(g.member).includes("eso-migrate@"))).toEqual([]);
    const byReference = grants.filter((g) => /^\$\{google_service_account\.[^}]+\.member\}$/.test(String(g.member)));
    expect(byReference.length).toBe(8);
    for (const g of grants.filter((x) => !byReference.includes(x))) expect([CI, PLANNER]).toContain(g.member);
  });

  it("replicates automatically when no replica location is configured", () => {
    for (const s of secretsByName.values()) expect(s.replication).toEqual({ auto: {} });
  });

  it("labels each secret with its consumers", () => {
    expect(secretsByName.get("db-password")?.labels).toEqual({
      secret_name: "db-password",
      consumer_api: "true",
      consumer_data: "true",
      "consumer_data-plan": "true",
      consumer_migrate: "true",
    });
    expect(secretsByName.get("origin-key")?.labels).toEqual({
      secret_name: "origin-key",
      consumer_edge: "true",
      "consumer_edge-plan": "true",
    });
  });

  it("describes each secret in its annotations", () => {
    for (const [name, s] of secretsByName) {
      expect(s.annotations.description).toBe(name === HOST_SECRET ? HOST_SECRET_DESCRIPTION : config.secrets.items[name]?.description);
    }
  });

  it("protects every secret from deletion", () => {
    for (const s of secretsByName.values()) expect(s.deletion_protection).toBe(true);
  });

  it("schedules no rotation without a rotation topic (Secret Manager requires one)", () => {
    expect(config.secrets.rotationTopic).toBeUndefined();
    for (const s of secretsByName.values()) {
      expect(s.rotation).toBeUndefined();
      expect(s.topics).toBeUndefined();
    }
  });

  it("creates one Google service account per in-cluster consumer, and no key for it", () => {
    const accounts = Object.values(resources(tf, "google_service_account")) as Resource[];
    expect(accounts.map((a) => a.account_id).sort()).toEqual(["plue-eso-api", "plue-eso-egress", "plue-eso-migrate"]);
    expect(tf.resource?.google_service_account_key).toBeUndefined();
  });

  it("grants each secret's accessor role to exactly the identities of its consumers", () => {
    const expected: Record<string, string[]> = {
      "session-secret": [API],
      "csrf-key": [API],
      // The egress gateway's identity alone: the API no longer holds the key.
      "anthropic-api-key": [EGRESS],
      "callback-signing-key": [API],
      "db-password": [API, CI, MIGRATE, PLANNER],
      "origin-client-key": [CI, PLANNER],
      "origin-key": [CI, PLANNER],
      [HOST_SECRET]: [API, MIGRATE],
    };
    for (const [name, s] of secretsByName) expect(readersOf(s.id, s.secret_id), name).toEqual([...(expected[name] ?? [])].sort());
  });

  it("grants only secretAccessor, one secret per binding", () => {
    for (const g of grants) {
      expect(g.role).toBe(SECRET_ACCESSOR_ROLE);
      expect(g.secret_id).toMatch(/^(\$\{google_secret_manager_secret\.[^}]+\.id\}|projects\/plue-example\/secrets\/[a-z0-9-]+)$/);
    }
  });

  it("labels the host secret with its two readers", () => {
    expect(secretsByName.get(HOST_SECRET)?.labels).toEqual({ secret_name: HOST_SECRET, consumer_api: "true", consumer_migrate: "true" });
  });

  it("lets the api and migrate identities, and only them, read the Cloud SQL host secret", () => {
    const [hostId] = Object.entries(all).find(([, s]) => s.secret_id === "plue-db-host") ?? [];
    expect(hostId).toBeDefined();
    const host = grants.filter((g) => g.secret_id === `\${google_secret_manager_secret.${hostId}.id}`);
    expect(host.map((g) => g.member).sort()).toEqual([API, MIGRATE]);
  });

  it("grants no project-level secretAccessor (nor Secret Manager admin) in any stack", () => {
    for (const [name, s] of everyStack()) {
      for (const type of ["google_project_iam_member", "google_project_iam_binding", "google_project_iam_policy"]) {
        const text = JSON.stringify(s.resource?.[type] ?? {});
        expect(text, `${name}: ${type}`).not.toMatch(/roles\/secretmanager\./);
      }
    }
  });

  it("creates no secret version with literal data in any stack", () => {
    for (const [name, s] of everyStack()) {
      for (const [id, v] of Object.entries((s.resource?.google_secret_manager_secret_version ?? {}) as Record<string, Resource>)) {
        for (const field of ["secret_data", "secret_data_wo"]) {
          if (v[field] !== undefined) expect(v[field], `${name}: ${id}.${field}`).toMatch(/^\$\{[^}]+\}$/);
        }
      }
    }
  });
});

describe("SecretManagerSecrets with other environments", () => {
  it("replicates to the configured locations (user-managed), sorted", () => {
    const out = synthSecrets((c) => ({ ...c, secrets: { ...c.secrets, replicaLocations: ["us-east1", "europe-west4"] } }));
    for (const s of Object.values(resources(out, "google_secret_manager_secret")) as Resource[]) {
      expect(s.replication).toEqual({ user_managed: { replicas: [{ location: "europe-west4" }, { location: "us-east1" }] } });
    }
  });

  it("schedules rotation reminders with a topic: period in seconds, first time computed by Terraform at plan time", () => {
    const topic = "projects/plue-example/topics/secret-rotation";
    const out = synthSecrets((c) => ({ ...c, secrets: { ...c.secrets, rotationTopic: topic } }));
    const session = Object.values(resources(out, "google_secret_manager_secret")).find(
      (s) => s.secret_id === "plue-session-secret",
    ) as Resource;
    expect(session.rotation).toEqual({ rotation_period: `${90 * 86400}s`, next_rotation_time: '${timeadd(plantimestamp(), "2160h")}' });
    expect(session.topics).toEqual([{ name: topic }]);
    expect(session.lifecycle).toEqual({ ignore_changes: ["rotation[0].next_rotation_time"] });
  });

  it("lets Secret Manager's service agent publish to the rotation topic before any secret uses it", () => {
    const topic = "projects/plue-example/topics/secret-rotation";
    const out = synthSecrets((c) => ({ ...c, secrets: { ...c.secrets, rotationTopic: topic } }));
    const [grantId, grant] = Object.entries(resources(out, "google_pubsub_topic_iam_member"))[0] as [string, Resource];
    expect(grant).toMatchObject({ topic, role: "roles/pubsub.publisher" });
    expect(grant.member).toMatch(
      /^serviceAccount:service-\$\{data\.google_project\.[^}]+\.number\}@gcp-sa-secretmanager\.iam\.gserviceaccount\.com$/,
    );
    for (const s of Object.values(resources(out, "google_secret_manager_secret")) as Resource[]) {
      if (s.rotation) expect(s.depends_on).toContain(`google_pubsub_topic_iam_member.${grantId}`);
    }
  });

  it("schedules no rotation for a secret without rotationDays, even with a topic", () => {
    const topic = "projects/plue-example/topics/secret-rotation";
    const out = synthSecrets((c) => ({
      ...c,
      secrets: {
        ...c.secrets,
        rotationTopic: topic,
        items: { ...c.secrets.items, "csrf-key": { description: "x", consumers: ["api"], env: "CSRF_KEY" } },
      },
    }));
    const csrf = Object.values(resources(out, "google_secret_manager_secret")).find((s) => s.secret_id === "plue-csrf-key") as Resource;
    expect(csrf.rotation).toBeUndefined();
    expect(csrf.topics).toBeUndefined();
  });

  it("fails if the name prefix makes a service account id longer than 30 characters", () => {
    expect(() => esoIdentities({ ...config, name: "a-very-long-prefix-x" })).toThrow(
      "config: 'name' makes the service account id a-very-long-prefix-x-eso-migrate longer than 30 characters (got a-very-long-prefix-x). Use a prefix of at most 18 characters.",
    );
  });
});

describe("SecretManagerSecrets rules", () => {
  const build = (readers: string[], externalReaders?: Record<string, string>) =>
    synthConstruct((scope) => {
      new GoogleProvider(scope, "google", { project: "p" });
      new SecretManagerSecrets(scope, "s", {
        projectId: "p",
        secrets: { k: { secretId: "k", description: "d", readers } },
        replicaLocations: [],
        readerAccounts: { api: { accountId: "eso-api" } },
        ...(externalReaders ? { externalReaders } : {}),
      });
    });

  it("binds a created account by reference and an external reader by its member", () => {
    const json = build(["api", "edge"], { edge: "serviceAccount:ci@p.iam.gserviceaccount.com" });
    const members = Object.values(resources(json, "google_secret_manager_secret_iam_member")).map((g) => g.member);
    expect(members).toEqual([
      expect.stringMatching(/^\$\{google_service_account\.[^}]+\.member\}$/),
      "serviceAccount:ci@p.iam.gserviceaccount.com",
    ]);
  });

  it("fails if a secret names a reader that is neither created nor external", () => {
    expect(() => build(["api", "edge"])).toThrow(
      "SecretManagerSecrets s: 'secrets.*.readers' names readers with no account (got k: edge). Add them to readerAccounts or externalReaders.",
    );
    expect(() => build(["migrate"], { edge: "serviceAccount:ci@p.iam.gserviceaccount.com" })).toThrow("(got k: migrate)");
  });
});

/**
 * The pre-deployment checklist: every item passes on a good environment (a realistic config,
 * synthesized in-process) and fails on a broken one (a config field, a plan file or a certificate
 * changed at a time, in temp directories).
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { preflightCommand } from "../../app/preflight-command.ts";
import { validateConfig } from "../../config/load.ts";
import type { PlueConfig } from "../../config/schema.ts";
import { REPO_ROOT } from "../../lib/paths.ts";
import {
  checkCertificates,
  checkDeployIdentity,
  checkDeployOrder,
  checkImages,
  checkPlaceholders,
  checkPosture,
  checkSecrets,
  checkStateBackend,
  formatPreflight,
  runPreflight,
} from "../../review/preflight.ts";
import { loadPlan } from "../../review/plan-model.ts";
import { synthesizeTo } from "../support/build.ts";
import { exampleConfig, exampleRaw } from "../support/config.ts";
import { planDir } from "../support/plan.ts";

const root = mkdtempSync(join(tmpdir(), "plue-preflight-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const DIGEST = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
/** A realistic environment: no placeholder anywhere it matters. */
function goodRaw(): Record<string, any> {
  const raw = exampleRaw();
  raw.environment = "staging";
  raw.project.id = "plue-staging-4821";
  raw.state.bucket = "plue-staging-4821-tfstate";
  raw.edge.domain = "plue.dev";
  raw.edge.cloudflareZoneId = "0123456789abcdef0123456789abcdef";
  raw.pki.organization = "Plue";
  raw.pki.originHostnames = ["plue.dev", "*.plue.dev"];
  raw.images = {
    api: `ghcr.io/plue/api@${DIGEST}`,
    runner: `ghcr.io/plue/runner@${DIGEST}`,
    migrate: `docker.io/library/postgres:17-alpine@${DIGEST}`,
  };
  raw.egressGateway.image = `docker.io/nginxinc/nginx-unprivileged:1.29-alpine@${DIGEST}`;
  raw.ci = { repositoryId: "812345678", repositoryOwnerId: "1234567", branch: "main" };
  return raw;
}
const good: PlueConfig = validateConfig(goodRaw(), "config/staging.yaml", "staging");
const goodDir = synthesizeTo(good, join(root, "good"));
const goodPlan = loadPlan(goodDir);
const NOW = new Date("2026-11-30T00:00:00Z");

/** A copy of the good plan with `edit` applied to one stack's cdk.tf.json. */
function editedPlan(name: string, stackName: string, edit: (tf: Record<string, any>) => void): string {
  const dir = join(root, name);
  cpSync(goodDir, dir, { recursive: true });
  const file = join(dir, "stacks", stackName, "cdk.tf.json");
  const tf = JSON.parse(readFileSync(file, "utf8")) as Record<string, any>;
  edit(tf);
  writeFileSync(file, JSON.stringify(tf));
  return dir;
}

/** A plan directory holding exactly these stacks (name → cdk.tf.json) and dependencies. */
function fragmentPlan(name: string, stacks: Record<string, { deps: string[]; tf: Record<string, unknown> }>): string {
  const dir = join(root, name);
  const manifest: Record<string, unknown> = {};
  for (const [s, { deps, tf }] of Object.entries(stacks)) {
    mkdirSync(join(dir, "stacks", s), { recursive: true });
    writeFileSync(join(dir, "stacks", s, "cdk.tf.json"), JSON.stringify(tf));
    manifest[s] = { dependencies: deps, synthesizedStackPath: `stacks/${s}/cdk.tf.json` };
  }
  writeFileSync(join(dir, "manifest.json"), JSON.stringify({ stacks: manifest }));
  return dir;
}

describe("preflight: no placeholder values", () => {
  it("passes on a real environment", () => {
    expect(checkPlaceholders(good)).toMatchObject({ ok: true });
  });

  it("fails on the example, naming every placeholder", () => {
    const i = checkPlaceholders(exampleConfig());
    expect(i.ok).toBe(false);
    expect(i.details).toEqual([
      "'project.id' holds a placeholder (got plue-example)",
      "'state.bucket' holds a placeholder (got plue-example-tfstate)",
      "'edge.domain' holds a placeholder (got plue.example.com)",
      "'pki.organization' holds a placeholder (got Plue Example)",
      "'pki.originHostnames[0]' holds a placeholder (got plue.example.com)",
      "'pki.originHostnames[1]' holds a placeholder (got *.plue.example.com)",
      "'edge.cloudflareZoneId' holds a placeholder (got 00000000000000000000000000000000)",
      `'images.api' carries a placeholder digest (got ghcr.io/plue/api@sha256:${"0".repeat(64)})`,
      `'images.runner' carries a placeholder digest (got ghcr.io/plue/runner@sha256:${"0".repeat(64)})`,
      `'images.migrate' carries a placeholder digest (got docker.io/library/postgres:17-alpine@sha256:${"0".repeat(64)})`,
      `'egressGateway.image' carries a placeholder digest (got docker.io/nginxinc/nginx-unprivileged:1.29-alpine@sha256:${"0".repeat(64)})`,
      "'ci.repositoryId' holds a placeholder id (got 0)",
      "'ci.repositoryOwnerId' holds a placeholder id (got 0)",
    ]);
  });

  it.each([
    ["project.id", (r: any) => (r.project.id = "plue-changeme")],
    ["state.bucket", (r: any) => (r.state.bucket = "todo-tfstate")],
    ["ci.repositoryOwnerId", (r: any) => (r.ci.repositoryOwnerId = "0")],
  ])("fails on a single placeholder in %s", (field, mutate) => {
    const raw = goodRaw();
    mutate(raw);
    const i = checkPlaceholders(validateConfig(raw, "config/staging.yaml", "staging"));
    expect(i.ok).toBe(false);
    expect(i.details).toEqual([expect.stringContaining(`'${field}'`)]);
  });
});

describe("preflight: every required secret declared", () => {
  it("passes on a real environment", () => {
    expect(checkSecrets(good, goodPlan)).toEqual({
      id: "secrets",
      title: "Every required Secret Manager secret is declared",
      ok: true,
      details: ["7 configured, 8 created, 11 reads resolved"],
    });
  });

  it("fails when the plan does not create a configured secret that Terraform and External Secrets read", () => {
    const dir = editedPlan("no-origin-key", "secrets", (tf) => {
      const secrets = tf.resource.google_secret_manager_secret as Record<string, any>;
      for (const [id, s] of Object.entries(secrets)) if (s.secret_id === "plue-origin-key") delete secrets[id];
    });
    const i = checkSecrets(good, loadPlan(dir));
    expect(i.ok).toBe(false);
    expect(i.details).toEqual([
      "secret plue-origin-key ('secrets.items.origin-key') is not created by the plan",
      expect.stringMatching(
        /^edge: data\.google_secret_manager_secret_version\.origin-key reads secret plue-origin-key, which the plan does not create$/,
      ),
    ]);
  });

  it("fails when an ExternalSecret reads a secret the plan does not create", () => {
    const dir = join(root, "stray-external-secret");
    cpSync(goodDir, dir, { recursive: true });
    writeFileSync(
      join(dir, "k8s", "stray.k8s.yaml"),
      stringify({
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { name: "stray", namespace: "api" },
        spec: { data: [{ secretKey: "X", remoteRef: { key: "plue-nowhere" } }] },
      }),
    );
    expect(checkSecrets(good, loadPlan(dir)).details).toEqual([
      "k8s/stray.k8s.yaml: ExternalSecret stray reads secret plue-nowhere, which the plan does not create",
    ]);
  });
});

describe("preflight: certificates", () => {
  const pki = good.pki.publicDir;
  it("passes while the committed certificates stay valid beyond the window", () => {
    const i = checkCertificates(good, REPO_ROOT, NOW, 30);
    expect(i).toEqual({
      id: "certificates",
      title: "Certificates valid beyond 30 days",
      ok: true,
      details: ["ca.pem valid until 2036-11-19 (3642 days)", "client.pem valid until 2027-11-22 (357 days)"],
    });
  });

  it("fails when a certificate expires within the window, naming it and its date", () => {
    const i = checkCertificates(good, REPO_ROOT, NOW, 400);
    expect(i.ok).toBe(false);
    expect(i.details).toEqual([`${pki}/client.pem expires in 357 days (2027-11-22T08:31:13.000Z), within 400. Rotate it (pki/README.md).`]);
  });

  it("fails when a certificate has expired, and when one is not valid yet", () => {
    expect(checkCertificates(good, REPO_ROOT, new Date("2028-01-01T00:00:00Z"), 30).details).toEqual([
      `${pki}/client.pem expired on 2027-11-22T08:31:13.000Z. Issue a new one (pki/README.md).`,
    ]);
    expect(checkCertificates(good, REPO_ROOT, new Date("2020-01-01T00:00:00Z"), 30).details).toEqual([
      expect.stringMatching(new RegExp(`^${pki}/ca\\.pem is not valid before `)),
      expect.stringMatching(new RegExp(`^${pki}/client\\.pem is not valid before `)),
    ]);
  });

  it("fails when the client certificate is not the CA's, and when a file is missing", () => {
    const dir = join(root, "certs");
    mkdirSync(join(dir, pki), { recursive: true });
    const client = readFileSync(join(REPO_ROOT, pki, "client.pem"));
    writeFileSync(join(dir, pki, "client.pem"), client);
    expect(checkCertificates(good, dir, NOW, 30).details).toEqual([
      `${pki}/ca.pem is missing. Run \`npm run pki -- publish --env staging\`.`,
    ]);
    writeFileSync(join(dir, pki, "ca.pem"), client); // a certificate that did not sign the client's
    expect(checkCertificates(good, dir, NOW, 30).details).toEqual([
      `${pki}/client.pem is not signed by ca.pem. Issue it again with this environment's CA.`,
    ]);
  });
});

describe("preflight: state backend", () => {
  it("passes: every stack in the environment's bucket under its prefix; the bucket CMEK-encrypted, versioned, private", () => {
    expect(checkStateBackend(good, goodPlan)).toMatchObject({
      ok: true,
      details: ["8 stacks in gs://plue-staging-4821-tfstate/staging/<stack>, CMEK, versioned, private"],
    });
  });

  it("fails when bootstrap still keeps its state locally (state.bootstrapBackend: local, as synthesized)", () => {
    const dir = editedPlan("local-bootstrap", "bootstrap", (tf) => {
      tf.terraform.backend = { local: { path: "bootstrap.tfstate" } };
    });
    expect(checkStateBackend(good, loadPlan(dir)).details).toEqual([
      "stack bootstrap keeps its state in a local backend, not gcs (set 'state.bootstrapBackend' to gcs and migrate: README)",
    ]);
  });

  it("fails on another bucket or prefix", () => {
    const dir = editedPlan("wrong-backend", "network", (tf) => {
      tf.terraform.backend.gcs = { bucket: "someone-else", prefix: "prod/network" };
    });
    expect(checkStateBackend(good, loadPlan(dir)).details).toEqual([
      "stack network: state bucket someone-else is not 'state.bucket' (plue-staging-4821-tfstate)",
      "stack network: state prefix prod/network is not staging/network",
    ]);
  });

  it("fails when the state bucket loses its key, its versioning or its public access prevention", () => {
    const dir = editedPlan("weak-bucket", "bootstrap", (tf) => {
      const b = tf.resource.google_storage_bucket["state-bucket"];
      delete b.encryption;
      b.versioning = { enabled: false };
      b.public_access_prevention = "inherited";
    });
    expect(checkStateBackend(good, loadPlan(dir)).details).toEqual([
      "state bucket plue-staging-4821-tfstate is not encrypted with a KMS key of the plan (got null)",
      "state bucket plue-staging-4821-tfstate is not versioned",
      "state bucket plue-staging-4821-tfstate does not enforce public access prevention",
    ]);
  });
});

describe("preflight: posture review", () => {
  it("passes when every posture, cross-layer and readiness rule passes on the good environment's plan", () => {
    const i = checkPosture(goodPlan, good, "2026-11-30");
    expect(i.details).toEqual([expect.stringMatching(/^\d+ rules, \d+ findings: none failing \(2 suppressed\)$/)]);
    expect(i.ok).toBe(true);
  });

  it("fails naming each failing rule and resource (a retired GKE setting, DR012)", () => {
    const dir = editedPlan("posture-bad", "cluster", (tf) => {
      const cluster = Object.values(tf.resource.google_container_cluster)[0] as Record<string, any>;
      cluster.security_posture_config = { mode: "BASIC", vulnerability_mode: "VULNERABILITY_BASIC" };
    });
    const i = checkPosture(loadPlan(dir), good, "2026-11-30");
    expect(i.ok).toBe(false);
    expect(i.details.some((d) => d.startsWith("DR012 cluster google_container_cluster."))).toBe(true);
  });

  it("fails when a suppression the environment relies on has expired", () => {
    const suppressions = good.review.suppressions;
    expect(suppressions.length).toBeGreaterThan(0);
    const i = checkPosture(goodPlan, good, "2099-01-01");
    expect(i.ok).toBe(false);
    expect(i.details.filter((d) => d.startsWith("suppression of ")).length).toBe(suppressions.length);
  });
});

describe("preflight: images pinned by digest", () => {
  it("passes when every container is pinned by a real digest", () => {
    expect(checkImages(goodPlan)).toEqual({
      id: "images",
      title: "Images pinned by digest",
      ok: true,
      // The API, the runner template, the schema Job and the egress gateway's nginx.
      details: ["4 containers pinned by digest"],
    });
  });

  it("fails on placeholder digests (the example) and on a tag", () => {
    expect(checkImages(loadPlan(planDir())).details).toHaveLength(4);
    const dir = join(root, "tagged");
    cpSync(goodDir, dir, { recursive: true });
    const file = join(dir, "k8s", "api.k8s.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace(`ghcr.io/plue/api@${DIGEST}`, "ghcr.io/plue/api:latest"));
    expect(checkImages(loadPlan(dir)).details).toEqual([
      "k8s/api.k8s.yaml: Deployment api: container api image is not pinned by digest (got ghcr.io/plue/api:latest)",
    ]);
  });
});

describe("preflight: deploy identity", () => {
  it("passes when the provider pins the configured repository, owner, branch and environment", () => {
    expect(checkDeployIdentity(good, goodPlan)).toEqual({
      id: "deploy-identity",
      title: "Deploy identity pinned to the repository, branch and environment",
      ok: true,
      details: ["repository 812345678 of owner 1234567, refs/heads/main, environments staging and staging-plan"],
    });
  });

  it("fails with placeholder ids (the example): no job could deploy", () => {
    expect(checkDeployIdentity(exampleConfig(), loadPlan(planDir())).details).toEqual([
      "provider github_provider_BE3EB914: 'ci.repositoryId' is a placeholder (got 0): no job can deploy",
      "provider github_provider_BE3EB914: 'ci.repositoryOwnerId' is a placeholder (got 0): no job can deploy",
    ]);
  });

  it("fails when the condition is gone or loses a pin", () => {
    const loose = editedPlan("loose-condition", "bootstrap", (tf) => {
      const p = Object.values(tf.resource.google_iam_workload_identity_pool_provider)[0] as Record<string, any>;
      p.attribute_condition = "assertion.repository_owner_id == '1234567'";
    });
    expect(checkDeployIdentity(good, loadPlan(loose)).details).toEqual([
      "provider github_provider_BE3EB914: a clause of the condition does not pin assertion.repository_id == '812345678'",
      "provider github_provider_BE3EB914: no clause pins environment staging on refs/heads/main",
    ]);
    const none = editedPlan("no-condition", "bootstrap", (tf) => {
      const p = Object.values(tf.resource.google_iam_workload_identity_pool_provider)[0] as Record<string, any>;
      delete p.attribute_condition;
    });
    expect(checkDeployIdentity(good, loadPlan(none)).details[0]).toBe(
      "provider github_provider_BE3EB914 has no attribute condition: every GitHub repository could exchange tokens",
    );
  });

  it("fails when someone else may impersonate a CI account, on a key, and on a basic role", () => {
    const dir = editedPlan("wide-identity", "bootstrap", (tf) => {
      tf.resource.google_service_account_iam_member.extra = {
        service_account_id: "${google_service_account.ci-identity.name}",
        role: "roles/iam.serviceAccountTokenCreator",
        member: "user:someone@plue.dev",
      };
      tf.resource.google_service_account_key = { k: { service_account_id: "${google_service_account.ci-identity.name}" } };
      tf.resource.google_project_iam_member.owner = { project: "p", role: "roles/owner", member: "user:someone@plue.dev" };
    });
    expect(checkDeployIdentity(good, loadPlan(dir)).details).toEqual([
      "plue-ci grants roles/iam.serviceAccountTokenCreator to user:someone@plue.dev: only the GitHub pool's principal set may impersonate it",
      "bootstrap: google_service_account_key.k creates a key",
      "bootstrap: google_project_iam_member.owner grants the basic role roles/owner",
    ]);
  });
});

describe("preflight: deploy order", () => {
  it("passes with the plan's order", () => {
    expect(checkDeployOrder(goodDir).details).toEqual(["bootstrap → network → cluster → secrets → data → platform → workloads → edge"]);
  });

  it("fails on a cycle and on an unknown dependency", () => {
    const tf = { resource: {} };
    expect(checkDeployOrder(fragmentPlan("cycle", { a: { deps: ["b"], tf }, b: { deps: ["a"], tf } })).details).toEqual([
      "manifest.json: the stacks a, b depend on each other in a cycle. Break the cycle.",
    ]);
    expect(checkDeployOrder(fragmentPlan("unknown", { a: { deps: ["zz"], tf } })).details).toEqual([
      "manifest.json: stack 'a' depends on 'zz', which is not a stack. Synthesize again.",
    ]);
  });
});

describe("npm run preflight", () => {
  const configDir = join(root, "config");
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, "staging.yaml"), stringify(goodRaw()));
  cpSync(join(REPO_ROOT, "config", "example.yaml"), join(configDir, "example.yaml"));
  const run = (...argv: string[]) => preflightCommand(argv, { cwd: root, now: NOW });

  it("passes every item on a good environment: prints a ✓ line per item and exits 0", () => {
    const r = run("--env", "staging", "--config-dir", configDir, "--plan", goodDir);
    const report = runPreflight({ config: good, planDir: goodDir, repoRoot: REPO_ROOT, now: NOW, warnDays: 30 });
    expect(report.items.filter((i) => !i.ok)).toEqual([]);
    expect(r).toEqual({ code: 0, stdout: formatPreflight(report), stderr: "" });
    expect(r.stdout.split("\n").filter((l) => /^[✓✗] /.test(l))).toEqual([
      "✓ No placeholder values",
      "✓ Every required Secret Manager secret is declared",
      "✓ Certificates valid beyond 30 days",
      "✓ State backend configured and encrypted",
      "✓ Posture review passing",
      "✓ Images pinned by digest",
      "✓ Deploy identity pinned to the repository, branch and environment",
      "✓ Stacks have a dependency order",
    ]);
    expect(r.stdout.endsWith("all 8 checks passed\n")).toBe(true);
  });

  it("exits 1 on the example, with --json for scripts", () => {
    const r = run("--env", "example", "--config-dir", configDir, "--plan", planDir(), "--json");
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as { ok: boolean; items: { id: string; ok: boolean }[] };
    expect(json.ok).toBe(false);
    expect(json.items.map((i) => i.id)).toEqual([
      "placeholders",
      "secrets",
      "certificates",
      "state-backend",
      "posture",
      "images",
      "deploy-identity",
      "deploy-order",
    ]);
    expect(json.items.filter((i) => !i.ok).map((i) => i.id)).toEqual(["placeholders", "images", "deploy-identity"]);
  });

  it.each([
    [["--plan", "x"], "preflight: '--env' is required (got nothing). Name the environment to check, e.g. --env prod.\n"],
    [
      ["--env", "staging", "--warn-days", "soon"],
      "preflight: '--warn-days' is not a whole number of days from 0 to 3650 (got soon). Use e.g. --warn-days 30.\n",
    ],
    [["--env", "staging", "--bogus"], "preflight: '--bogus' is not a known option (got --bogus). See npm run preflight -- --help.\n"],
    [
      ["--env", "staging", "--plan", "nowhere"],
      "preflight: '--plan' holds no synthesized plan (got nowhere, no manifest.json). Run `npm run synth -- --env staging` first.\n",
    ],
  ])("exits 2 on a usage error, one line in the project's shape: %j", (argv, message) => {
    const r = run(...argv);
    expect(r).toEqual({ code: 2, stdout: "", stderr: message });
  });

  it("exits 2 on an invalid configuration, naming the field", () => {
    const raw = goodRaw();
    raw.ci.branch = "bad branch";
    writeFileSync(join(configDir, "staging.yaml"), stringify(raw));
    const r = run("--env", "staging", "--config-dir", configDir, "--plan", goodDir);
    writeFileSync(join(configDir, "staging.yaml"), stringify(goodRaw()));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'ci.branch' is not a branch name");
  });
});

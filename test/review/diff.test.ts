/**
 * What the change does: on real git history in a temporary repository (a tiny synth script, so
 * it stays fast), one resource added, removed, changed and replaced, and the stateful replace
 * called out; `terraform show -json` plans; the ForceNew semantics; and once, the real --base path
 * against this repository's own HEAD.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../lib/paths.ts";
import { synthesizeBase } from "../../review/diff/base.ts";
import { FORCE_NEW } from "../../review/diff/force-new-table.ts";
import { diffPlans, readTerraformPlans, replacingPaths } from "../../review/diff/plan-diff.ts";
import { loadPlan } from "../../review/plan-model.ts";
import { type ReviewResult, runReview } from "../../review/run.ts";
import { exampleConfig } from "../support/config.ts";
import { planDir } from "../support/plan.ts";

const work = mkdtempSync(join(tmpdir(), "plue-review-diff-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sh(cwd: string, cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}
const git = (cwd: string, ...args: string[]) => sh(cwd, "git", ["-c", "user.email=review@test", "-c", "user.name=review test", ...args]);

/** The tiny synth: writes plan.json as the one stack `data` into $CDKTF_OUTDIR (default cdktf.out). */
const SYNTH = `import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
const out = process.env.CDKTF_OUTDIR ?? "cdktf.out";
if (!process.argv.includes("--env")) throw new Error("no --env");
mkdirSync(out + "/stacks/data", { recursive: true });
writeFileSync(out + "/stacks/data/cdk.tf.json", readFileSync("plan.json", "utf8"));
writeFileSync(out + "/manifest.json", JSON.stringify({ stacks: { data: { dependencies: [], synthesizedStackPath: "stacks/data/cdk.tf.json" } } }));
`;

const firewall = (name: string, priority: number) => ({
  name,
  network: "vpc",
  direction: "INGRESS",
  priority,
  deny: [{ protocol: "all" }],
  source_ranges: ["0.0.0.0/0"],
});
const database = (region: string) => ({ name: "pg", region, database_version: "POSTGRES_16", settings: { tier: "db-custom-2-7680" } });
const basePlan = {
  resource: {
    google_compute_firewall: { removed: firewall("fw-old", 1000), changed: firewall("fw", 1000) },
    google_sql_database_instance: { db: database("us-central1") },
    google_storage_bucket: { kept: { name: "state", location: "US" } },
  },
};
const headPlan = {
  resource: {
    google_compute_firewall: { added: firewall("fw-new", 500), changed: firewall("fw", 900) },
    google_sql_database_instance: { db: database("europe-west1") },
    google_storage_bucket: { kept: { name: "state", location: "US" } },
  },
};

/** A repository with two commits (base plan, head plan) and the head synthesized. */
function repository(): { repo: string; head: string } {
  const repo = join(work, "repo");
  mkdirSync(repo);
  git(repo, "init", "--quiet", "--initial-branch=main");
  writeFileSync(
    join(repo, "package.json"),
    JSON.stringify({ name: "tiny", private: true, type: "module", scripts: { synth: "node synth.mjs" } }),
  );
  writeFileSync(join(repo, "synth.mjs"), SYNTH);
  writeFileSync(join(repo, ".gitignore"), "cdktf.out/\nnode_modules\n");
  writeFileSync(join(repo, "plan.json"), JSON.stringify(basePlan));
  git(repo, "add", ".");
  git(repo, "commit", "--quiet", "-m", "base");
  writeFileSync(join(repo, "plan.json"), JSON.stringify(headPlan));
  git(repo, "commit", "--quiet", "-am", "head");
  sh(repo, "npm", ["run", "--silent", "synth", "--", "--env", "example"]);
  return { repo, head: join(repo, "cdktf.out") };
}

describe("--base on real git history", () => {
  let repo: string;
  let review: ReviewResult;
  beforeAll(async () => {
    const r = repository();
    repo = r.repo;
    review = await runReview({
      synthDir: r.head,
      config: exampleConfig(),
      base: "HEAD~1",
      repoDir: repo,
      outDir: join(work, "out-base"),
      today: "2026-12-01",
    });
  });

  it("synthesizes the base commit in a temporary worktree with its own synth, and removes the worktree", () => {
    expect(review.report?.changes?.commit).toBe(git(repo, "rev-parse", "HEAD~1"));
    expect(git(repo, "worktree", "list").split("\n")).toHaveLength(1);
  });

  it("lists one resource added, removed, changed (with its attributes) and replaced (with the ForceNew attribute)", () => {
    const changes = review.report?.changes;
    expect(changes?.resources.map((c) => [c.action, c.address, c.attributes, c.replaceBecause, c.stateful])).toEqual([
      ["create", "google_compute_firewall.added", [], [], false],
      ["update", "google_compute_firewall.changed", ["priority"], [], false],
      ["replace", "google_sql_database_instance.db", ["region"], ["region"], true],
      ["delete", "google_compute_firewall.removed", [], [], false],
    ]);
    expect(changes?.counts).toEqual({ create: 1, update: 1, replace: 1, delete: 1 });
  });

  it("calls the stateful replace out on top of the terminal text and the Markdown", () => {
    expect(review.report?.changes?.statefulLosses.map((c) => c.address)).toEqual(["google_sql_database_instance.db"]);
    expect(review.text.split("\n").slice(2, 4)).toEqual([
      "STATEFUL RESOURCES DESTROYED OR REPLACED (1):",
      "  replace data google_sql_database_instance.db: region (ForceNew: region)",
    ]);
    expect(readFileSync(join(work, "out-base", "review.md"), "utf8")).toContain(
      "> [!CAUTION]\n> This change destroys or replaces 1 stateful resource(s):\n> - **replace** `data google_sql_database_instance.db` (ForceNew: region)",
    );
  });
});

describe("ForceNew semantics", () => {
  it("replaces a pool when a ForceNew attribute changes, not when an updatable one does", () => {
    const pool = FORCE_NEW["google-beta/google_container_node_pool"];
    if (!pool) throw new Error("no pool entry");
    const before = { node_config: { machine_type: "n2-standard-4", sandbox_config: { sandbox_type: "gvisor" }, service_account: "a" } };
    expect(
      replacingPaths(pool.forceNew, pool.forceNew, before, { node_config: { ...before.node_config, machine_type: "n2-standard-8" } }),
    ).toEqual([]);
    expect(replacingPaths(pool.forceNew, pool.forceNew, before, { node_config: { ...before.node_config, service_account: "b" } })).toEqual([
      "node_config.service_account",
    ]);
    expect(
      replacingPaths(pool.forceNew, pool.forceNew, before, { node_config: { machine_type: "n2-standard-4", service_account: "a" } }),
    ).toEqual(["node_config.sandbox_config"]);
  });

  it("knows every resource type of the real plan (and reports a type it does not know)", () => {
    const plan = loadPlan(planDir());
    const types = [...new Set(plan.stacks.flatMap((s) => s.blocks.filter((b) => b.mode === "resource").map((b) => b.type)))];
    expect(types.filter((t) => FORCE_NEW[t] === undefined)).toEqual([]);
    const unknown = diffPlans(
      { dir: "", stacks: [], charts: [] },
      {
        dir: "",
        stacks: [
          {
            name: "s",
            dependencies: [],
            tf: {},
            blocks: [{ stack: "s", mode: "resource", type: "x_thing", name: "a", address: "x_thing.a", body: {} }],
            byAddress: new Map(),
          },
        ],
        charts: [],
      },
    );
    expect(unknown.map((c) => c.unknownType)).toEqual([true]);
  });
});

describe("--plan: terraform show -json", () => {
  it("reads actions, changed attributes and replace_paths per stack", () => {
    const dir = join(work, "plans");
    mkdirSync(dir);
    const rc = (address: string, type: string, actions: string[], before: unknown, after: unknown, replace_paths?: unknown) => ({
      address,
      mode: "managed",
      type,
      change: { actions, before, after, ...(replace_paths ? { replace_paths } : {}) },
    });
    writeFileSync(
      join(dir, "data.json"),
      JSON.stringify({
        format_version: "1.2",
        resource_changes: [
          rc("google_compute_firewall.added", "google_compute_firewall", ["create"], null, { name: "a" }),
          rc("google_compute_firewall.changed", "google_compute_firewall", ["update"], { priority: 1000 }, { priority: 900 }),
          rc("google_sql_database_instance.db", "google_sql_database_instance", ["delete", "create"], { region: "a" }, { region: "b" }, [
            ["region"],
          ]),
          rc("google_storage_bucket.old", "google_storage_bucket", ["delete"], { name: "b" }, null),
          rc("google_compute_network.vpc", "google_compute_network", ["no-op"], {}, {}),
          { address: "data.google_project.p", mode: "data", type: "google_project", change: { actions: ["read"] } },
        ],
      }),
    );
    expect(readTerraformPlans(dir).map((c) => [c.stack, c.action, c.address, c.attributes, c.replaceBecause, c.stateful])).toEqual([
      ["data", "create", "google_compute_firewall.added", [], [], false],
      ["data", "update", "google_compute_firewall.changed", ["priority"], [], false],
      ["data", "replace", "google_sql_database_instance.db", ["region"], ["region"], true],
      ["data", "delete", "google_storage_bucket.old", [], [], true],
    ]);
  });
});

describe("the real --base path", () => {
  it("synthesizes this repository's HEAD with its own npm run synth in a temporary worktree, then removes it", () => {
    const base = synthesizeBase("HEAD", REPO_ROOT, "example");
    const worktree = dirname(base.planDir);
    expect(git(REPO_ROOT, "worktree", "list")).toContain(worktree);
    try {
      expect(base.commit).toBe(git(REPO_ROOT, "rev-parse", "HEAD"));
      const plan = loadPlan(base.planDir);
      expect(plan.stacks.map((s) => s.name)).toEqual(loadPlan(planDir()).stacks.map((s) => s.name));
      expect(plan.stacks.every((s) => s.blocks.length > 0)).toBe(true);
    } finally {
      base.cleanup();
    }
    expect(git(REPO_ROOT, "worktree", "list")).not.toContain(worktree);
    expect(existsSync(worktree)).toBe(false);
  });
});

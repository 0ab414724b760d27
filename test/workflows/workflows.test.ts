/**
 * The GitHub workflows (.github/workflows): valid against GitHub's own workflow schema, every
 * action pinned to a commit, least permissions, one deploy at a time, no secret in a script, and
 * the deploy order read from the synthesized plan.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { stackOrderCommand } from "../../app/stack-order-command.ts";
import { exampleConfig } from "../support/config.ts";
import { planDir, stack, stackNames } from "../support/plan.ts";
import { workflowParser } from "../support/workflow-parser.ts";
import { REPO_ROOT } from "../../lib/paths.ts";

const DIR = join(REPO_ROOT, ".github", "workflows");
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith(".yml"))
  .sort();

interface Step {
  readonly name?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, unknown>;
  readonly env?: Record<string, string>;
  readonly if?: string;
}
interface Job {
  readonly permissions?: Record<string, string> | string;
  readonly environment?: string | { name: string };
  readonly concurrency?: { group: string; "cancel-in-progress"?: boolean };
  readonly steps: Step[];
  readonly needs?: string | string[];
  readonly if?: string;
}
interface Workflow {
  readonly on: Record<string, unknown>;
  readonly permissions?: Record<string, string>;
  readonly concurrency?: { group: string; "cancel-in-progress"?: boolean };
  readonly jobs: Record<string, Job>;
}

const text = (f: string) => readFileSync(join(DIR, f), "utf8");
const workflow = (f: string) => parse(text(f)) as Workflow;
const jobs = (f: string) => Object.entries(workflow(f).jobs);
const allSteps = () => FILES.flatMap((f) => jobs(f).flatMap(([job, j]) => j.steps.map((s) => ({ file: f, job, step: s }))));
const stepUsing = (j: Job, action: string) => j.steps.filter((s) => s.uses?.startsWith(`${action}@`));

async function schemaErrors(name: string, content: string): Promise<string[]> {
  const { parseWorkflow, NoOperationTraceWriter } = await workflowParser();
  const result = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  return result.context.errors.getErrors().map((e) => e.message);
}

describe("workflows", () => {
  it("are plan.yml, deploy.yml and drift.yml", () => {
    expect(FILES).toEqual(["deploy.yml", "drift.yml", "plan.yml"]);
  });

  it.each(FILES)("%s validates against GitHub's workflow schema (@actions/workflow-parser)", async (f) => {
    expect(await schemaErrors(f, text(f))).toEqual([]);
  });

  it("the schema check rejects a misspelt key, an unknown event and a bad permission (the validator is live)", async () => {
    const broken = text("deploy.yml")
      .replace("permissions: {}", "permisions: {}")
      .replace("  push:\n", "  pushh:\n")
      .replace("id-token: write", "id-token: admin");
    const errors = await schemaErrors("deploy.yml", broken);
    expect(errors.some((e) => e.includes("'permisions'"))).toBe(true);
    expect(errors.some((e) => e.includes("'pushh'"))).toBe(true);
    expect(errors.some((e) => e.includes("'admin'"))).toBe(true);
  });

  it("pin every action to a full commit SHA with its version in a comment", () => {
    const uses = FILES.flatMap((f) =>
      text(f)
        .split("\n")
        .filter((l) => /^\s*(-\s+)?uses:/.test(l)),
    );
    expect(uses.length).toBeGreaterThanOrEqual(15);
    for (const line of uses) expect(line).toMatch(/uses: [a-z0-9-]+\/[a-z0-9-]+(\/[a-z0-9-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    for (const { step } of allSteps()) if (step.uses) expect(step.uses).toMatch(/@[0-9a-f]{40}$/);
  });

  it("pin one version of each action across the workflows", () => {
    const byAction = new Map<string, Set<string>>();
    for (const { step } of allSteps()) {
      if (!step.uses) continue;
      const [action, sha] = step.uses.split("@") as [string, string];
      byAction.set(action, (byAction.get(action) ?? new Set()).add(sha));
    }
    for (const [action, shas] of byAction) expect([action, shas.size]).toEqual([action, 1]);
  });

  it.each(FILES)("%s grants nothing at the top level", (f) => {
    expect(workflow(f).permissions).toEqual({});
  });

  it("grant id-token: write only to the jobs that authenticate to Google Cloud, and only read otherwise", () => {
    for (const f of FILES) {
      for (const [name, j] of jobs(f)) {
        const perms = j.permissions;
        expect(typeof perms, `${f} ${name}`).toBe("object");
        const authenticates = stepUsing(j, "google-github-actions/auth").length > 0;
        const uploadsSarif = stepUsing(j, "github/codeql-action/upload-sarif").length > 0;
        const expected: Record<string, string> = { contents: "read" };
        if (authenticates) expected["id-token"] = "write";
        if (uploadsSarif) Object.assign(expected, { "security-events": "write", actions: "read" });
        expect([f, name, perms]).toEqual([f, name, expected]);
      }
    }
    // Each authenticating job is a job of its own: plan (planner), deploy and drift (deployer).
    const authJobs = FILES.flatMap((f) =>
      jobs(f)
        .filter(([, j]) => stepUsing(j, "google-github-actions/auth").length > 0)
        .map(([n]) => `${f}:${n}`),
    );
    expect(authJobs).toEqual(["deploy.yml:deploy", "drift.yml:drift", "plan.yml:plan"]);
  });

  it("authenticate through Workload Identity Federation only: no key, the account by environment variable", () => {
    for (const f of FILES) {
      for (const [, j] of jobs(f)) {
        for (const s of stepUsing(j, "google-github-actions/auth")) {
          expect(Object.keys(s.with ?? {}).sort()).toEqual(["service_account", "workload_identity_provider"]);
          expect(s.with?.workload_identity_provider).toBe("${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}");
          expect(s.with?.service_account).toBe(
            f === "plan.yml" ? "${{ vars.GCP_PLAN_SERVICE_ACCOUNT }}" : "${{ vars.GCP_DEPLOY_SERVICE_ACCOUNT }}",
          );
        }
      }
    }
    expect(FILES.map(text).join("\n")).not.toMatch(/credentials_json|GOOGLE_CREDENTIALS|service_account_key/);
  });

  it("never run on pull_request_target (a fork's code with this repository's secrets)", () => {
    for (const f of FILES) {
      expect(Object.keys(workflow(f).on)).not.toContain("pull_request_target");
      expect(text(f)).not.toMatch(/^\s*pull_request_target\s*:/m);
    }
    expect(Object.keys(workflow("plan.yml").on)).toEqual(["pull_request"]);
  });

  it("leave no GitHub token in the checkout", () => {
    const checkouts = allSteps().filter(({ step }) => step.uses?.startsWith("actions/checkout@"));
    expect(checkouts).toHaveLength(4);
    for (const { step } of checkouts) expect(step.with?.["persist-credentials"]).toBe(false);
  });

  it("expand no expression inside a script: secrets and inputs reach run steps through env only", () => {
    const runs = allSteps().filter(({ step }) => step.run !== undefined);
    expect(runs.length).toBeGreaterThan(15);
    for (const { file, step } of runs) expect([file, step.run]).not.toEqual([file, expect.stringContaining("${{")]);
  });

  it("never echo a secret: a script never names the variable that carries one", () => {
    const carriers = allSteps().filter(({ step }) => Object.values(step.env ?? {}).some((v) => String(v).includes("secrets.")));
    expect(carriers.length).toBe(3);
    for (const { step } of carriers) {
      for (const [name, value] of Object.entries(step.env ?? {})) {
        if (!String(value).includes("secrets.")) continue;
        expect(step.run).toBeDefined();
        expect(step.run).not.toContain(name);
      }
    }
  });

  it("take Node from .nvmrc (20)", () => {
    expect(readFileSync(join(REPO_ROOT, ".nvmrc"), "utf8")).toBe("20\n");
    const setups = allSteps().filter(({ step }) => step.uses?.startsWith("actions/setup-node@"));
    expect(setups).toHaveLength(4);
    for (const { step } of setups) expect(step.with).toEqual({ "node-version-file": ".nvmrc", cache: "npm" });
  });

  it("pin Terraform and disable its wrapper (exit codes and output pass through)", () => {
    const setups = allSteps().filter(({ step }) => step.uses?.startsWith("hashicorp/setup-terraform@"));
    expect(setups).toHaveLength(3);
    for (const { step } of setups) expect(step.with).toEqual({ terraform_version: "1.11.4", terraform_wrapper: false });
  });
});

describe("plan.yml", () => {
  const wf = workflow("plan.yml");
  const check = wf.jobs.check as Job;
  const plan = wf.jobs.plan as Job;
  const runs = (j: Job) => j.steps.map((s) => s.run ?? "").join("\n");

  it("tests, synthesizes and reviews against the target branch, then shows the review and uploads its SARIF", () => {
    // npm ci and npm test through the project's CI entry, which installs what the tests need first.
    expect(runs(check)).toContain("sudo --preserve-env=PATH,CI bash .ci/run");
    const entry = readFileSync(join(REPO_ROOT, ".ci", "run"), "utf8");
    expect(entry).toMatch(/^npm ci --no-audit --no-fund$/m);
    expect(entry).toMatch(/^npm test$/m);
    expect(runs(check)).toContain('npm run synth -- --env "$PLUE_ENV"');
    expect(runs(check)).toContain('npm run review -- --env "$PLUE_ENV" --base "origin/$BASE_REF"');
    expect(check.steps.find((s) => s.uses?.startsWith("actions/checkout@"))?.with?.["fetch-depth"]).toBe(0);
    expect(runs(check)).toContain('cat cdktf.out/review/review.md >>"$GITHUB_STEP_SUMMARY"');
    const sarif = stepUsing(check, "github/codeql-action/upload-sarif")[0];
    expect(sarif?.with?.sarif_file).toBe("cdktf.out/review/review.sarif");
    expect(sarif?.if).toContain("always()");
  });

  it("plans only after the checks, never for a fork, in the reviewed plan environment, and keeps the plans", () => {
    expect(plan.needs).toBe("check");
    expect(plan.if).toContain("github.event.pull_request.head.repo.full_name == github.repository");
    expect(plan.environment).toBe("${{ vars.PLUE_DEPLOY_ENVIRONMENT }}-plan");
    expect(runs(plan)).toContain(".github/scripts/plan-stacks.sh pr plans");
    const keep = stepUsing(plan, "actions/upload-artifact")[0];
    expect(keep?.with?.path).toBe("plans/");
  });
});

describe("deploy.yml", () => {
  const wf = workflow("deploy.yml");
  const deploy = wf.jobs.deploy as Job;
  const names = deploy.steps.map((s) => s.name ?? s.uses?.split("@")[0] ?? s.run ?? "");
  const index = (pred: (s: Step) => boolean) => deploy.steps.findIndex(pred);

  it("runs on a push to the protected branch and by hand with an environment input", () => {
    expect(wf.on).toEqual({
      push: { branches: [exampleConfig().ci.branch] },
      workflow_dispatch: {
        inputs: {
          environment: {
            description: "Environment to deploy (config/<name>.yaml; the GitHub environment of the same name)",
            required: true,
            type: "string",
          },
        },
      },
    });
  });

  it("deploys one environment at a time and never cancels a deploy in progress", () => {
    expect(wf.concurrency).toEqual({
      group: "deploy-${{ inputs.environment || vars.PLUE_DEPLOY_ENVIRONMENT }}",
      "cancel-in-progress": false,
    });
    for (const f of ["deploy.yml", "drift.yml"]) {
      expect(workflow(f).concurrency?.["cancel-in-progress"]).toBe(false);
      for (const [, j] of jobs(f)) expect(j.concurrency?.["cancel-in-progress"]).not.toBe(true);
    }
  });

  it("runs in the GitHub environment of the same name (its protection rules apply)", () => {
    expect(deploy.environment).toBe("${{ inputs.environment || vars.PLUE_DEPLOY_ENVIRONMENT }}");
  });

  it("synthesizes, runs the pre-deployment checklist, then authenticates, then deploys", () => {
    const synth = index((s) => s.run === 'npm run synth -- --env "$PLUE_ENV"');
    const preflight = index((s) => s.run === 'npm run preflight -- --env "$PLUE_ENV"');
    const auth = index((s) => !!s.uses?.startsWith("google-github-actions/auth@"));
    const apply = index((s) => !!s.run?.includes("cdktf deploy"));
    expect([synth, preflight, auth, apply].every((i) => i >= 0)).toBe(true);
    expect(synth < preflight && preflight < auth && auth < apply).toBe(true);
    expect(names).toContain("Pre-deployment checklist");
  });

  it("deploys exactly the stacks the plan orders, one at a time, auto-approved, from the synthesized plan", () => {
    const script = deploy.steps[index((s) => !!s.run?.includes("cdktf deploy"))]?.run ?? "";
    expect(script).toContain("mapfile -t stacks < <(npm run --silent stack-order -- --exclude bootstrap)");
    expect(script).toContain(
      'npx cdktf deploy "${stacks[@]}" --skip-synth --auto-approve --parallelism 1 --ignore-missing-stack-dependencies',
    );
    // No second, hand-written list: no script of the workflow names a stack but the one left out.
    const scripts = deploy.steps.map((s) => s.run ?? "").join("\n");
    for (const name of stackNames().filter((s) => s !== "bootstrap"))
      expect([name, new RegExp(`\\b${name}\\b`).test(scripts)]).toEqual([name, false]);
  });

  it("the order it deploys in puts every stack after the stacks it depends on (manifest.json)", () => {
    const result = stackOrderCommand(["--plan", planDir(), "--exclude", "bootstrap"]);
    expect(result.code).toBe(0);
    const order = result.stdout.trim().split("\n");
    const manifest = JSON.parse(readFileSync(join(planDir(), "manifest.json"), "utf8")) as {
      stacks: Record<string, { dependencies: string[] }>;
    };
    expect(new Set(order)).toEqual(new Set(Object.keys(manifest.stacks).filter((s) => s !== "bootstrap")));
    for (const [name, s] of Object.entries(manifest.stacks)) {
      if (name === "bootstrap") continue;
      for (const d of s.dependencies) if (d !== "bootstrap") expect(order.indexOf(d)).toBeLessThan(order.indexOf(name));
    }
    expect(order).toEqual(["network", "cluster", "secrets", "data", "platform", "workloads", "edge"]);
  });

  it("leaves out exactly the stack that holds its own identity, which depends on nothing", () => {
    const holders = stackNames().filter((s) => Object.keys(stack(s).resource ?? {}).includes("google_iam_workload_identity_pool_provider"));
    expect(holders).toEqual(["bootstrap"]);
    const manifest = JSON.parse(readFileSync(join(planDir(), "manifest.json"), "utf8")) as {
      stacks: Record<string, { dependencies: string[] }>;
    };
    expect(manifest.stacks.bootstrap?.dependencies).toEqual([]);
  });
});

describe("drift.yml", () => {
  const wf = workflow("drift.yml");
  const drift = wf.jobs.drift as Job;

  it("runs on a schedule (and by hand)", () => {
    expect(wf.on.schedule).toEqual([{ cron: "17 5 * * *" }]);
    expect(Object.keys(wf.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
  });

  it("plans every stack against live state with -detailed-exitcode and fails naming the drifted resources", () => {
    expect(drift.steps.some((s) => s.run === ".github/scripts/plan-stacks.sh drift drift")).toBe(true);
    const script = readFileSync(join(REPO_ROOT, ".github", "scripts", "plan-stacks.sh"), "utf8");
    expect(script).toContain("-detailed-exitcode");
    expect(script).toContain("resource_drift");
    expect(existsSync(join(REPO_ROOT, ".github", "scripts", "plan-stacks.sh"))).toBe(true);
  });
});

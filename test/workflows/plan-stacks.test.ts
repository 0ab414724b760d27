/**
 * .github/scripts/plan-stacks.sh, the plan and drift step of plan.yml and drift.yml, run for real
 * over the synthesized plan's manifest.json. Terraform cannot reach a backend here, so a stand-in
 * `terraform` on PATH answers `state list` (which stacks are applied), `plan` (which drifted) and
 * `show -json`, and logs every plan's arguments: what is tested is the script's order and decisions.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../lib/paths.ts";
import { planDir } from "../support/plan.ts";

const root = mkdtempSync(join(tmpdir(), "plue-plan-stacks-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const FAKE_TERRAFORM = `#!/usr/bin/env bash
dir="\${1#-chdir=}"; stack="$(basename "$dir")"; shift
case "$1" in
  init) exit 0 ;;
  state) if [[ " $APPLIED " == *" $stack "* ]]; then echo google_compute_network.vpc; fi; exit 0 ;;
  plan)
    echo "$stack $*" >>"$LOG"
    if [[ " $DRIFTED " == *" $stack "* ]]; then echo "Plan: 0 to add, 1 to change, 0 to destroy."; [[ "$*" == *-detailed-exitcode* ]] && exit 2; exit 0; fi
    echo "No changes. Your infrastructure matches the configuration."; exit 0 ;;
  show)
    echo '{"resource_drift":[{"address":"google_compute_firewall.deny","change":{"actions":["update"]}}],"resource_changes":[{"address":"google_compute_firewall.deny","change":{"actions":["update"]}},{"address":"google_compute_network.vpc","change":{"actions":["no-op"]}}]}' ;;
esac
`;

function run(mode: string, env: { APPLIED: string; DRIFTED?: string }) {
  const dir = mkdtempSync(join(root, `${mode}-`));
  const bin = join(dir, "bin");
  spawnSync("mkdir", ["-p", bin]);
  writeFileSync(join(bin, "terraform"), FAKE_TERRAFORM);
  chmodSync(join(bin, "terraform"), 0o755);
  const log = join(dir, "plans.log");
  writeFileSync(log, "");
  const out = join(dir, "out");
  const r = spawnSync("bash", [join(REPO_ROOT, ".github/scripts/plan-stacks.sh"), mode, out], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, PLAN_DIR: planDir(), LOG: log, DRIFTED: "", ...env },
  });
  return { status: r.status, stderr: r.stderr, summary: readFileSync(join(out, "summary.md"), "utf8"), log: readFileSync(log, "utf8") };
}

describe("plan-stacks.sh", () => {
  it("pr: plans, without refresh or lock, each stack whose predecessors are applied, in manifest order; skips the rest naming them", () => {
    const r = run("pr", { APPLIED: "bootstrap network" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.log.trim().split("\n")).toEqual(
      ["bootstrap", "network", "cluster", "secrets"].map((s) => `${s} plan -input=false -no-color -refresh=false -lock=false`),
    );
    expect(r.summary).toContain("| bootstrap | No changes. Your infrastructure matches the configuration. |");
    expect(r.summary).toContain("| cluster | No changes. Your infrastructure matches the configuration. |");
    expect(r.summary).toContain("| data | skipped: secrets not applied yet |");
    expect(r.summary).toContain("| platform | skipped: cluster data not applied yet |");
    expect(r.summary).toContain("| workloads | skipped: platform not applied yet |");
    expect(r.summary).toContain("| edge | skipped: secrets workloads not applied yet |");
  });

  it("drift: exits 2 and names the drifted resources when live state differs; plans every applied stack with -detailed-exitcode", () => {
    const all = "bootstrap network cluster secrets data platform workloads edge";
    const r = run("drift", { APPLIED: all, DRIFTED: "network" });
    expect(r.status, r.stderr).toBe(2);
    expect(
      r.log
        .trim()
        .split("\n")
        .map((l) => l.split(" ")[0]),
    ).toEqual(all.split(" "));
    for (const line of r.log.trim().split("\n")) expect(line).toContain("-detailed-exitcode");
    expect(r.summary).toContain("| network | **drift** |");
    expect(r.summary).toContain("| cluster | no drift |");
    expect(r.summary).toContain(
      "#### network\n- `google_compute_firewall.deny` changed outside Terraform (update)\n- `google_compute_firewall.deny`: the code would update",
    );
    expect(r.summary).not.toContain("google_compute_network.vpc");
  });
});

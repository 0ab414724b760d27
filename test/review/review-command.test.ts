/**
 * `npm run review` as the command runs it (the rules themselves: test/review/rules.test.ts; the
 * outputs: run.test.ts): the real synthesized plan, tampered copies of it, and bad usage. The
 * report files go to temp dirs (--out), never into the shared plan.
 */
import { generateKeyPairSync } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { reviewCommand } from "../../app/review-command.ts";
import { planDir } from "../support/plan.ts";

const work = mkdtempSync(join(tmpdir(), "plue-review-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function copyOfPlan(name: string): string {
  const dir = join(work, name);
  cpSync(planDir(), dir, { recursive: true });
  return dir;
}

/** Edits the workloads stack's kubernetes_manifest resources of a plan copy (what the review reads). */
function editWorkloads(dir: string, edit: (manifests: any[], tf: any) => void): void {
  const file = join(dir, "stacks", "workloads", "cdk.tf.json");
  const tf = JSON.parse(readFileSync(file, "utf8"));
  edit(Object.values(tf.resource.kubernetes_manifest), tf);
  writeFileSync(file, JSON.stringify(tf));
}

/** Reviews `dir` with the report written to a temp dir of its own. */
function reviewOf(dir: string, ...extra: string[]) {
  return reviewCommand(["--dir", dir, "--out", join(work, `out-${Math.random().toString(36).slice(2)}`), ...extra]);
}

describe("npm run review", () => {
  it("passes the synthesized example plan: every rule, key material and connectivity included", async () => {
    const out = join(work, "out-example");
    const r = await reviewCommand(["--dir", planDir(), "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("failing findings: none");
    expect(r.stdout).toContain("review passed");
    expect(readdirSync(out).sort()).toEqual(["review.html", "review.json", "review.md", "review.sarif"]);
  });

  it("prints the report as JSON for scripts", async () => {
    const report = JSON.parse((await reviewOf(planDir(), "--json")).stdout);
    expect(report.passed).toBe(true);
    expect(report.format).toBe("plue-review/1");
    expect(report.rules.find((r: { id: string }) => r.id === "NET03").status).toBe("pass");
    expect(report.connectivity.length).toBeGreaterThan(10);
  });

  it("fails if a private key reaches the plan, naming the file", async () => {
    const dir = copyOfPlan("leak");
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    writeFileSync(
      join(dir, "k8s", "leak.k8s.yaml"),
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\ndata:\n  key: |\n    ${key.split("\n").join("\n    ")}\n`,
    );
    const r = await reviewOf(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/SEC01 .*k8s\/leak\.k8s\.yaml/);
  });

  it("fails if a NetworkPolicy change breaks a promised flow", async () => {
    const dir = copyOfPlan("broken-dns");
    editWorkloads(dir, (manifests) => {
      const dns = manifests.find((m) => m.manifest.kind === "NetworkPolicy" && m.manifest.metadata.name === "api-egress-dns");
      if (!dns) throw new Error("no api-egress-dns policy in the workloads stack");
      dns.manifest.spec.egress[0].to[0].podSelector = { matchLabels: { "k8s-app": "not-dns" } };
    });
    const r = await reviewOf(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/NET03 .*api -> kube-dns:53\/UDP/);
  });

  it("fails if a NetworkPolicy gives runners DNS again (the exfiltration channel issue 15 closed)", async () => {
    const dir = copyOfPlan("runner-dns");
    editWorkloads(dir, (manifests, tf) => {
      const dns = manifests.find((m) => m.manifest.kind === "NetworkPolicy" && m.manifest.metadata.name === "api-egress-dns");
      if (!dns) throw new Error("no api-egress-dns policy in the workloads stack");
      const runnerDns = structuredClone(dns);
      runnerDns.manifest.metadata = { name: "runner-egress-dns", namespace: "runners" };
      runnerDns.manifest.spec.podSelector = { matchLabels: { "app.kubernetes.io/name": "runner" } };
      tf.resource.kubernetes_manifest["runner-egress-dns"] = runnerDns;
    });
    const r = await reviewOf(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/NET0[23] .*runner -> kube-dns:53\/UDP/);
    expect(r.stdout).toMatch(/NET0[23] .*runner -> kube-dns:53\/TCP/);
  });

  it("fails with exit 2 and the fix when there is no plan, writing nothing", async () => {
    const out = join(work, "out-none");
    const r = await reviewCommand(["--dir", join(work, "nothing"), "--out", out]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr: `review: '${join(work, "nothing")}' holds no synthesized plan (got no manifest.json). Run \`npm run synth -- --env example\` first.\n`,
    });
    expect(existsSync(out)).toBe(false);
  });

  it("fails with exit 2 when --base and --plan are both given", async () => {
    const r = await reviewOf(planDir(), "--base", "HEAD", "--plan", work);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("review: --base and --plan exclude each other. Pass one.\n");
  });

  it("prints its usage for --help and refuses unknown options", async () => {
    const help = await reviewCommand(["--help"]);
    expect(help.code).toBe(0);
    expect(
      help.stdout.startsWith(
        "Usage: npm run review -- [--env <name>] [--dir <dir>] [--base <ref> | --plan <dir>] [--out <dir>] [--json]\n",
      ),
    ).toBe(true);
    expect(help.stdout).toContain(
      "\nExit codes:\n  0  every rule passes (notes and suppressed findings do not fail)\n  1  a rule fails (naming rule and resource), or a suppression has expired\n",
    );
    expect(await reviewCommand(["--bogus"])).toEqual({
      code: 2,
      stdout: "",
      stderr: "review: '--bogus' is not a known option (got --bogus). See npm run review -- --help.\n",
    });
  });
});

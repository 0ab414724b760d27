/** `npm run review` over the real synthesized plan, and over tampered copies of it. */
import { generateKeyPairSync } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

describe("npm run review", () => {
  it("passes the synthesized example plan: no key material, every flow as promised", async () => {
    const r = await reviewCommand(["--plan", planDir()]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("key material: none found");
    expect(r.stdout).toMatch(/connectivity \(\d+ flows; all as promised\)/);
    expect(r.stdout).toContain("workloads");
  });

  it("prints JSON for scripts", async () => {
    const report = JSON.parse((await reviewCommand(["--plan", planDir(), "--json"])).stdout);
    expect(report.clean).toBe(true);
    expect(report.stacks.map((s: { name: string }) => s.name)).toContain("cluster");
    expect(report.connectivity.length).toBeGreaterThan(10);
  });

  it("fails if a private key reaches the plan, naming the file", async () => {
    const dir = copyOfPlan("leak");
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    writeFileSync(
      join(dir, "k8s", "leak.k8s.yaml"),
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\ndata:\n  key: |\n    ${key.split("\n").join("\n    ")}\n`,
    );
    const r = await reviewCommand(["--plan", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("k8s/leak.k8s.yaml:");
  });

  it("fails if a NetworkPolicy change breaks a promised flow", async () => {
    const dir = copyOfPlan("broken-dns");
    const file = join(dir, "k8s", "network-policies.k8s.yaml");
    writeFileSync(
      file,
      readFileSync(file, "utf8")
        .replace("name: api-egress-dns", "name: api-egress-dns-renamed")
        .replace(/k8s-app: kube-dns/g, "k8s-app: not-dns"),
    );
    const r = await reviewCommand(["--plan", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("expected allow: api -> kube-dns:53/UDP");
  });

  it("fails if a NetworkPolicy gives runners DNS again (the exfiltration channel issue 15 closed)", async () => {
    const dir = copyOfPlan("runner-dns");
    const file = join(dir, "k8s", "network-policies.k8s.yaml");
    const dns = [
      "---",
      "apiVersion: networking.k8s.io/v1",
      "kind: NetworkPolicy",
      "metadata: {name: runner-egress-dns, namespace: runners}",
      "spec:",
      "  podSelector: {matchLabels: {app.kubernetes.io/name: runner}}",
      "  policyTypes: [Egress]",
      "  egress:",
      "    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]",
      "      ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]",
      "",
    ].join("\n");
    writeFileSync(file, readFileSync(file, "utf8") + dns);
    const r = await reviewCommand(["--plan", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("expected deny: runner -> kube-dns:53/UDP");
    expect(r.stdout).toContain("expected deny: runner -> kube-dns:53/TCP");
  });

  it("fails with exit 2 and the fix when there is no plan", async () => {
    const r = await reviewCommand(["--plan", join(work, "nothing")]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr: `review: '--plan' holds no synthesized plan (got ${join(work, "nothing")}). Run \`npm run synth -- --env example\` first.\n`,
    });
  });

  it("prints its usage for --help and refuses unknown options", async () => {
    const help = await reviewCommand(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout.startsWith("Usage: npm run review -- [--env <name>] [--plan <dir>] [--json]\n")).toBe(true);
    expect(help.stdout).toContain(
      "\nExit codes:\n  0  clean: no key material, every flow as promised\n  1  key material found, or a flow differs from the promise\n  2  bad arguments, configuration, or no plan\n",
    );
    expect(await reviewCommand(["--bogus"])).toEqual({
      code: 2,
      stdout: "",
      stderr: "review: '--bogus' is not a known option (got --bogus). See npm run review -- --help.\n",
    });
  });
});

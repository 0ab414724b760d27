/** The synth command as users and CI run it: a real `main.ts` process, real files. */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { filesBelow } from "../review/key-scan.ts";
import { exampleRaw } from "./support/config.ts";
import { chartNames, planDir, stack, stackNames } from "./support/plan.ts";

const REPO = join(import.meta.dirname, "..");
const work = mkdtempSync(join(tmpdir(), "plue-synth-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function synth(args: string[], cwd = REPO) {
  return spawnSync(process.execPath, [join(REPO, "bin", "synth.mjs"), ...args], { cwd, encoding: "utf8" });
}

function tree(dir: string): Map<string, string> {
  return new Map(filesBelow(dir).map((f) => [relative(dir, f), readFileSync(f, "utf8")]));
}

function configDirWith(name: string, mutate: (c: Record<string, any>) => void): string {
  const dir = join(work, `config-${name}`);
  mkdirSync(dir, { recursive: true });
  const raw = exampleRaw();
  raw.environment = name;
  mutate(raw);
  writeFileSync(join(dir, `${name}.yaml`), stringify(raw));
  return dir;
}

describe("npm run synth", () => {
  it("writes every stack and every chart where the contract says", () => {
    expect(stackNames()).toEqual(expect.arrayContaining(["bootstrap", "network"]));
    expect(chartNames()).toEqual(expect.arrayContaining(["namespaces"]));
  });

  it("gives every stack a GCS backend with its own prefix", () => {
    const prefixes = stackNames().map((s) => stack(s).terraform.backend?.gcs?.prefix);
    expect(prefixes).toEqual(stackNames().map((s) => `example/${s}`));
  });

  it("pins every provider to an exact version", () => {
    for (const s of stackNames()) {
      for (const [name, p] of Object.entries(stack(s).terraform.required_providers ?? {})) {
        expect(p.version, `${s}: ${name}`).toMatch(/^\d+\.\d+\.\d+$/);
      }
    }
  });

  it("writes every depends_on as a plain resource address (Terraform rejects interpolations there)", () => {
    const addresses: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        for (const [k, v] of Object.entries(node)) {
          if (k === "depends_on" && Array.isArray(v)) addresses.push(...(v as string[]));
          else walk(v);
        }
      }
    };
    for (const s of stackNames()) walk(stack(s));
    expect(addresses.length).toBeGreaterThan(10);
    for (const a of addresses) expect(a).toMatch(/^(data\.)?[a-z0-9_]+\.[A-Za-z0-9_-]+$/);
  });

  it("produces byte-identical output on a second synth, from another working directory", () => {
    const out = join(work, "second");
    const run = synth(["--out", out], work);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(tree(out)).toEqual(tree(planDir()));
  });

  it("lets no absolute path, temp dir or hostname reach the output", () => {
    for (const [file, text] of tree(planDir())) {
      // (A bare "/tmp" is legitimate: containers mount an emptyDir there.)
      for (const leak of [REPO, planDir(), join(tmpdir(), "plue-"), "/home/", "/root/", `"${hostname()}"`]) {
        expect(text.includes(leak), `${file} contains ${leak}`).toBe(false);
      }
    }
  });

  it("keeps the bootstrap state in a relative local file for the first apply", () => {
    const out = join(work, "local-bootstrap");
    const run = synth([
      "--env",
      "first",
      "--config-dir",
      configDirWith("first", (c) => (c.state.bootstrapBackend = "local")),
      "--out",
      out,
    ]);
    expect(run.status).toBe(0);
    const tf = JSON.parse(readFileSync(join(out, "stacks", "bootstrap", "cdk.tf.json"), "utf8"));
    expect(tf.terraform.backend).toEqual({ local: { path: "bootstrap.tfstate" } });
  });

  it("prints its usage for --help", () => {
    const run = synth(["--help"]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("Usage: npm run synth -- [--env <name>] [--out <dir>]");
  });

  it("fails with exit 2 and its usage for an unknown option", () => {
    const run = synth(["--environment", "prod"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("Unknown option '--environment'");
  });

  it("fails if the environment file does not exist, saying how to add one", () => {
    const run = synth(["--env", "nope", "--out", join(work, "nope")]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("config/nope.yaml: does not exist. Create it from config/example.yaml");
  });

  it("fails on a broken config with every problem named, no stack trace, and the old output untouched", () => {
    const out = join(work, "kept");
    expect(synth(["--out", out]).status).toBe(0);
    const before = tree(out);
    const dir = configDirWith("broken", (c) => {
      delete c.project.id;
      c.project.region = "Mars-1";
      c.network.podCidr = c.network.nodeCidr;
    });
    const run = synth(["--env", "broken", "--config-dir", dir, "--out", out]);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("config/broken.yaml: 'project.id' is missing");
    expect(run.stderr).toContain(`config/broken.yaml: 'project.region' is not a Google Cloud region (got "Mars-1")`);
    expect(run.stderr).toContain("config/broken.yaml: 'network.podCidr' overlaps 'network.nodeCidr'");
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(tree(out)).toEqual(before);
    expect(filesBelow(work).some((f) => f.includes("staging"))).toBe(false);
  });

  it("fails with exit 2, naming the file and the pki command, when a public certificate is missing", () => {
    const dir = configDirWith("nocerts", (c) => (c.pki.publicDir = "config/pki/does-not-exist"));
    const out = join(work, "nocerts");
    const run = synth(["--env", "nocerts", "--config-dir", dir, "--out", out]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("in the environment's public certificates; nothing was written");
    expect(run.stderr).toContain("config/pki/does-not-exist/ca.pem");
    expect(run.stderr).toContain("npm run pki -- init-ca");
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(() => filesBelow(out)).toThrow();
  });

  it("writes nothing at all on a broken config when there was no output before", () => {
    const out = join(work, "never");
    const run = synth(["--env", "bad", "--config-dir", configDirWith("bad", (c) => (c.production = true)), "--out", out]);
    expect(run.status).toBe(2);
    expect(() => filesBelow(out)).toThrow();
  });
});

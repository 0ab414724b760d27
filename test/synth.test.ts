/**
 * The synth command: in-process through `synthCommand` for what it decides (validation, what it
 * writes), and as a real process exactly as `npm run synth` runs it (package.json's script) for
 * what only a process shows: byte-identical output in a fresh process from another directory,
 * exit codes, the stdout/stderr split, no stack trace. cdktf.json runs the same command.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { capture } from "../app/cli/kit.ts";
import { main, synthCommand } from "../app/synth-command.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import { filesBelow } from "../review/key-scan.ts";
import { exampleRaw } from "./support/config.ts";
import { hasStackTrace, npmScripts, runScript } from "./support/launcher.ts";
import { chartNames, planDir, stack, stackNames } from "./support/plan.ts";

const REPO = REPO_ROOT.replace(/\/$/, "");
const work = mkdtempSync(join(tmpdir(), "plue-synth-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** synth in-process. */
async function synth(args: string[], cwd = REPO) {
  const r = await synthCommand(args, { cwd });
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** synth as `npm run synth` runs it, with the test's environment minus CDKTF_OUTDIR. */
function synthProcess(args: string[], cwd = REPO) {
  const env = { ...process.env };
  delete env.CDKTF_OUTDIR;
  return runScript("synth", args, env, cwd);
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
  it("writes every stack and every chart where the contract says", async () => {
    expect(stackNames()).toEqual(expect.arrayContaining(["bootstrap", "network"]));
    expect(chartNames()).toEqual(expect.arrayContaining(["namespaces"]));
  });

  it("gives every stack a GCS backend with its own prefix", async () => {
    const prefixes = stackNames().map((s) => stack(s).terraform.backend?.gcs?.prefix);
    expect(prefixes).toEqual(stackNames().map((s) => `example/${s}`));
  });

  it("pins every provider to an exact version", async () => {
    for (const s of stackNames()) {
      for (const [name, p] of Object.entries(stack(s).terraform.required_providers ?? {})) {
        expect(p.version, `${s}: ${name}`).toMatch(/^\d+\.\d+\.\d+$/);
      }
    }
  });

  it("writes every depends_on as a plain resource address (Terraform rejects interpolations there)", async () => {
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

  it("produces byte-identical output on a second synth, in a fresh process from another working directory, without running Terraform", async () => {
    // PATH holds only a `terraform` that records being run and fails: synth must not need one
    // (cdktf's DataResource ran `terraform version` at every synth, and failed without it).
    const bin = join(work, "bin");
    const ran = join(work, "terraform-ran");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "terraform"), `#!/bin/sh\necho "$@" >> '${ran}'\nexit 1\n`, { mode: 0o755 });
    const out = join(work, "second");
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin };
    delete env.CDKTF_OUTDIR;
    const run = await runScript("synth", ["--out", out], env, work);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe(`synthesized environment 'example' to ${out}/\n`);
    expect(run.code).toBe(0);
    expect(existsSync(ran), "synth ran terraform").toBe(false);
    expect(tree(out)).toEqual(tree(planDir()));
  });

  it("is what cdktf.json's app runs, so cdktf deploy synthesizes exactly what was reviewed", async () => {
    const cdktf = JSON.parse(readFileSync(join(REPO, "cdktf.json"), "utf8")) as { app: string };
    expect(cdktf.app).toBe(npmScripts().synth);
    expect(cdktf.app).toBe("node --max-semi-space-size=2 bin/plue.mjs synth");
  });

  it("writes to CDKTF_OUTDIR when there is no --out (how cdktf synth and deploy pass it); --json lists what it wrote", async () => {
    const out = join(work, "from-cdktf");
    const r = await capture(main, ["--json"], { env: { CDKTF_OUTDIR: out }, cwd: work });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ environment: "example", out, stacks: stackNames(), charts: chartNames() });
    expect(tree(out)).toEqual(tree(planDir()));
  });

  it("lets no absolute path, temp dir or hostname reach the output", async () => {
    for (const [file, text] of tree(planDir())) {
      // (A bare "/tmp" is legitimate: containers mount an emptyDir there.)
      for (const leak of [REPO, planDir(), join(tmpdir(), "plue-"), "/home/", "/root/", `"${hostname()}"`]) {
        expect(text.includes(leak), `${file} contains ${leak}`).toBe(false);
      }
    }
  });

  it("synthesizes the environment PLUE_ENV names when there is no --env (how cdktf deploy, which passes no arguments, picks one); --env wins", async () => {
    const configDir = configDirWith("qa", (c) => (c.state.bucket = "plue-qa-state"));
    const out = join(work, "from-plue-env");
    const r = await capture((argv, io) => main(argv, io, { configDir }), ["--json"], {
      env: { PLUE_ENV: "qa", CDKTF_OUTDIR: out },
      cwd: work,
    });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout).environment).toBe("qa");
    expect(JSON.parse(readFileSync(join(out, "stacks", "network", "cdk.tf.json"), "utf8")).terraform.backend.gcs).toEqual({
      bucket: "plue-qa-state",
      prefix: "qa/network",
    });
    const explicit = await capture((argv, io) => main(argv, io, { configDir }), ["--env", "nowhere"], {
      env: { PLUE_ENV: "qa" },
      cwd: work,
    });
    expect(explicit.code).toBe(2);
    expect(explicit.stderr).toContain("config/nowhere.yaml: does not exist.");
  });

  it("keeps the bootstrap state in a relative local file for the first apply", async () => {
    const out = join(work, "local-bootstrap");
    const run = await synth([
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

  it("prints its usage for --help in the common layout", async () => {
    const run = await synth(["--help"]);
    expect(run).toEqual({
      status: 0,
      stderr: "",
      stdout: [
        "Usage: npm run synth -- [--env <name>] [--out <dir>] [--config-dir <dir>] [--json]",
        "",
        "Synthesizes the whole plan for one environment:",
        "  <out>/stacks/<stack>/cdk.tf.json   every cdktf stack",
        "  <out>/k8s/<chart>.k8s.yaml         every cdk8s chart",
        "Every input is validated first (the environment file, its public certificates, and the",
        "migrations the schema Job will run: squawk and db/lint.ts); every problem is reported at",
        "once. The output directory holds either the previous plan or the new one, never a mix.",
        "",
        "Options:",
        "      --env <name>        environment file config/<name>.yaml (default: $PLUE_ENV, else example)",
        "      --out <dir>         output directory (default: $CDKTF_OUTDIR, else cdktf.out)",
        "      --config-dir <dir>  directory of environment files (default: the repository's config/)",
        "      --json              print what was written as JSON: environment, out, stacks, charts",
        "  -h, --help              show this help",
        "",
        "Exit codes:",
        "  0  synthesized",
        "  1  internal failure; nothing was written",
        "  2  invalid arguments, configuration or migrations (the lint); nothing was written",
        "",
        "Examples:",
        "  npm run synth",
        "  npm run synth -- --env prod --out /tmp/prod.out",
        "  npm run synth -- --json",
        "",
      ].join("\n"),
    });
  });

  it("fails with exit 2 and one line for an unknown option, a missing value or a stray argument", async () => {
    expect(await synth(["--environment", "prod"])).toEqual({
      status: 2,
      stdout: "",
      stderr: "synth: '--environment' is not a known option (got --environment). See npm run synth -- --help.\n",
    });
    expect(await synth(["--out"])).toEqual({
      status: 2,
      stdout: "",
      stderr: "synth: '--out' needs a value (got nothing). Give --out <dir>; see npm run synth -- --help.\n",
    });
    expect(await synth(["prod"])).toEqual({
      status: 2,
      stdout: "",
      stderr: `synth: 'prod' is not an option (got "prod"). synth takes options only; see npm run synth -- --help.\n`,
    });
  });

  it("as a process: --help on stdout (exit 0); an unknown option is one line on stderr (exit 2), no stack trace", async () => {
    const [help, bad] = await Promise.all([synthProcess(["--help"]), synthProcess(["--environment", "prod"])]);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toBe((await synth(["--help"])).stdout);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toBe((await synth(["--environment", "prod"])).stderr);
  });

  it("as a process: a broken config exits 2 with every problem on stderr, nothing on stdout, no stack trace", async () => {
    const dir = configDirWith("broken-process", (c) => {
      delete c.project.id;
      c.network.podCidr = c.network.nodeCidr;
    });
    const run = await synthProcess(["--env", "broken-process", "--config-dir", dir, "--out", join(work, "broken-process-out")]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(
      /^2 problems in the configuration; nothing was written:\nconfig\/broken-process\.yaml: 'project\.id' is missing/,
    );
    expect(hasStackTrace(run.stderr)).toBe(false);
  });

  it("fails if the environment file does not exist, saying how to add one", async () => {
    const run = await synth(["--env", "nope", "--out", join(work, "nope")]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("config/nope.yaml: does not exist. Create it from config/example.yaml");
  });

  it("fails on a broken config with every problem named, no stack trace, and the old output untouched", async () => {
    const out = join(work, "kept");
    cpSync(planDir(), out, { recursive: true });
    const before = tree(out);
    const dir = configDirWith("broken", (c) => {
      delete c.project.id;
      c.project.region = "Mars-1";
      c.network.podCidr = c.network.nodeCidr;
    });
    const run = await synth(["--env", "broken", "--config-dir", dir, "--out", out]);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("config/broken.yaml: 'project.id' is missing");
    expect(run.stderr).toContain(`config/broken.yaml: 'project.region' is not a Google Cloud region (got "Mars-1")`);
    expect(run.stderr).toContain("config/broken.yaml: 'network.podCidr' overlaps 'network.nodeCidr'");
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(tree(out)).toEqual(before);
    expect(filesBelow(work).some((f) => f.includes("staging"))).toBe(false);
  });

  it("fails with exit 2, naming the file and the pki command, when a public certificate is missing", async () => {
    const dir = configDirWith("nocerts", (c) => (c.pki.publicDir = "config/pki/does-not-exist"));
    const out = join(work, "nocerts");
    const run = await synth(["--env", "nocerts", "--config-dir", dir, "--out", out]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("in the environment's public certificates; nothing was written");
    expect(run.stderr).toContain("config/pki/does-not-exist/ca.pem");
    expect(run.stderr).toContain("npm run pki -- init-ca");
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(() => filesBelow(out)).toThrow();
  });

  it("writes nothing at all on a broken config when there was no output before", async () => {
    const out = join(work, "never");
    const run = await synth(["--env", "bad", "--config-dir", configDirWith("bad", (c) => (c.production = true)), "--out", out]);
    expect(run.status).toBe(2);
    expect(() => filesBelow(out)).toThrow();
  });
});

describe("the test harness (test/support/build.ts)", () => {
  it("builds every stack exactly as npm run synth writes it, so tests of other environments test the product", async () => {
    const { stackFor } = await import("./support/build.ts");
    const { exampleConfig } = await import("./support/config.ts");
    const config = exampleConfig();
    for (const name of stackNames()) expect(stackFor(config, name), name).toEqual(stack(name));
  });
});

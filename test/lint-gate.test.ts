/**
 * The lint gate `npm test` runs first (`npm run lint`: Biome, the import boundaries, ShellCheck)
 * passes on the repository — that run is the gate itself. Here each tool is shown to FAIL on a
 * deliberately wrong file, with the repository's own configuration, so the gate cannot pass by
 * checking nothing. Files are written to temp dirs, never into the repository.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../lib/paths.ts";

const BIN = join(REPO_ROOT, "node_modules", ".bin");
const work = mkdtempSync(join(tmpdir(), "plue-lint-gate-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fresh temp tree holding `files` (relative path -> content) and the repository's config files. */
function tree(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  copyFileSync(join(REPO_ROOT, "biome.json"), join(dir, "biome.json"));
  copyFileSync(join(REPO_ROOT, ".dependency-cruiser.cjs"), join(dir, ".dependency-cruiser.cjs"));
  return dir;
}

function run(command: string, args: readonly string[], cwd: string) {
  const r = spawnSync(command, args, { cwd, encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const biome = (cwd: string, file: string) => run(join(BIN, "biome"), ["ci", "--vcs-enabled=false", "--colors=off", file], cwd);

describe("Biome (lint and format)", () => {
  it("fails on a lint error (a debugger statement) and passes once it is removed", () => {
    const dir = tree("biome-lint", {
      "bad.ts": "export function f(): number {\n  debugger;\n  return 1;\n}\n",
      "good.ts": "export function f(): number {\n  return 1;\n}\n",
    });
    const bad = biome(dir, "bad.ts");
    expect(bad.status).toBe(1);
    expect(bad.out).toContain("lint/suspicious/noDebugger");
    expect(biome(dir, "good.ts").status).toBe(0);
  });

  it("fails on a file that is not formatted, and passes on the same code formatted", () => {
    const dir = tree("biome-format", { "bad.ts": "export const x = {a:1}\n", "good.ts": "export const x = { a: 1 };\n" });
    const bad = biome(dir, "bad.ts");
    expect(bad.status).toBe(1);
    expect(bad.out).toContain("format");
    expect(biome(dir, "good.ts").status).toBe(0);
  });
});

describe("import boundaries (dependency-cruiser)", () => {
  /** One importer/imported pair per rule, and whether the rule must allow it. */
  const cases: readonly [from: string, to: string, allowed: boolean][] = [
    ["lib", "config", false],
    ["config", "lib", true],
    ["config", "stacks", false],
    ["constructs", "charts", false],
    ["charts", "constructs", false],
    ["charts", "config", false],
    ["constructs", "config", false],
    ["constructs", "lib", true],
    ["stacks", "constructs", true],
    ["stacks", "config", true],
    ["stacks", "app", false],
    ["pki", "config", false],
    ["db", "charts", false],
    ["review", "config", true],
    ["review", "stacks", false],
    ["app", "stacks", true],
    ["config", "test", false],
  ];
  // One tree, one run: case i is `<from>/case<i>.ts` importing `<to>/target<i>.ts`; plus a cycle.
  const files: Record<string, string> = {
    "config/cycle-a.ts": 'import { b } from "./cycle-b.ts";\nexport const a = b;\n',
    "config/cycle-b.ts": 'import { a } from "./cycle-a.ts";\nexport const b = () => a;\n',
  };
  cases.forEach(([from, to], i) => {
    files[`${from}/case${i}.ts`] = `import { b } from "../${to}/target${i}.ts";\nexport const a = b;\n`;
    files[`${to}/target${i}.ts`] = "export const b = 1;\n";
  });
  const dir = tree("deps", files);
  const result = run(join(BIN, "depcruise"), ["--config", ".dependency-cruiser.cjs", "--output-type", "json", "."], dir);
  const violations = (
    JSON.parse(result.out.slice(result.out.indexOf("{"))) as {
      summary: { violations: { from: string; to: string; rule: { name: string } }[] };
    }
  ).summary.violations;

  cases.forEach(([from, to, allowed], i) => {
    it(`${allowed ? "allows" : "fails on"} ${from}/ importing ${to}/`, () => {
      const found = violations.filter((v) => v.from === `${from}/case${i}.ts` && v.to === `${to}/target${i}.ts`).map((v) => v.rule.name);
      if (allowed) expect(found).toEqual([]);
      else expect(found.length).toBeGreaterThan(0);
    });
  });

  it("fails on a cycle", () => {
    const cycles = violations.filter((v) => v.rule.name === "no-circular");
    expect(cycles.length).toBeGreaterThan(0);
    for (const v of cycles) expect(["config/cycle-a.ts", "config/cycle-b.ts"]).toContain(v.from);
  });

  it("exits non-zero when there is a violation (as `npm run lint:imports` runs it)", () => {
    const one = tree("deps-exit", {
      "lib/a.ts": 'import { b } from "../config/b.ts";\nexport const a = b;\n',
      "config/b.ts": "export const b = 1;\n",
    });
    const r = run(join(BIN, "depcruise"), ["--config", ".dependency-cruiser.cjs", "lib", "config"], one);
    expect(r.out).toContain("lib-imports-nothing-of-the-project: lib/a.ts → config/b.ts");
    expect(r.status).not.toBe(0);
  });
});

describe("ShellCheck", () => {
  it("fails on an unquoted expansion, and passes once it is quoted", () => {
    const dir = tree("shell", { "bad.sh": "#!/bin/sh\nrm -rf $1/tmp\n", "good.sh": '#!/bin/sh\nrm -rf "$1/tmp"\n' });
    const bad = run("shellcheck", ["bad.sh"], dir);
    expect(bad.status).toBe(1);
    expect(bad.out).toContain("SC2086");
    expect(run("shellcheck", ["good.sh"], dir).status).toBe(0);
  });
});

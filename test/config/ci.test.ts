/** The `ci` section: who deploys from CI (docs/adr/0014). Every rule, in every direction it can fail. */
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../config/load.ts";
import { exampleRaw, PROBLEM_LINE, problemsOf } from "../support/config.ts";

function broken(mutate: (c: Record<string, any>) => void): string[] {
  const raw = exampleRaw();
  mutate(raw);
  const problems = problemsOf(raw);
  for (const p of problems) expect(p).toMatch(PROBLEM_LINE);
  return problems;
}

describe("config: ci", () => {
  it("keeps numeric ids as the strings GitHub's claims carry, written either way", () => {
    const raw = exampleRaw();
    raw.ci = { repositoryId: 812345678, repositoryOwnerId: "1234567", branch: "main" };
    expect(validateConfig(raw, "config/example.yaml", "example").ci).toEqual({
      repositoryId: "812345678",
      repositoryOwnerId: "1234567",
      branch: "main",
    });
  });

  it("fails if the section is missing", () => {
    expect(broken((c) => delete c.ci)).toEqual([expect.stringContaining("'ci'")]);
  });

  it.each([
    ["a name", "plue/plue-infra"],
    ["a negative number", -5],
    ["a fraction", 1.5],
    ["an empty string", ""],
    ["a hex id", "0x1f"],
    ["more than 19 digits", "12345678901234567890"],
  ])("fails if repositoryId is %s", (_, v) => {
    expect(broken((c) => (c.ci.repositoryId = v))).toEqual([expect.stringContaining("'ci.repositoryId' is not a GitHub numeric id")]);
  });

  it("fails if repositoryOwnerId is not numeric", () => {
    expect(broken((c) => (c.ci.repositoryOwnerId = "plue"))).toEqual([
      expect.stringContaining("'ci.repositoryOwnerId' is not a GitHub numeric id"),
    ]);
  });

  it.each([
    ["a quote (CEL injection)", "main' || true || '"],
    ["a space", "my branch"],
    ["a leading dash", "-main"],
    ["a leading slash", "/main"],
    ["a trailing slash", "release/"],
    ["two dots", "release..1"],
    ["a double slash", "release//1"],
    ["a .lock suffix", "main.lock"],
    ["empty", ""],
    ["a glob", "release/*"],
  ])("fails if the branch has %s", (_, v) => {
    expect(broken((c) => (c.ci.branch = v))).toEqual([expect.stringContaining("'ci.branch' is not a branch name")]);
  });

  it("accepts branch names with slashes, dots, dashes and underscores", () => {
    for (const b of ["main", "release/prod", "v1.2_x", "env/prod-eu"]) expect(broken((c) => (c.ci.branch = b))).toEqual([]);
  });

  it("fails on an unknown field (a misspelt setting never falls back to a default)", () => {
    expect(broken((c) => (c.ci.brnach = "main"))).toEqual([expect.stringContaining("'ci.brnach' is not a known field")]);
  });

  it("refuses placeholder (all-zero) ids in production, each on its own", () => {
    const prod = (mutate: (c: Record<string, any>) => void) =>
      broken((c) => {
        c.production = true;
        mutate(c);
      }).filter((p) => p.includes("'ci."));
    expect(prod((c) => (c.ci.repositoryOwnerId = "42"))).toEqual([
      expect.stringContaining("'ci.repositoryId' holds a placeholder id (production)"),
    ]);
    expect(prod((c) => (c.ci.repositoryId = 42))).toEqual([
      expect.stringContaining("'ci.repositoryOwnerId' holds a placeholder id (production)"),
    ]);
    expect(prod((c) => Object.assign(c.ci, { repositoryId: "42", repositoryOwnerId: "43" }))).toEqual([]);
  });

  it("accepts placeholder ids outside production (they admit no job: no token carries id 0)", () => {
    expect(broken(() => {})).toEqual([]);
  });
});

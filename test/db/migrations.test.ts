/**
 * Things that need no database: the chart helpers (db/migrations.ts), the
 * runner's file checks (`--check` does everything but connect) under sh and
 * busybox, and its usage errors. (ShellCheck runs over it in `npm run lint`.)
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listMigrations, migrationsHash, RUNNER_SCRIPT_PATH, runnerScript } from "../../db/migrations.ts";
import { copyMigrations, emptyDir, MIGRATIONS_DIR, REPO_MIGRATION_FILES, removeDir, runShell, sha256File } from "./helpers.ts";

const tempDirs: string[] = [];
function temp(dir: string): string {
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) removeDir(dir);
});

describe("listMigrations", () => {
  it("lists the repository's migrations in order with their sha256", () => {
    const migrations = listMigrations();
    expect(migrations.map((m) => m.file)).toEqual(REPO_MIGRATION_FILES);
    expect(migrations.map((m) => m.version)).toEqual(["0001", "0002", "0003", "0004", "0005"]);
    expect(migrations.map((m) => m.name)).toEqual(["users", "siwe_nonces", "auth_sessions", "access_tokens", "ssh_keys"]);
    for (const m of migrations) {
      expect(m.sha256).toBe(sha256File(join(MIGRATIONS_DIR, m.file)));
      expect(m.sql).toBe(readFileSync(join(MIGRATIONS_DIR, m.file), "utf8"));
      expect(m.sql).toMatch(/CREATE TABLE/);
    }
  });

  it("refuses names the runner would refuse and duplicate versions, ignores dot files", () => {
    const dir = temp(copyMigrations());
    mkdirSync(join(dir, "..2024_01_01_configmap"));
    symlinkSync("..2024_01_01_configmap", join(dir, "..data"));
    expect(listMigrations(dir)).toHaveLength(REPO_MIGRATION_FILES.length);

    writeFileSync(join(dir, "README.md"), "notes\n");
    expect(() => listMigrations(dir)).toThrow(/invalid migration file name README\.md/);
    rmSync(join(dir, "README.md"));

    writeFileSync(join(dir, "0001_again.sql"), "SELECT 1;\n");
    expect(() => listMigrations(dir)).toThrow(/duplicate migration version 0001/);
  });
});

describe("migrationsHash", () => {
  it("is stable, and changes when a migration is edited, added or renamed", () => {
    const dir = temp(copyMigrations());
    const base = migrationsHash(dir);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(migrationsHash(dir)).toBe(base);
    expect(migrationsHash(MIGRATIONS_DIR)).toBe(base); // same contents, other place
    expect(migrationsHash()).toBe(base);

    const first = join(dir, REPO_MIGRATION_FILES[0] ?? "");
    const original = readFileSync(first);
    appendFileSync(first, "-- a comment is a change too\n");
    const edited = migrationsHash(dir);
    expect(edited).not.toBe(base);
    writeFileSync(first, original);
    expect(migrationsHash(dir)).toBe(base);

    writeFileSync(join(dir, "0900_more.sql"), "SELECT 1;\n");
    const added = migrationsHash(dir);
    expect(added).not.toBe(base);
    renameSync(join(dir, "0900_more.sql"), join(dir, "0901_more.sql"));
    expect(migrationsHash(dir)).not.toBe(added);
  });

  it("covers the runner script", () => {
    expect(runnerScript()).toBe(readFileSync(RUNNER_SCRIPT_PATH, "utf8"));
    expect(runnerScript().startsWith("#!/bin/sh\n")).toBe(true);
  });
});

describe("db/migrate.sh validation (--check, no database)", () => {
  it("accepts the repository's migrations", async () => {
    const result = await runShell(undefined, ["--check"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${REPO_MIGRATION_FILES.length} migration file(s) in ${MIGRATIONS_DIR} are valid`);
  });

  it("refuses bad names, non-files and duplicate versions, all in one go", async () => {
    const dir = temp(emptyDir());
    writeFileSync(join(dir, "0001_ok.sql"), "SELECT 1;\n");
    writeFileSync(join(dir, "0001_dup.sql"), "SELECT 1;\n");
    writeFileSync(join(dir, "12_short.sql"), "SELECT 1;\n");
    writeFileSync(join(dir, "0002_Upper.sql"), "SELECT 1;\n");
    writeFileSync(join(dir, "0003_x.SQL"), "SELECT 1;\n");
    writeFileSync(join(dir, "notes.txt"), "hi\n");
    mkdirSync(join(dir, "0004_dir.sql"));
    const result = await runShell(undefined, ["--check", "--dir", dir]);
    expect(result.code).toBe(1);
    for (const name of ["12_short.sql", "0002_Upper.sql", "0003_x.SQL", "notes.txt"]) {
      expect(result.stderr).toContain(`refusing ${name}: migration file names must match`);
    }
    expect(result.stderr).toContain("refusing 0004_dir.sql: not a regular file");
    expect(result.stderr).toContain("duplicate migration version 0001: 0001_dup.sql 0001_ok.sql");
    expect(result.stderr).toContain("refusing to migrate: 6 problem(s)");
  });

  it("leaves the SQL to the synth-time lint (db/lint.ts): --check does not read it", async () => {
    const dir = temp(emptyDir());
    writeFileSync(join(dir, "0001_drop.sql"), "DROP TABLE users;\n");
    const result = await runShell(undefined, ["--check", "--dir", dir]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("explains usage", async () => {
    const help = await runShell(undefined, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: migrate.sh [--dir DIR]");
    expect(help.stdout).toContain("Connection: the libpq environment variables only (PGHOST, PGPORT, PGUSER,");

    const bad = await runShell(undefined, ["--frobnicate"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown option: --frobnicate");

    const positional = await runShell(undefined, ["postgresql://u:hunter2@h/db"]);
    expect(positional.code).toBe(2);
    expect(positional.stderr).toContain("unexpected argument (not shown; the connection comes from the PG* environment variables)");
    expect(positional.stderr).not.toContain("hunter2");
  });

  it("checks the files under busybox sh with busybox tools only (as in postgres:*-alpine)", () => {
    const busybox = spawnSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).stdout.trim();
    // Never skipped: .ci/run installs busybox.
    expect(busybox, "busybox is not installed (apt-get install -y busybox; .ci/run does)").not.toBe("");
    const bin = temp(emptyDir());
    const installed = spawnSync(busybox, ["--install", "-s", bin]);
    expect(installed.status).toBe(0);
    const dir = temp(emptyDir());
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    writeFileSync(join(dir, "0001_again.sql"), "SELECT 1;\n");
    const result = spawnSync(join(bin, "sh"), [RUNNER_SCRIPT_PATH, "--check", "--dir", dir], {
      encoding: "utf8",
      env: { PATH: bin },
    });
    expect(result.stderr).toContain("duplicate migration version 0001: 0001_again.sql 0001_users.sql");
    expect(result.status).toBe(1);
    rmSync(join(dir, "0001_again.sql"));
    const ok = spawnSync(join(bin, "sh"), [RUNNER_SCRIPT_PATH, "--check", "--dir", dir], { encoding: "utf8", env: { PATH: bin } });
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toBe(`${REPO_MIGRATION_FILES.length} migration file(s) in ${dir} are valid\n`);
    expect(ok.status).toBe(0);
  });
});

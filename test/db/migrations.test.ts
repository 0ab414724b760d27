/**
 * Things that need no database: the chart helpers (db/migrations.ts), the
 * runner's validation (`--check` does everything but connect), and the CLI's
 * usage errors.
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listMigrations, migrationsHash, RUNNER_SCRIPT_PATH, runnerScript } from "../../db/migrations.ts";
import { copyMigrations, emptyDir, MIGRATIONS_DIR, REPO_MIGRATION_FILES, removeDir, runCli, runShell, sha256File } from "./helpers.ts";

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

  it("tells comments, strings and function bodies from statements", async () => {
    const dir = temp(emptyDir());
    writeFileSync(
      join(dir, "0001_tricky.sql"),
      [
        "-- DROP TABLE users; (a comment)",
        "/* TRUNCATE in a block comment",
        "   over two lines */",
        "CREATE TABLE t (a text DEFAULT 'it''s; -- not a comment', b text DEFAULT E'x\\'; y');",
        "DO $$ BEGIN RAISE NOTICE 'ok'; END $$;",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;",
        "CREATE FUNCTION g() RETURNS trigger LANGUAGE plpgsql AS $fn$",
        "BEGIN",
        "  RETURN NEW;",
        "END;",
        "$fn$;",
        "CREATE TABLE truncated_rows (id int);",
        "DELETE FROM t WHERE a = 'x';",
        "SELECT 'COMMIT;'",
      ].join("\n"),
    );
    const result = await runShell(undefined, ["--check", "--dir", dir]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("finds destructive statements wherever they hide, naming file and line", async () => {
    const dir = temp(emptyDir());
    writeFileSync(
      join(dir, "0001_bad.sql"),
      [
        "CREATE TABLE x (a int, b int);",
        "ALTER TABLE x",
        "    DROP COLUMN a;",
        "DO $$ BEGIN EXECUTE 'drop   table x'; END $$;",
        "delete from x;",
        "Truncate x;",
        "ALTER TABLE x DROP CONSTRAINT x_pkey;",
        "DROP SCHEMA s CASCADE;",
      ].join("\n"),
    );
    const result = await runShell(undefined, ["--check", "--dir", dir]);
    expect(result.code).toBe(1);
    for (const [line, what] of [
      [2, "DROP COLUMN"],
      [4, "DROP TABLE"],
      [5, "DELETE without WHERE"],
      [6, "TRUNCATE"],
      [7, "ALTER TABLE ... DROP"],
      [8, "DROP SCHEMA"],
    ] as const) {
      expect(result.stderr).toContain(`0001_bad.sql:${line}: destructive statement (${what}) refused`);
    }
    expect(result.stderr).toContain("nothing was applied");
  });

  it("requires the marker to name a reviewer", async () => {
    const dir = temp(emptyDir());
    writeFileSync(join(dir, "0001_drop.sql"), "-- plue:allow-destructive\nDROP TABLE x;\n");
    const result = await runShell(undefined, ["--check", "--dir", dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("0001_drop.sql:1: malformed marker");
    expect(result.stderr).toContain("0001_drop.sql:2: destructive statement (DROP TABLE) refused");

    writeFileSync(join(dir, "0001_drop.sql"), "-- plue:allow-destructive reviewed-by=bob.smith\nDROP TABLE x;\n");
    const ok = await runShell(undefined, ["--check", "--dir", dir]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("allowed by the marker on line 1 (reviewed-by=bob.smith)");
  });

  it("refuses transaction control and psql meta-commands", async () => {
    const dir = temp(emptyDir());
    writeFileSync(
      join(dir, "0001_tx.sql"),
      ["begin;", "CREATE TABLE a (id int);", "commit;", "\\set ON_ERROR_STOP off", "START TRANSACTION;", "ROLLBACK;", "END;"].join("\n"),
    );
    const result = await runShell(undefined, ["--check", "--dir", dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("0001_tx.sql:1: transaction control (BEGIN)");
    expect(result.stderr).toContain("0001_tx.sql:3: transaction control (COMMIT)");
    expect(result.stderr).toContain("0001_tx.sql:4: psql meta-commands");
    expect(result.stderr).toContain("0001_tx.sql:5: transaction control (START TRANSACTION)");
    expect(result.stderr).toContain("0001_tx.sql:6: transaction control (ROLLBACK)");
    expect(result.stderr).toContain("0001_tx.sql:7: transaction control (END)");
  });

  it("refuses bad names, non-files, duplicate versions and unterminated strings, all in one go", async () => {
    const dir = temp(emptyDir());
    writeFileSync(join(dir, "0001_ok.sql"), "SELECT 1;\n");
    writeFileSync(join(dir, "0001_dup.sql"), "SELECT 1;\n");
    writeFileSync(join(dir, "12_short.sql"), "SELECT 1;\n");
    writeFileSync(join(dir, "0002_Upper.sql"), "SELECT 1;\n");
    writeFileSync(join(dir, "0003_x.SQL"), "SELECT 1;\n");
    writeFileSync(join(dir, "notes.txt"), "hi\n");
    mkdirSync(join(dir, "0004_dir.sql"));
    writeFileSync(join(dir, "0005_open.sql"), "SELECT 'never closed;\n");
    const result = await runShell(undefined, ["--check", "--dir", dir]);
    expect(result.code).toBe(1);
    for (const name of ["12_short.sql", "0002_Upper.sql", "0003_x.SQL", "notes.txt"]) {
      expect(result.stderr).toContain(`refusing ${name}: migration file names must match`);
    }
    expect(result.stderr).toContain("refusing 0004_dir.sql: not a regular file");
    expect(result.stderr).toContain("duplicate migration version 0001: 0001_dup.sql 0001_ok.sql");
    expect(result.stderr).toContain("0005_open.sql:1: unterminated quoted string");
  });

  it("explains usage", async () => {
    const help = await runShell(undefined, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: migrate.sh [--dir DIR]");
    expect(help.stdout).toContain("-- plue:allow-destructive reviewed-by=<name>");

    const bad = await runShell(undefined, ["--frobnicate"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown option: --frobnicate");

    const positional = await runShell(undefined, ["postgresql://u:hunter2@h/db"]);
    expect(positional.code).toBe(2);
    expect(positional.stderr).not.toContain("hunter2");

    const badUrl = await runShell("mysql://u:hunter2@h/db");
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain("DATABASE_URL must be a postgresql://");
    expect(badUrl.stderr).not.toContain("hunter2");

    const badParam = await runShell("postgresql://u:hunter2@h/db?sslmode=require&frob=1");
    expect(badParam.code).toBe(2);
    expect(badParam.stderr).toContain("unsupported connection parameter 'frob'");
    expect(badParam.stderr).not.toContain("hunter2");
  });

  it("runs under busybox sh with busybox tools only (as in postgres:*-alpine)", async (context) => {
    const busybox = spawnSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).stdout.trim();
    if (busybox === "") context.skip("busybox not installed");
    const bin = temp(emptyDir());
    const installed = spawnSync(busybox, ["--install", "-s", bin]);
    expect(installed.status).toBe(0);
    const dir = temp(emptyDir());
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    writeFileSync(join(dir, "0900_tx.sql"), "BEGIN;\n");
    const result = spawnSync(join(bin, "sh"), [RUNNER_SCRIPT_PATH, "--check", "--dir", dir], {
      encoding: "utf8",
      env: { PATH: bin },
    });
    expect(result.stderr).toContain("0900_tx.sql:1: transaction control (BEGIN)");
    expect(result.status).toBe(1);
    rmSync(join(dir, "0900_tx.sql"));
    const ok = spawnSync(join(bin, "sh"), [RUNNER_SCRIPT_PATH, "--check", "--dir", dir], { encoding: "utf8", env: { PATH: bin } });
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
  });
});

describe("npm run migrate usage errors", () => {
  it("--help prints usage and exits 0", async () => {
    const result = await runCli(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: npm run migrate -- [--database-url URL]");
  });

  it("a missing database URL is a one-line error with exit 2", async () => {
    const result = await runCli([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("migrate: no database: pass --database-url URL or set DATABASE_URL (see --help)\n");
    expect(result.stdout).toBe("");
  });

  it("bad arguments are one-line errors with exit 2, never echoing values", async () => {
    const unknown = await runCli(["--frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("migrate: unknown option --frobnicate (see --help)\n");

    const noValue = await runCli(["--database-url"]);
    expect(noValue.code).toBe(2);
    expect(noValue.stderr).toBe("migrate: --database-url needs a value (see --help)\n");

    const notPg = await runCli(["--database-url", "mysql://root:hunter2@db/app"]);
    expect(notPg.code).toBe(2);
    expect(notPg.stderr).not.toContain("hunter2");

    const stray = await runCli(["postgresql://root:hunter2@db/app"]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).not.toContain("hunter2");
  });

  it("explains that psql is missing", async () => {
    const noPsql = temp(emptyDir());
    const result = await runCli(["--database-url", "postgresql://u@127.0.0.1:1/db"], { PATH: noPsql });
    expect(result.code).toBe(127);
    expect(result.stderr).toMatch(/^migrate: psql not found on PATH; install the PostgreSQL client/);
  });
});

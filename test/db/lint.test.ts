/**
 * The migration lint (db/lint.ts), in-process: every project rule fires on a broken fragment and
 * stays quiet on its allowed form; squawk's findings come back with file and line, and the rules
 * .squawk.toml turns off or keeps behave as docs/adr/0013 says. Last, the real synth command:
 * a bad migration makes it exit 2, naming file and line, with nothing written.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { excerpt, formatFinding, type LintFinding, lintMigrations, lintSql, squawkBinary } from "../../db/lint.ts";
import { MIGRATIONS_DIR, REPO_ROOT } from "./helpers.ts";

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});
function tempDir(prefix = "plue-lint-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/** A migrations directory holding `files`. */
function migrations(files: Record<string, string>): string {
  const dir = tempDir();
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

/** [line, rule] of each finding. */
const where = (findings: readonly LintFinding[]) => findings.map((f) => [f.line, f.rule]);
/** The project's rules over one fragment. */
const lint = (sql: string) => lintSql("0001_x.sql", sql);
const rules = (sql: string) => lint(sql).map((f) => f.rule);

describe("the repository's migrations", () => {
  it("pass every rule (squawk and the project's), on every PostgreSQL version the config accepts", () => {
    for (const pgVersion of [15, 16, 17]) expect(lintMigrations(MIGRATIONS_DIR, { pgVersion }).map(formatFinding)).toEqual([]);
  });
});

describe("destructive-statement", () => {
  it.each([
    ["DROP TABLE users;", "DROP TABLE"],
    ["drop   table if exists users;", "DROP TABLE"],
    ["ALTER TABLE users DROP COLUMN username;", "DROP COLUMN"],
    ["DROP SCHEMA s CASCADE;", "DROP SCHEMA"],
    ["DROP DATABASE plue;", "DROP DATABASE"],
    ["TRUNCATE users;", "TRUNCATE"],
    ["ALTER TABLE users DROP CONSTRAINT users_pkey;", "ALTER TABLE ... DROP"],
    ["ALTER TABLE users ALTER COLUMN username DROP NOT NULL;", "ALTER TABLE ... DROP"],
    ["delete from users;", "DELETE without WHERE"],
    ["DO $$ BEGIN EXECUTE 'drop   table users'; END $$;", "DROP TABLE"],
    ["CREATE FUNCTION wipe() RETURNS void LANGUAGE sql AS $fn$ TRUNCATE users $fn$;", "TRUNCATE"],
  ])("fires on %s", (sql, what) => {
    const findings = lint(`CREATE TABLE keep (id bigint);\n${sql}\n`);
    expect(findings).toEqual([
      {
        file: "0001_x.sql",
        line: 2,
        column: 1,
        rule: "destructive-statement",
        message: `${what} destroys data and the file has no reviewed marker`,
        got: excerpt(sql),
        fix: 'If it is intended and reviewed, add the line "-- plue:allow-destructive reviewed-by=<name>" to the file.',
      },
    ]);
  });

  it.each([
    "-- DROP TABLE users; (a comment)\nSELECT 1;",
    "/* TRUNCATE users;\n   over two lines */ SELECT 1;",
    "CREATE TABLE truncated_rows (dropped_table text, drop_column bigint);",
    "DELETE FROM siwe_nonces WHERE expires_at < now();",
    "ALTER TABLE users ADD COLUMN nickname text;",
    "DROP INDEX users_username_lower_key;",
  ])("stays quiet on %s", (sql) => {
    expect(rules(sql)).toEqual([]);
  });

  it("allows every destructive statement in a file with a reviewed marker, anywhere in it", () => {
    const sql = "ALTER TABLE users DROP COLUMN username;\nTRUNCATE siwe_nonces;\nDELETE FROM auth_sessions;\n";
    expect(rules(`-- plue:allow-destructive reviewed-by=alice\n${sql}`)).toEqual([]);
    expect(rules(`${sql}  --   plue:allow-destructive reviewed-by=bob.smith@example.com  \n`)).toEqual([]);
  });
});

describe("allow-destructive-marker", () => {
  it.each([
    "-- plue:allow-destructive",
    "-- plue:allow-destructive reviewed-by=",
    "-- plue:allow-destructive reviewed-by=alice and bob",
    "-- plue:allow-destructive by=alice",
  ])("fires on %s, and the destructive statement stays refused", (marker) => {
    expect(where(lint(`${marker}\nDROP TABLE users;\n`))).toEqual([
      [1, "allow-destructive-marker"],
      [2, "destructive-statement"],
    ]);
  });

  it("does not count a marker that is not a whole-line comment", () => {
    expect(rules("SELECT 1; -- plue:allow-destructive reviewed-by=alice\nDROP TABLE users;\n")).toEqual(["destructive-statement"]);
    expect(rules("/* plue:allow-destructive reviewed-by=alice */\nDROP TABLE users;\n")).toEqual(["destructive-statement"]);
  });
});

describe("transaction-control", () => {
  it.each([
    ["BEGIN;", "BEGIN"],
    ["begin transaction isolation level serializable;", "BEGIN"],
    ["COMMIT;", "COMMIT"],
    ["ROLLBACK;", "ROLLBACK"],
    ["ABORT;", "ABORT"],
    ["END;", "END"],
    ["START TRANSACTION;", "START TRANSACTION"],
    ["SAVEPOINT s1;", "SAVEPOINT"],
    ["RELEASE SAVEPOINT s1;", "RELEASE"],
    ["PREPARE TRANSACTION 'x';", "PREPARE TRANSACTION"],
  ])("fires on %s", (sql, keyword) => {
    const [finding, ...rest] = lint(`CREATE TABLE t (id bigint);\n  ${sql}\n`);
    expect(rest).toEqual([]);
    expect(finding).toMatchObject({ line: 2, column: 3, rule: "transaction-control", message: `${keyword} is not allowed in a migration` });
    expect(finding?.fix).toBe("Remove it: the runner applies each migration in its own transaction, and records it in the same one.");
  });

  it.each([
    "DO $$ BEGIN RAISE NOTICE 'ok'; END $$;",
    "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;",
    "CREATE FUNCTION g() RETURNS trigger LANGUAGE plpgsql AS $fn$\nBEGIN\n  RETURN NEW;\nEND;\n$fn$;",
    "SELECT 'COMMIT;';",
    'CREATE TABLE "begin" (id bigint);',
    "-- BEGIN;\nSELECT 1;",
  ])("stays quiet on %s", (sql) => {
    expect(rules(sql)).toEqual([]);
  });
});

describe("not-in-transaction", () => {
  it.each([
    ["CREATE INDEX CONCURRENTLY users_created_idx ON users (created_at);", "CONCURRENTLY"],
    ["DROP INDEX CONCURRENTLY users_created_idx;", "CONCURRENTLY"],
    ["REINDEX TABLE CONCURRENTLY users;", "CONCURRENTLY"],
    ["ALTER TABLE events DETACH PARTITION events_2026 CONCURRENTLY;", "CONCURRENTLY"],
    ["VACUUM users;", "VACUUM"],
    ["CREATE DATABASE other;", "CREATE DATABASE"],
    ["ALTER SYSTEM SET work_mem = '64MB';", "ALTER SYSTEM"],
  ])("fires on %s, also as the file's only statement (squawk lets that through)", (sql, what) => {
    const findings = lint(`${sql}\n`);
    expect(where(findings)).toEqual([[1, "not-in-transaction"]]);
    expect(findings[0]?.message).toBe(`${what} cannot run inside a transaction block, and the runner applies every migration in one`);
    expect(lintMigrations(migrations({ "0001_x.sql": `${sql}\n` })).map((f) => f.rule)).toContain("not-in-transaction");
  });

  it.each([
    "CREATE INDEX users_created_idx ON users (created_at);",
    "COMMENT ON TABLE users IS 'built CONCURRENTLY elsewhere';",
    "CREATE TABLE vacuum_log (concurrently_run boolean);",
  ])("stays quiet on %s", (sql) => {
    expect(rules(sql)).toEqual([]);
  });
});

describe("psql-meta-command", () => {
  it.each(["\\set ON_ERROR_STOP off", "\\! rm -rf /", "SELECT 1 \\gset", "\\i other.sql"])("fires on %s", (command) => {
    const findings = lint(`SELECT 1;\n${command}\n`);
    expect(where(findings)).toEqual([[2, "psql-meta-command"]]);
    expect(findings[0]?.got).toBe(command.slice(command.indexOf("\\")));
  });

  it.each([
    "SELECT E'a\\\\b\\'c';",
    "SELECT 'C:\\path';",
    "-- a \\comment\nSELECT 1;",
    "DO $$ BEGIN RAISE NOTICE '\\n'; END $$;",
    'SELECT 1 AS "back\\slash";',
  ])("stays quiet on %s", (sql) => {
    expect(rules(sql)).toEqual([]);
  });
});

describe("squawk-transaction-override", () => {
  it("fires on a comment that tells squawk the file runs outside a transaction", () => {
    expect(where(lint("-- squawk-disable-assume-in-transaction\nCREATE TABLE t (id bigint);\n"))).toEqual([
      [1, "squawk-transaction-override"],
    ]);
  });

  it("stays quiet on squawk's other comments", () => {
    expect(rules("-- squawk-ignore require-concurrent-index-creation\nCREATE INDEX t_idx ON t (id);\n")).toEqual([]);
  });
});

describe("unterminated", () => {
  it.each([
    ["SELECT 'never closed;", "quoted string is never closed"],
    ['SELECT "never closed;', "quoted identifier is never closed"],
    ["DO $body$ BEGIN NULL; END;", "dollar-quoted string $body$ is never closed"],
    ["SELECT 1; /* never closed", "/* comment is never closed"],
    ["/* nested /* */ still open", "/* comment is never closed"],
  ])("fires on %s", (sql, message) => {
    expect(lint(`SELECT 1;\n${sql}\n`).map((f) => [f.line, f.rule, f.message])).toEqual([[2, "unterminated", message]]);
  });

  it("stays quiet on quotes and comments closed on a later line", () => {
    expect(rules("SELECT 'a\nb';\nDO $$\nBEGIN NULL; END\n$$;\n/* a\n/* b */\n*/ SELECT 1;\n")).toEqual([]);
  });
});

describe("the directory", () => {
  it("fires on bad names, non-files and duplicate versions, ignores dot entries, and lints the rest", () => {
    const dir = migrations({
      "0001_ok.sql": "SELECT 1;\n",
      "0001_dup.sql": "SELECT 1;\n",
      "12_short.sql": "SELECT 1;\n",
      "0002_Upper.sql": "SELECT 1;\n",
      "notes.txt": "hi\n",
      "0003_drop.sql": "\n\nDROP TABLE users;\n",
    });
    mkdirSync(join(dir, "0004_dir.sql"));
    symlinkSync("nowhere.sql", join(dir, "0005_dangling.sql"));
    mkdirSync(join(dir, "..2026_11_22_configmap"));
    symlinkSync("..2026_11_22_configmap", join(dir, "..data"));
    const findings = lintMigrations(dir);
    expect(findings.map((f) => [f.file.slice(dir.length + 1), f.line, f.rule, f.got])).toEqual([
      ["0001_dup.sql", 1, "duplicate-version", "0001_dup.sql"],
      ["0001_ok.sql", 1, "duplicate-version", "0001_ok.sql"],
      ["0002_Upper.sql", 1, "migration-file-name", "0002_Upper.sql"],
      ["0003_drop.sql", 3, "destructive-statement", "DROP TABLE users"],
      ["0004_dir.sql", 1, "migration-not-a-file", "0004_dir.sql"],
      ["0005_dangling.sql", 1, "migration-not-a-file", "0005_dangling.sql"],
      ["12_short.sql", 1, "migration-file-name", "12_short.sql"],
      ["notes.txt", 1, "migration-file-name", "notes.txt"],
    ]);
    expect(findings[0]?.message).toBe("uses version 0001, like 0001_ok.sql");
  });

  it("names files inside the repository by their repository path, others by their absolute path", () => {
    const outside = migrations({ "0001_drop.sql": "DROP TABLE users;\n" });
    expect(lintMigrations(outside)[0]?.file).toBe(join(outside, "0001_drop.sql"));
    const inside = mkdtempSync(join(REPO_ROOT, "db", ".lint-test-"));
    temps.push(inside);
    writeFileSync(join(inside, "0001_drop.sql"), "DROP TABLE users;\n");
    expect(lintMigrations(inside)[0]?.file).toBe(`db/${inside.slice(join(REPO_ROOT, "db").length + 1)}/0001_drop.sql`);
  });

  it("is empty for an empty directory (and starts no squawk)", () => {
    expect(lintMigrations(tempDir())).toEqual([]);
  });
});

describe("squawk", () => {
  it("reports with file, line and column, the enclosing statement, and its own advice", () => {
    const dir = migrations({
      "0001_users.sql": "CREATE TABLE users (id bigint PRIMARY KEY);\n",
      "0002_age.sql": "-- ages\n\nALTER TABLE users\n    ADD COLUMN age int;\n",
    });
    expect(lintMigrations(dir)).toEqual([
      {
        file: join(dir, "0002_age.sql"),
        line: 4,
        column: 20,
        rule: "prefer-bigint-over-int",
        message: "Using 32-bit integer fields can result in hitting the max `int` limit",
        got: "ALTER TABLE users ADD COLUMN age int",
        fix: "Use 64-bit integer values instead to prevent hitting this limit.",
      },
    ]);
  });

  it("reports syntax errors with their line", () => {
    const dir = migrations({ "0001_broken.sql": "SELECT 1;\nCREATE TABLE t (id bigint;\n" });
    expect(where(lintMigrations(dir))).toEqual([[2, "syntax-error"]]);
  });

  it("lints every file in one process, in version order", () => {
    const dir = migrations({
      "0002_b.sql": "ALTER TABLE t ADD COLUMN b int;\n",
      "0001_a.sql": "CREATE TABLE t (id bigint);\nCREATE TABLE u (a varchar(10));\n",
    });
    expect(lintMigrations(dir).map((f) => [f.file.slice(dir.length + 1), f.line, f.rule])).toEqual([
      ["0001_a.sql", 2, "prefer-text-field"],
      ["0002_b.sql", 1, "prefer-bigint-over-int"],
    ]);
  });

  it("passes the environment's PostgreSQL version (adding a volatile-free default rewrote tables before 11)", () => {
    const dir = migrations({ "0001_default.sql": "ALTER TABLE users ADD COLUMN score bigint DEFAULT 0;\n" });
    expect(lintMigrations(dir, { pgVersion: 16 })).toEqual([]);
    expect(lintMigrations(dir, { pgVersion: 10 }).map((f) => f.rule)).toEqual(["adding-field-with-default"]);
  });

  // What .squawk.toml turns off, each for its reason (docs/adr/0013).
  it("does not ask for IF NOT EXISTS (each file is one transaction) nor for timeouts (the runner sets them)", () => {
    const dir = migrations({ "0001_t.sql": "ALTER TABLE users ADD COLUMN nickname text;\nCREATE TABLE t (id bigint);\n" });
    expect(lintMigrations(dir)).toEqual([]);
    const withoutConfig = spawnSync(squawkBinary(), ["--reporter", "gcc", "0001_t.sql"], { cwd: dir, encoding: "utf8" });
    expect(withoutConfig.stdout).toContain("prefer-robust-stmts");
    expect(withoutConfig.stdout).toContain("require-lock-timeout");
    expect(withoutConfig.stdout).toContain("require-statement-timeout");
  });

  it("leaves DROP and BEGIN to the project's rules: one finding each, one marker", () => {
    const dir = migrations({ "0001_x.sql": "DROP TABLE users;\nBEGIN;\n" });
    expect(where(lintMigrations(dir))).toEqual([
      [1, "destructive-statement"],
      [2, "transaction-control"],
    ]);
    writeFileSync(
      join(dir, "0001_x.sql"),
      "-- plue:allow-destructive reviewed-by=alice\nDROP TABLE users;\nALTER TABLE t DROP COLUMN c;\n",
    );
    expect(lintMigrations(dir)).toEqual([]);
  });

  // What stays on, with advice that works with the runner.
  it("refuses index builds on existing tables unless reviewed (CONCURRENTLY is impossible in the runner's transaction)", () => {
    const dir = migrations({ "0001_idx.sql": "CREATE INDEX users_created_idx ON users (created_at);\n" });
    const [plain, ...rest] = lintMigrations(dir);
    expect(rest).toEqual([]);
    expect(plain).toMatchObject({ line: 1, rule: "require-concurrent-index-creation" });
    expect(plain?.fix).toContain('add the line "-- squawk-ignore require-concurrent-index-creation" above the statement');

    writeFileSync(
      join(dir, "0001_idx.sql"),
      "-- squawk-ignore require-concurrent-index-creation\nCREATE INDEX users_created_idx ON users (created_at);\n",
    );
    expect(lintMigrations(dir)).toEqual([]);
    // On a table created in the same migration, nobody is blocked: no finding.
    writeFileSync(join(dir, "0001_idx.sql"), "CREATE TABLE t (id bigint);\nCREATE INDEX t_idx ON t (id);\n");
    expect(lintMigrations(dir)).toEqual([]);
  });

  it("keeps TRUNCATE ... CASCADE refused beside the marker (it reaches tables the reviewer did not name)", () => {
    const dir = migrations({ "0001_t.sql": "-- plue:allow-destructive reviewed-by=alice\nTRUNCATE users CASCADE;\n" });
    expect(where(lintMigrations(dir))).toEqual([[2, "ban-truncate-cascade"]]);
  });

  it("fails loudly when squawk cannot read its configuration", () => {
    const dir = migrations({ "0001_t.sql": "SELECT 1;\n" });
    expect(() => lintMigrations(dir, { squawkConfig: join(dir, "missing.toml") })).toThrow(
      /^squawk failed \(exit 1\): Configuration error/,
    );
  });
});

describe("formatFinding", () => {
  it("prints <file>:<line>: '<rule>' <problem> (got <excerpt>). <fix>", () => {
    const [finding] = lintSql("db/migrations/0006_x.sql", "SELECT 1;\n\n  DROP TABLE users;\n");
    expect(finding && formatFinding(finding)).toBe(
      "db/migrations/0006_x.sql:3: 'destructive-statement' DROP TABLE destroys data and the file has no reviewed marker (got DROP TABLE users). If it is intended and reviewed, add the line \"-- plue:allow-destructive reviewed-by=<name>\" to the file.",
    );
  });

  it("cuts long statements in the excerpt", () => {
    expect(excerpt(`DELETE FROM users\n   ${"x".repeat(100)};`)).toBe(`DELETE FROM users ${"x".repeat(39)}...`);
  });
});

describe("npm run synth with a bad migration", () => {
  it("exits 2 naming each file and line, and writes nothing", () => {
    // A copy of the repository (sources only; node_modules linked) with two bad migrations.
    const root = tempDir("plue-synth-lint-");
    for (const entry of readdirSync(REPO_ROOT)) {
      if (["node_modules", ".git", "test", "cdktf.out", "bench", "docs"].includes(entry)) continue;
      cpSync(join(REPO_ROOT, entry), join(root, entry), { recursive: true });
    }
    symlinkSync(join(REPO_ROOT, "node_modules"), join(root, "node_modules"));
    writeFileSync(join(root, "db", "migrations", "0006_drop_keys.sql"), "-- no longer needed\n\nDROP TABLE ssh_keys;\n");
    writeFileSync(join(root, "db", "migrations", "0007_age.sql"), "ALTER TABLE users ADD COLUMN age int;\n");
    const out = join(root, "cdktf.out");

    const run = spawnSync(process.execPath, ["--max-semi-space-size=2", join(root, "bin", "plue.mjs"), "synth", "--out", out], {
      cwd: root,
      encoding: "utf8",
    });
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      [
        "2 problems in the migrations; nothing was written:",
        "db/migrations/0006_drop_keys.sql:3: 'destructive-statement' DROP TABLE destroys data and the file has no reviewed marker (got DROP TABLE ssh_keys). If it is intended and reviewed, add the line \"-- plue:allow-destructive reviewed-by=<name>\" to the file.",
        "db/migrations/0007_age.sql:1: 'prefer-bigint-over-int' Using 32-bit integer fields can result in hitting the max `int` limit (got ALTER TABLE users ADD COLUMN age int). Use 64-bit integer values instead to prevent hitting this limit.",
        "",
      ].join("\n"),
    );
    expect(run.status).toBe(2);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((e) => e.includes("staging"))).toEqual([]);
  });
});

/**
 * The migration runner (db/migrate.sh, and the npm CLI around it) against a
 * real PostgreSQL server: one server for this file, a fresh database per test.
 */
import { appendFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import {
  appliedMigrations,
  copyMigrations,
  MIGRATIONS_DIR,
  REPO_MIGRATION_FILES,
  removeDir,
  runCli,
  runShell,
  sha256File,
  tableExists,
  uniqueDbName,
  withClient,
} from "./helpers.ts";

const REPO_TABLES = ["users", "siwe_nonces", "auth_sessions", "access_tokens", "ssh_keys"];
const N = REPO_MIGRATION_FILES.length;

let server: TestPostgres;
const tempDirs: string[] = [];

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);

afterAll(async () => {
  for (const dir of tempDirs) removeDir(dir);
  await server?.stop();
});

function freshDb(): Promise<string> {
  return server.createDatabase(uniqueDbName("migrate"));
}

function tempMigrations(): string {
  const dir = copyMigrations();
  tempDirs.push(dir);
  return dir;
}

describe("db/migrate.sh against a fresh database", () => {
  it("applies every migration with its checksum, then does nothing on a second run", async () => {
    expect(N).toBeGreaterThanOrEqual(5);
    const url = await freshDb();

    const first = await runShell(url);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    for (const file of REPO_MIGRATION_FILES) {
      const stem = file.replace(/\.sql$/, "");
      expect(first.stdout).toContain(`applied ${stem} (sha256 ${sha256File(join(MIGRATIONS_DIR, file))})`);
    }
    expect(first.stdout).toContain(`${N} applied, 0 already up to date`);

    const rows = await appliedMigrations(url);
    expect(rows).toEqual(
      REPO_MIGRATION_FILES.map((file) => {
        const [, version = "", name = ""] = /^(\d{4})_(.+)\.sql$/.exec(file) ?? [];
        return { version, name, checksum: sha256File(join(MIGRATIONS_DIR, file)) };
      }),
    );
    for (const table of REPO_TABLES) expect(await tableExists(url, table)).toBe(true);

    const second = await runShell(url);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain("applied 0");
    expect(second.stdout).toContain(`0 applied, ${N} already up to date`);
    expect(await appliedMigrations(url)).toEqual(rows);
  });

  it("applies only the new migration when one is added later", async () => {
    const url = await freshDb();
    const dir = tempMigrations();
    expect((await runShell(url, ["--dir", dir])).code).toBe(0);

    writeFileSync(join(dir, "0900_audit_log.sql"), "CREATE TABLE audit_log (id bigint PRIMARY KEY);\n");
    const result = await runShell(url, ["--dir", dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^applied 0900_audit_log \(sha256 [0-9a-f]{64}\)$/m);
    expect(result.stdout).toContain(`1 applied, ${N} already up to date`);
    expect(await tableExists(url, "audit_log")).toBe(true);
  });

  it("also takes the connection from the standard PG* variables, and refuses to guess one", async () => {
    const db = uniqueDbName("pgenv");
    await server.createDatabase(db);
    const pgEnv = { PGHOST: "127.0.0.1", PGPORT: String(server.port), PGUSER: "postgres", PGDATABASE: db };
    const result = await runShell(undefined, [], pgEnv);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${N} applied, 0 already up to date`);
    expect((await appliedMigrations(server.url(db)))?.length).toBe(N);

    const nothing = await runShell(undefined);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("no database configured: set DATABASE_URL");
  });

  it("works as a non-superuser that owns the database (as on Cloud SQL)", async () => {
    const db = uniqueDbName("owned");
    const role = `${db}_owner`;
    await withClient(server.url(), async (client) => {
      await client.query(`CREATE ROLE "${role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`);
      await client.query(`CREATE DATABASE "${db}" OWNER "${role}"`);
    });
    const url = `postgresql://${role}@127.0.0.1:${server.port}/${db}`;
    const result = await runShell(url);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    await withClient(server.url(db), async (client) => {
      const owners = await client.query<{ owner: string }>(
        "SELECT DISTINCT tableowner AS owner FROM pg_tables WHERE schemaname = 'public'",
      );
      expect(owners.rows).toEqual([{ owner: role }]);
    });

    // A role that may not create tables (PostgreSQL 15+: no CREATE on public) is told so.
    const outsider = `${db}_outsider`;
    await withClient(server.url(), (client) => client.query(`CREATE ROLE "${outsider}" LOGIN NOSUPERUSER`));
    const other = await server.createDatabase(uniqueDbName("owned"));
    const refused = await runShell(other.replace("postgres@", `${outsider}@`));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("permission denied for schema public");
    expect(refused.stderr).toContain("could not create or read the schema_migrations table");
  });

  it("5 runners started at once apply every migration exactly once", async () => {
    const url = await freshDb();
    const results = await Promise.all(Array.from({ length: 5 }, () => runShell(url)));

    for (const result of results) {
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
    }
    const output = results.map((r) => r.stdout).join("");
    for (const file of REPO_MIGRATION_FILES) {
      const stem = file.replace(/\.sql$/, "");
      expect(output.split(`applied ${stem} (sha256`).length - 1).toBe(1);
    }
    // Whoever got the lock first applied everything; the others found it done.
    const summaries = results.map((r) => /^(\d+) applied, (\d+) already up to date$/m.exec(r.stdout)?.slice(1).map(Number));
    expect(summaries.filter((s) => s?.[0] === N && s[1] === 0)).toHaveLength(1);
    expect(summaries.filter((s) => s?.[0] === 0 && s[1] === N)).toHaveLength(4);

    const rows = await appliedMigrations(url);
    expect(rows?.map((r) => r.version)).toEqual(REPO_MIGRATION_FILES.map((f) => f.slice(0, 4)));
  });
});

describe("db/migrate.sh refuses when applied migrations changed", () => {
  it("refuses an edited applied migration, naming the file, and applies nothing new", async () => {
    const url = await freshDb();
    const dir = tempMigrations();
    expect((await runShell(url, ["--dir", dir])).code).toBe(0);
    const before = await appliedMigrations(url);

    const edited = REPO_MIGRATION_FILES[1] ?? "";
    appendFileSync(join(dir, edited), "\nCREATE INDEX sneaky_idx ON users (created_at);\n");
    writeFileSync(join(dir, "0900_pending.sql"), "CREATE TABLE pending_table (id int);\n");

    const result = await runShell(url, ["--dir", dir]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`checksum mismatch for ${edited}`);
    expect(result.stderr).toContain("nothing was applied");
    expect(result.stdout).not.toContain("applied 0900");
    expect(await appliedMigrations(url)).toEqual(before);
    expect(await tableExists(url, "pending_table")).toBe(false);
  });

  it("refuses when an applied migration was deleted, naming it", async () => {
    const url = await freshDb();
    const dir = tempMigrations();
    expect((await runShell(url, ["--dir", dir])).code).toBe(0);

    const deleted = REPO_MIGRATION_FILES[2] ?? "";
    rmSync(join(dir, deleted));
    const result = await runShell(url, ["--dir", dir]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`applied migration ${deleted} missing from ${dir}`);
  });

  it("refuses a pending migration that sorts before an applied one", async () => {
    const url = await freshDb();
    const dir = tempMigrations();
    writeFileSync(join(dir, "0900_later.sql"), "CREATE TABLE later_table (id int);\n");
    expect((await runShell(url, ["--dir", dir])).code).toBe(0);

    writeFileSync(join(dir, "0800_earlier.sql"), "CREATE TABLE earlier_table (id int);\n");
    const result = await runShell(url, ["--dir", dir]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("pending migration 0800_earlier.sql sorts before migration 0900");
    expect(await tableExists(url, "earlier_table")).toBe(false);
  });
});

describe("db/migrate.sh when a migration fails", () => {
  it("rolls back the failing migration only, keeps earlier ones, stops, and names it", async () => {
    const url = await freshDb();
    const dir = tempMigrations();
    writeFileSync(join(dir, "0900_good.sql"), "CREATE TABLE good_table (id int);\n");
    writeFileSync(
      join(dir, "0901_broken.sql"),
      "CREATE TABLE half_done (id int);\nINSERT INTO half_done VALUES (1);\nSELECT * FROM no_such_table;\n",
    );
    writeFileSync(join(dir, "0902_after.sql"), "CREATE TABLE after_table (id int);\n");

    const result = await runShell(url, ["--dir", dir]);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain("applied 0900_good");
    expect(result.stderr).toContain("0901_broken.sql:3"); // psql names file and line
    expect(result.stderr).toContain('relation "no_such_table" does not exist');
    expect(result.stderr).toContain("migration 0901_broken failed and was rolled back");

    expect(await tableExists(url, "half_done")).toBe(false);
    expect(await tableExists(url, "after_table")).toBe(false);
    expect(await tableExists(url, "good_table")).toBe(true);
    const versions = (await appliedMigrations(url))?.map((r) => r.version);
    expect(versions).toEqual([...REPO_MIGRATION_FILES.map((f) => f.slice(0, 4)), "0900"]);

    // Fixing the broken file lets the next run continue where this one stopped.
    writeFileSync(join(dir, "0901_broken.sql"), "CREATE TABLE half_done (id int);\n");
    const retry = await runShell(url, ["--dir", dir]);
    expect(retry.code).toBe(0);
    expect(retry.stdout).toContain(`2 applied, ${N + 1} already up to date`);
  });
});

describe("db/migrate.sh validation happens before connecting", () => {
  it("refuses a destructive statement without the marker; nothing runs", async () => {
    const url = await freshDb();
    const dir = tempMigrations();
    writeFileSync(join(dir, "0900_drop_keys.sql"), "-- no longer needed\nDROP TABLE ssh_keys;\n");

    const result = await runShell(url, ["--dir", dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("0900_drop_keys.sql:2: destructive statement (DROP TABLE) refused");
    expect(result.stdout).toBe("");
    expect(await appliedMigrations(url)).toBeNull(); // not even schema_migrations was created
  });

  it("applies a destructive statement that carries a reviewed marker", async () => {
    const url = await freshDb();
    const dir = tempMigrations();
    writeFileSync(
      join(dir, "0900_drop_keys.sql"),
      "-- plue:allow-destructive reviewed-by=alice\nALTER TABLE ssh_keys\n    DROP COLUMN title;\nDROP TABLE ssh_keys;\n",
    );

    const result = await runShell(url, ["--dir", dir]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("0900_drop_keys.sql: 2 destructive statement(s) allowed by the marker on line 1 (reviewed-by=alice)");
    expect(result.stdout).toContain("applied 0900_drop_keys");
    expect(await tableExists(url, "ssh_keys")).toBe(false);
  });

  it("refuses a bad file name and a BEGIN in a file, without touching the database", async () => {
    const url = await freshDb();
    const badName = tempMigrations();
    writeFileSync(join(badName, "0900_Add-Things.sql"), "SELECT 1;\n");
    const r1 = await runShell(url, ["--dir", badName]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain("refusing 0900_Add-Things.sql: migration file names must match");

    const withBegin = tempMigrations();
    writeFileSync(join(withBegin, "0900_tx.sql"), "CREATE TABLE a (id int);\nBEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\n");
    const r2 = await runShell(url, ["--dir", withBegin]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain("0900_tx.sql:2: transaction control (BEGIN) is not allowed");
    expect(r2.stderr).toContain("0900_tx.sql:4: transaction control (COMMIT) is not allowed");

    expect(await appliedMigrations(url)).toBeNull();
  });
});

describe("npm run migrate (db/migrate-cli.ts)", () => {
  it("applies the migrations with --database-url and passes the exit code through", async () => {
    const url = await freshDb();
    const result = await runCli(["--database-url", url]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${N} applied, 0 already up to date`);
    expect((await appliedMigrations(url))?.length).toBe(N);

    const dir = tempMigrations();
    appendFileSync(join(dir, REPO_MIGRATION_FILES[0] ?? ""), "-- edited\n");
    const refused = await runCli(["--dir", dir], { DATABASE_URL: url });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`checksum mismatch for ${REPO_MIGRATION_FILES[0]}`);
  });

  it("never prints the database URL or its password", async () => {
    const db = uniqueDbName("migrate");
    await server.createDatabase(db);
    // trust auth ignores the password, which lets us check it is never echoed.
    const secret = "s3cr3t@pass/word";
    const url = `postgresql://postgres:${encodeURIComponent(secret)}@127.0.0.1:${server.port}/${db}?application_name=plue%20test&sslmode=disable`;
    const ok = await runCli(["--database-url", url]);
    expect(ok.code).toBe(0);
    const broken = await runShell(url.replace(`/${db}?`, "/no_such_db?"));
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("could not connect");
    for (const output of [ok.stdout, ok.stderr, broken.stdout, broken.stderr]) {
      expect(output).not.toContain(secret);
      expect(output).not.toContain(encodeURIComponent(secret));
      expect(output).not.toContain("postgresql://");
    }
    await withClient(server.url(db), async (client) => {
      const count = await client.query<{ n: string }>("SELECT count(*) AS n FROM schema_migrations");
      expect(Number(count.rows[0]?.n)).toBe(N);
    });
  });
});

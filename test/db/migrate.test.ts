/**
 * The migration runner (db/migrate.sh) against a real PostgreSQL server: one
 * server for this file, a fresh database per test. It takes its connection
 * from the PG* variables only, as the schema Job gives them. The last block runs
 * `npm run migrate` (the launcher, as its npm script does), which turns a URL into them.
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { libpqUrlToEnv } from "../../lib/libpq-url.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import {
  appliedMigrations,
  cleanEnv,
  copyMigrations,
  emptyDir,
  libpqEnv,
  MIGRATIONS_DIR,
  REPO_MIGRATION_FILES,
  RUNNER,
  removeDir,
  run,
  runCli,
  runShell,
  sha256File,
  tableExists,
  tablesExist,
  uniqueDbName,
  withClient,
} from "./helpers.ts";

const REPO_TABLES = ["users", "siwe_nonces", "auth_sessions", "access_tokens", "ssh_keys"];
const N = REPO_MIGRATION_FILES.length;

let server: TestPostgres;
const tempDirs: string[] = [];

const MIGRATED = "migrated_template";

beforeAll(async () => {
  server = await startPostgres();
  // The repository's migrations applied once, by the real runner: tests that start from an
  // up-to-date database copy it instead of running the runner again.
  const result = await runShell(await server.createDatabase(MIGRATED));
  if (result.code !== 0) throw new Error(`migrations failed:\n${result.stdout}${result.stderr}`);
}, 60_000);

afterAll(async () => {
  for (const dir of tempDirs) removeDir(dir);
  await server?.stop();
});

function freshDb(): Promise<string> {
  return server.createDatabase(uniqueDbName("migrate"));
}

/** A database where the runner has applied the repository's migrations (a copy of the template). */
function migratedDb(): Promise<string> {
  return server.createDatabase(uniqueDbName("migrated"), { template: MIGRATED });
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
    expect(await tablesExist(url, REPO_TABLES)).toEqual(REPO_TABLES.map(() => true));

    const second = await runShell(url);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain("applied 0");
    expect(second.stdout).toContain(`0 applied, ${N} already up to date`);
    expect(await appliedMigrations(url)).toEqual(rows);
  });

  it("applies only the new migration when one is added later", async () => {
    const url = await migratedDb();
    const dir = tempMigrations();

    writeFileSync(join(dir, "0900_audit_log.sql"), "CREATE TABLE audit_log (id bigint PRIMARY KEY);\n");
    const result = await runShell(url, ["--dir", dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^applied 0900_audit_log \(sha256 [0-9a-f]{64}\)$/m);
    expect(result.stdout).toContain(`1 applied, ${N} already up to date`);
    expect(await tableExists(url, "audit_log")).toBe(true);
  });

  it("takes its connection from the PG* variables only: a DATABASE_URL alone is refused, and so is nothing", async () => {
    const url = await freshDb();
    const viaUrl = await runShell(undefined, [], { DATABASE_URL: url });
    expect(viaUrl.code).toBe(2);
    expect(viaUrl.stderr).toBe(
      "migrate.sh: error: no database configured: set the libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and PGSSLMODE (DATABASE_URL is not read here: npm run migrate turns a URL into PG* variables)\n",
    );
    const nothing = await runShell(undefined);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("no database configured: set the libpq variables PGHOST");
    expect(nothing.stderr).not.toContain("DATABASE_URL");
    expect(await appliedMigrations(url)).toBeNull();

    // PG* wins over a DATABASE_URL naming another database: the URL is not read at all.
    const other = await freshDb();
    const both = await runShell(url, [], { DATABASE_URL: other });
    expect(both.code).toBe(0);
    expect((await appliedMigrations(url))?.length).toBe(N);
    expect(await appliedMigrations(other)).toBeNull();
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
    const url = await migratedDb();
    const dir = tempMigrations();
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
    const url = await migratedDb();
    const dir = tempMigrations();

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

    expect(await tablesExist(url, ["half_done", "after_table", "good_table"])).toEqual([false, false, true]);
    const versions = (await appliedMigrations(url))?.map((r) => r.version);
    expect(versions).toEqual([...REPO_MIGRATION_FILES.map((f) => f.slice(0, 4)), "0900"]);

    // Fixing the broken file lets the next run continue where this one stopped.
    writeFileSync(join(dir, "0901_broken.sql"), "CREATE TABLE half_done (id int);\n");
    const retry = await runShell(url, ["--dir", dir]);
    expect(retry.code).toBe(0);
    expect(retry.stdout).toContain(`2 applied, ${N + 1} already up to date`);
  });
});

describe("db/migrate.sh timeouts", () => {
  it("runs each migration with lock_timeout 5s and statement_timeout 5min, which a file may raise and which end with it", async () => {
    const url = await freshDb();
    const dir = emptyDir();
    tempDirs.push(dir);
    const record = "SELECT current_setting('lock_timeout') AS lock_timeout, current_setting('statement_timeout') AS statement_timeout";
    writeFileSync(join(dir, "0001_defaults.sql"), `CREATE TABLE defaults AS ${record};\n`);
    writeFileSync(
      join(dir, "0002_raised.sql"),
      `SET LOCAL lock_timeout = '30s';\nSET LOCAL statement_timeout = '30min';\nCREATE TABLE raised AS ${record};\n`,
    );
    writeFileSync(join(dir, "0003_after.sql"), `CREATE TABLE after_raised AS ${record};\n`);
    const result = await runShell(url, ["--dir", dir]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    await withClient(url, async (client) => {
      const read = async (table: string) => (await client.query(`SELECT lock_timeout, statement_timeout FROM ${table}`)).rows;
      expect(await read("defaults")).toEqual([{ lock_timeout: "5s", statement_timeout: "5min" }]);
      expect(await read("raised")).toEqual([{ lock_timeout: "30s", statement_timeout: "30min" }]);
      expect(await read("after_raised")).toEqual([{ lock_timeout: "5s", statement_timeout: "5min" }]);
    });
  });

  it("a migration that cannot get its lock in time fails and is rolled back; the next run applies it", async () => {
    const url = await migratedDb();
    const dir = tempMigrations();
    writeFileSync(
      join(dir, "0900_add_column.sql"),
      "SET LOCAL lock_timeout = '200ms';\nCREATE TABLE lock_probe (id bigint);\nALTER TABLE users ADD COLUMN nickname text;\n",
    );
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE users IN ACCESS SHARE MODE");
      const blocked = await runShell(url, ["--dir", dir]);
      expect(blocked.code).toBe(1);
      expect(blocked.stderr).toContain("0900_add_column.sql:3");
      expect(blocked.stderr).toContain("canceling statement due to lock timeout");
      expect(blocked.stderr).toContain("migration 0900_add_column failed and was rolled back");
      expect(await tableExists(url, "lock_probe")).toBe(false);
    } finally {
      await holder.query("ROLLBACK");
      await holder.end();
    }
    const retry = await runShell(url, ["--dir", dir]);
    expect(retry.code).toBe(0);
    expect(retry.stdout).toContain(`1 applied, ${N} already up to date`);
  });
});

describe("db/migrate.sh refuses a bad directory before connecting", () => {
  it("refuses a bad file name and a duplicate version, without touching the database", async () => {
    const url = await freshDb();
    const badName = tempMigrations();
    writeFileSync(join(badName, "0900_Add-Things.sql"), "SELECT 1;\n");
    const r1 = await runShell(url, ["--dir", badName]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain("refusing 0900_Add-Things.sql: migration file names must match");

    const duplicate = tempMigrations();
    writeFileSync(join(duplicate, "0001_again.sql"), "SELECT 1;\n");
    const r2 = await runShell(url, ["--dir", duplicate]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain("duplicate migration version 0001: 0001_again.sql 0001_users.sql");

    expect(await appliedMigrations(url)).toBeNull(); // not even schema_migrations was created
  });
});

describe("db/migrate.sh under busybox (postgres:*-alpine)", () => {
  it("applies every migration with busybox sh, only busybox tools and psql on PATH", async () => {
    const busybox = spawnSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).stdout.trim();
    // Never skipped: .ci/run installs busybox.
    expect(busybox, "busybox is not installed (apt-get install -y busybox; .ci/run does)").not.toBe("");
    const bin = emptyDir();
    tempDirs.push(bin);
    expect(spawnSync(busybox, ["--install", "-s", bin]).status).toBe(0);
    // The psql binary itself (Debian's /usr/bin/psql is a Perl wrapper, which needs more than busybox).
    const psql = spawnSync("sh", ["-c", "ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1"], { encoding: "utf8" }).stdout.trim();
    expect(psql, "psql from /usr/lib/postgresql/*/bin").not.toBe("");
    symlinkSync(psql, join(bin, "psql"));

    const url = await freshDb();
    const result = spawnSync(join(bin, "sh"), [RUNNER], {
      encoding: "utf8",
      env: { ...cleanEnv(libpqEnv(url)), PATH: bin },
    });
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain(`${N} applied, 0 already up to date`);
    expect(result.status).toBe(0);
    expect((await appliedMigrations(url))?.length).toBe(N);
  });
});

describe("db/migrate.sh never prints the password", () => {
  it("keeps PGPASSWORD out of its output, on success and on failure", async () => {
    const db = uniqueDbName("migrate");
    await server.createDatabase(db);
    // trust auth ignores the password, which lets us check it is never echoed.
    const secret = "s3cr3t@pass/word";
    const env = { ...libpqEnv(server.url(db)), PGPASSWORD: secret };
    const ok = await runShell(undefined, [], env);
    expect(ok.code).toBe(0);
    const broken = await runShell(undefined, [], { ...env, PGDATABASE: "no_such_db" });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("could not connect");
    for (const output of [ok.stdout, ok.stderr, broken.stdout, broken.stderr]) expect(output).not.toContain(secret);
  });
});

describe("npm run migrate (app/migrate-command.ts, through bin/plue.mjs)", () => {
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

  it("decodes a URL into the PG* variables that give psql the same connection as the URL itself", async () => {
    // A database name, a password and parameters that need decoding; a socket directory.
    const db = "migrate ü x";
    await withClient(server.url(), (client) => client.query(`CREATE DATABASE "${db}"`));
    const socketDir = await withClient(server.url(), async (client) => {
      const result = await client.query<{ unix_socket_directories: string }>("SHOW unix_socket_directories");
      return result.rows[0]?.unix_socket_directories ?? "";
    });
    expect(socketDir.startsWith("/")).toBe(true);
    const port = server.port;
    const name = encodeURIComponent(db);
    const cases: [string, string][] = [
      [
        `postgresql://postgres:${encodeURIComponent("p@ss/w:rd?#")}@127.0.0.1:${port}/${name}?application_name=plue%20check&options=-c%20search_path%3Dplue_x`,
        `postgres|${db}|${port}|plue check|plue_x`,
      ],
      [`postgres://127.0.0.1:1,127.0.0.1:${port}/${name}?user=postgres&connect_timeout=5`, `postgres|${db}|${port}|psql|"$user", public`],
      [`postgresql://${encodeURIComponent(socketDir)}:${port}/${name}?user=postgres`, `postgres|${db}||psql|"$user", public`],
      [
        `postgresql:///${name}?host=${socketDir}&port=${port}&user=postgres&application_name=via+socket`,
        `postgres|${db}||via+socket|"$user", public`,
      ],
    ];
    const query =
      "SELECT current_user, current_database(), inet_server_port(), current_setting('application_name'), current_setting('search_path')";
    for (const [url, expected] of cases) {
      const [viaUrl, viaEnv] = await Promise.all([
        run("psql", ["-X", "-A", "-t", "-d", url, "-c", query], cleanEnv()),
        run("psql", ["-X", "-A", "-t", "-c", query], cleanEnv(libpqUrlToEnv(url))),
      ]);
      expect(viaUrl, url).toEqual({ code: 0, stdout: `${expected}\n`, stderr: "" });
      expect(viaEnv, url).toEqual(viaUrl);
    }
  });
});

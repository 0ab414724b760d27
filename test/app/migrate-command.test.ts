/**
 * `npm run migrate` in-process: its usage errors, and the environment it starts the runner
 * with (PG* variables decoded from the URL, no DATABASE_URL, nothing on the command line).
 * The runner against a real PostgreSQL server, through the real process: test/db/migrate.test.ts.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CliIo, capture } from "../../app/cli/kit.ts";
import { main, type RunnerLaunch, runnerEnv } from "../../app/migrate-command.ts";
import { DEFAULT_MIGRATIONS_DIR, RUNNER_SCRIPT_PATH } from "../../db/migrations.ts";

const work = mkdtempSync(join(tmpdir(), "plue-migrate-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A PATH holding nothing, so the command stops before starting anything. */
const EMPTY_PATH = work;

/** Runs migrate in-process; `launches` collects what the runner would be started with. */
async function migrate(args: readonly string[], env: CliIo["env"] = { PATH: process.env.PATH }) {
  const launches: RunnerLaunch[] = [];
  const r = await capture((argv, io) => main(argv, io, { spawned: (l) => launches.push(l) }), args, { env });
  return { ...r, launches };
}

describe("npm run migrate usage", () => {
  it("--help prints the common layout and exits 0", async () => {
    const r = await migrate(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout.startsWith("Usage: npm run migrate -- [--database-url <url>] [--dir <dir>] [--check]\n\n")).toBe(true);
    expect(r.stdout).toMatch(/\nOptions:\n {6}--database-url <url> /);
    expect(r.stdout).toContain(
      "\nExit codes:\n  0    every migration applied (or already applied); with --check: the files are valid\n  1    refused (a lint finding, an applied migration changed or missing) or failed\n  2    bad arguments, database URL or migrations directory\n  127  psql not found on PATH\n",
    );
    expect(r.stdout).toMatch(/\nExamples:\n {2}DATABASE_URL=/);
  });

  it("fails without a database (exit 2, one line)", async () => {
    expect(await migrate([])).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "migrate: '--database-url' is not given and DATABASE_URL is not set (got nothing). Export DATABASE_URL=postgresql://… (keeps the password out of your shell history), pass --database-url, or set PGHOST/PGDATABASE.\n",
      launches: [],
    });
  });

  it("fails on bad arguments with one line each, never echoing a value", async () => {
    const cases: [readonly string[], string][] = [
      [["--frobnicate"], "migrate: '--frobnicate' is not a known option (got --frobnicate). See npm run migrate -- --help."],
      [
        ["--database-url=postgresql://root:hunter2@db/app", "--frobnicate=hunter2"],
        "migrate: '--frobnicate' is not a known option (got --frobnicate=…). See npm run migrate -- --help.",
      ],
      [
        ["--database-url"],
        "migrate: '--database-url' needs a value (got nothing). Give --database-url <url>; see npm run migrate -- --help.",
      ],
      [
        ["--database-url", "--check"],
        "migrate: '--database-url' needs a value (got an option). Give --database-url <url>; see npm run migrate -- --help.",
      ],
      [
        ["postgresql://root:hunter2@db/app"],
        "migrate: an argument is not an option (got 1 argument, not shown: it may hold a secret). migrate takes options only; see npm run migrate -- --help.",
      ],
      [
        ["--database-url", "mysql://root:hunter2@db/app"],
        "migrate: '--database-url' is not a postgresql:// URL (got a mysql: URL). Start it with postgresql:// (or postgres://).",
      ],
      [
        ["--database-url", "postgresql://root:hun/ter2@db/app"],
        "migrate: '--database-url' has a non-numeric port (got a port of 3 characters, not shown). Give the port as a number, e.g. :5432; percent-encode '/', '@' and ':' in a password.",
      ],
    ];
    for (const [args, line] of cases)
      expect(await migrate(args), args.join(" ")).toEqual({ code: 2, stdout: "", stderr: `${line}\n`, launches: [] });
  });

  it("names DATABASE_URL when the bad URL came from the environment", async () => {
    const r = await migrate([], { PATH: process.env.PATH, DATABASE_URL: "postgresql://u:hunter2@h/d?sslmode" });
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr: "migrate: 'DATABASE_URL' has a query parameter without a value (got a parameter without '='). Write key=value.\n",
      launches: [],
    });
  });

  it("fails if psql is not on PATH (exit 127), before starting anything", async () => {
    const r = await migrate(["--database-url", "postgresql://u@127.0.0.1:1/db"], { PATH: EMPTY_PATH });
    expect(r.code).toBe(127);
    expect(r.stderr).toBe(
      "migrate: 'psql' is not on PATH (got no psql in any PATH directory). Install the PostgreSQL client (Debian/Ubuntu: apt-get install -y postgresql-client, macOS: brew install libpq).\n",
    );
    expect(r.launches).toEqual([]);
  });

  it("fails if --dir is not a directory (exit 2)", async () => {
    const dir = join(work, "nowhere");
    const r = await migrate(["--check", "--dir", dir]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr: `migrate: '--dir' is not a directory (got ${dir}). Give the migrations directory (default: db/migrations).\n`,
      launches: [],
    });
  });
});

describe("npm run migrate starts the runner", () => {
  it("with the URL decoded into PG* variables in its environment: never DATABASE_URL, never on the command line", async () => {
    const password = "s3cr3t@pass/word";
    const url = `postgresql://plue_app:${encodeURIComponent(password)}@127.0.0.1:1/plue?sslmode=disable&connect_timeout=1`;
    const r = await migrate(["--database-url", url], {
      PATH: process.env.PATH,
      DATABASE_URL: "postgresql://other@elsewhere/x",
      PGUSER: "ignored",
    });
    expect(r.launches).toHaveLength(1);
    const launch = r.launches[0] as RunnerLaunch;
    expect(launch.command).toBe("sh");
    expect(launch.args).toEqual([RUNNER_SCRIPT_PATH, "--dir", DEFAULT_MIGRATIONS_DIR]);
    expect(launch.env).toEqual({
      PATH: process.env.PATH,
      PGUSER: "plue_app",
      PGPASSWORD: password,
      PGHOST: "127.0.0.1",
      PGPORT: "1",
      PGDATABASE: "plue",
      PGSSLMODE: "disable",
      PGCONNECT_TIMEOUT: "1",
    });
    // Nothing listens on port 1: the runner (a real psql) fails to connect, exit 1, and no
    // output names the URL or its password.
    expect(r.code).toBe(1);
    for (const text of [r.stdout, r.stderr]) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(encodeURIComponent(password));
      expect(text).not.toContain("postgresql://");
    }
  });

  it("takes DATABASE_URL from the environment, with inherited PG* variables filling what the URL leaves out", () => {
    expect(
      runnerEnv({ PGPASSWORD: "from-env", PGSSLROOTCERT: "/ca.pem", DATABASE_URL: "x", HOME: "/h" }, "postgresql://u@h/d", "DATABASE_URL"),
    ).toEqual({
      PGPASSWORD: "from-env",
      PGSSLROOTCERT: "/ca.pem",
      HOME: "/h",
      PGUSER: "u",
      PGHOST: "h",
      PGDATABASE: "d",
    });
  });

  it("with --check: no database needed, no URL decoded, DATABASE_URL not passed on", async () => {
    const r = await migrate(["--check"], { PATH: process.env.PATH, DATABASE_URL: "postgresql://u:pw@h/d" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(DEFAULT_MIGRATIONS_DIR); // the runner's own report
    expect(r.launches.map((l) => [l.args, l.env])).toEqual([
      [[RUNNER_SCRIPT_PATH, "--dir", DEFAULT_MIGRATIONS_DIR, "--check"], { PATH: process.env.PATH }],
    ]);
  });

  it("with only PG* variables (no URL), as they are", async () => {
    const r = await migrate([], { PATH: process.env.PATH, PGHOST: "127.0.0.1", PGPORT: "1", PGCONNECT_TIMEOUT: "1" });
    expect(r.launches.map((l) => l.env)).toEqual([{ PATH: process.env.PATH, PGHOST: "127.0.0.1", PGPORT: "1", PGCONNECT_TIMEOUT: "1" }]);
    expect(r.code).toBe(1);
  });

  it("never, when the lint refuses a migration: exit 1 naming file and line, with and without --check", async () => {
    const dir = join(work, "bad-migrations");
    cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    writeFileSync(join(dir, "0900_drop_keys.sql"), "-- no longer needed\n\nDROP TABLE ssh_keys;\n");
    for (const args of [
      ["--dir", dir, "--database-url", "postgresql://u@127.0.0.1:1/db"],
      ["--dir", dir, "--check"],
    ]) {
      const r = await migrate(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        [
          "1 problem in the migrations; nothing was applied:",
          `${join(dir, "0900_drop_keys.sql")}:3: 'destructive-statement' DROP TABLE destroys data and the file has no reviewed marker (got DROP TABLE ssh_keys). If it is intended and reviewed, add the line "-- plue:allow-destructive reviewed-by=<name>" to the file.`,
          "",
        ].join("\n"),
      );
      expect(r.launches).toEqual([]);
    }
  });
});

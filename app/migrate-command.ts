/**
 * `npm run migrate -- [--database-url <url>] [--dir <dir>] [--check]`: runs the schema
 * migrations from a developer machine or CI through the runner the Kubernetes Job runs
 * (`db/migrate.sh`).
 *
 * The runner takes its connection from the libpq `PG*` variables only. This command decodes
 * `--database-url` (or DATABASE_URL) into them (lib/libpq-url.ts) and hands them to the runner
 * in its environment: the URL and its password never reach a command line, and are never
 * printed. Exit codes: the runner's (0 done, 1 refused or failed), 2 bad usage, 127 psql
 * missing.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { formatFinding, lintMigrations } from "../db/lint.ts";
import { DEFAULT_MIGRATIONS_DIR, RUNNER_SCRIPT_PATH } from "../db/migrations.ts";
import { LibpqUrlError, libpqUrlToEnv } from "../lib/libpq-url.ts";
import { addOption, CliError, type CliIo, type CommandSpec, defineCommand, nonEmpty, runAsync, setAction, UsageError } from "./cli/kit.ts";

/** Help and error texts of `npm run migrate`. */
export const MIGRATE_SPEC: CommandSpec = {
  where: "migrate",
  invocation: "npm run migrate --",
  usage: "[--database-url <url>] [--dir <dir>] [--check]",
  description: [
    "Lints the migrations as npm run synth does (squawk and db/lint.ts: destructive statements",
    "need a reviewed marker), then applies the pending ones with db/migrate.sh, the runner the",
    "Kubernetes schema Job runs: one advisory lock, checksums of applied files, each migration in",
    "its own transaction. The URL is decoded here into the libpq PG* variables the runner reads;",
    "it never reaches a command line and is never printed.",
  ].join("\n"),
  sections: [
    {
      title: "Environment",
      lines: [
        "DATABASE_URL  the database when --database-url is not given (keeps the password out of",
        "              your shell history)",
        "PG*           libpq variables (PGHOST, PGPASSWORD, PGSSLROOTCERT, ...): used as they are",
        "              without a URL; with one, they fill what the URL leaves out",
      ],
    },
    { title: "Requires", lines: ["psql (the PostgreSQL client) on PATH, except with --check"] },
  ],
  exitCodes: [
    [0, "every migration applied (or already applied); with --check: the files are valid"],
    [1, "refused (a lint finding, an applied migration changed or missing) or failed"],
    [2, "bad arguments, database URL or migrations directory"],
    [127, "psql not found on PATH"],
  ],
  examples: [
    "DATABASE_URL='postgresql://plue_app:…@10.0.0.5:5432/plue?sslmode=verify-full' npm run migrate",
    "npm run migrate -- --check",
    "npm run migrate -- --dir /tmp/migrations --database-url 'postgresql:///plue?host=/var/run/postgresql'",
  ],
  secretOperands: true,
};

interface MigrateOptions {
  readonly databaseUrl?: string;
  readonly dir?: string;
  readonly check?: boolean;
}

/** What the runner is started with; tests read it from {@link MigrateHooks.spawned}. */
export interface RunnerLaunch {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Test hooks. */
export interface MigrateHooks {
  /** Called with what the runner is started with, before it starts. */
  readonly spawned?: (launch: RunnerLaunch) => void;
}

/** Runs `migrate` with `argv` (without the program name); resolves to the exit code. */
export function main(argv: readonly string[], io: CliIo, hooks: MigrateHooks = {}): Promise<number> {
  const cmd = defineCommand("migrate", MIGRATE_SPEC);
  addOption(cmd, "--database-url <url>", "postgresql://user:password@host:port/dbname?params (default: $DATABASE_URL)", undefined, {
    secret: true,
  });
  addOption(cmd, "--dir <dir>", "migrations directory (default: db/migrations)", nonEmpty("a directory"));
  cmd.option("--check", "only lint and validate the migration files; do not connect");
  setAction<MigrateOptions>(cmd, (opts) => migrate(opts, io, hooks));
  return runAsync(cmd, argv, io);
}

/**
 * The runner's environment: the caller's, without DATABASE_URL, with the URL's PG* variables
 * on top (libpq's precedence: what the URL gives wins, the rest comes from the environment).
 */
export function runnerEnv(
  inherited: Readonly<Record<string, string | undefined>>,
  url: string | undefined,
  field: string,
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...inherited };
  delete env.DATABASE_URL;
  if (url === undefined) return env;
  try {
    return { ...env, ...libpqUrlToEnv(url) };
  } catch (error) {
    if (error instanceof LibpqUrlError) {
      throw new UsageError(`migrate: '${field}' ${error.problem} (got ${error.got}). ${error.fix}`);
    }
    throw error;
  }
}

async function migrate(opts: MigrateOptions, io: CliIo, hooks: MigrateHooks): Promise<number> {
  const dir = opts.dir === undefined ? DEFAULT_MIGRATIONS_DIR : resolve(io.cwd, opts.dir);
  const fromFlag = opts.databaseUrl !== undefined;
  const url = opts.databaseUrl ?? (io.env.DATABASE_URL === "" ? undefined : io.env.DATABASE_URL);
  const field = fromFlag ? "--database-url" : "DATABASE_URL";
  const libpqTarget = ["PGHOST", "PGHOSTADDR", "PGDATABASE", "PGSERVICE"].some((name) => (io.env[name] ?? "") !== "");
  if (!opts.check && url === undefined && !libpqTarget) {
    throw new UsageError(
      "migrate: '--database-url' is not given and DATABASE_URL is not set (got nothing). Export DATABASE_URL=postgresql://… (keeps the password out of your shell history), pass --database-url, or set PGHOST/PGDATABASE.",
    );
  }
  const env = runnerEnv(io.env, opts.check ? undefined : url, field);
  if (!opts.check && findOnPath("psql", env.PATH) === undefined) {
    throw new CliError(
      "migrate: 'psql' is not on PATH (got no psql in any PATH directory). Install the PostgreSQL client (Debian/Ubuntu: apt-get install -y postgresql-client, macOS: brew install libpq).",
      127,
    );
  }
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`migrate: '--dir' is not a directory (got ${dir}). Give the migrations directory (default: db/migrations).`);
  }

  // The SQL the runner will apply, linted as synth lints it (the runner reads no SQL itself).
  let findings: ReturnType<typeof lintMigrations>;
  try {
    findings = lintMigrations(dir);
  } catch (error) {
    throw new CliError(`migrate: the migrations could not be linted: ${(error as Error).message}`, 1);
  }
  if (findings.length > 0) {
    const n = findings.length;
    throw new CliError(
      `${n} problem${n === 1 ? "" : "s"} in the migrations; nothing was applied:\n${findings.map(formatFinding).join("\n")}`,
      1,
    );
  }

  const args = [RUNNER_SCRIPT_PATH, "--dir", dir, ...(opts.check ? ["--check"] : [])];
  hooks.spawned?.({ command: "sh", args, env });
  const child = spawn("sh", args, { env, cwd: io.cwd, stdio: ["inherit", "pipe", "pipe"] });
  child.stdout.setEncoding("utf8").on("data", (text: string) => io.stdout(text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => io.stderr(text));
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  try {
    return await new Promise<number>((done, fail) => {
      child.on("error", (error) =>
        fail(new CliError(`migrate: the runner could not start: ${error.message}. Check that sh is on PATH.`, 1)),
      );
      child.on("close", (code, signal) => {
        if (signal !== null)
          fail(new CliError(`migrate: the runner was stopped by ${signal}. Run it again; applied migrations are kept.`, 1));
        else done(code ?? 1);
      });
    });
  } finally {
    process.off("SIGINT", forward);
    process.off("SIGTERM", forward);
  }
}

function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * `npm run migrate -- --database-url <url>`: runs the schema migrations from
 * a developer machine or CI, through the same runner the Kubernetes Job uses
 * (`db/migrate.sh`).
 *
 * The URL is handed to the runner in its environment (DATABASE_URL), never on
 * a command line, and is never printed. Exit status: the runner's (0 ok,
 * 1 refused or failed), 2 for bad usage, 127 when psql is missing.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { DEFAULT_MIGRATIONS_DIR, RUNNER_SCRIPT_PATH } from "../db/migrations.ts";

const USAGE = `Usage: npm run migrate -- [--database-url URL] [--dir DIR] [--check]

Applies the pending PostgreSQL migrations with db/migrate.sh (the runner the
Kubernetes schema Job runs).

Options:
  --database-url URL  postgresql://user:password@host:port/dbname?params
                      (default: the DATABASE_URL environment variable, which
                      keeps the password out of your shell history)
  --dir DIR           migrations directory (default: db/migrations)
  --check             only validate the migration files; do not connect
  -h, --help          show this help

Requires psql (PostgreSQL client) on PATH.
`;

class UsageError extends Error {}

interface Options {
  databaseUrl: string | undefined;
  dir: string;
  check: boolean;
  help: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { databaseUrl: undefined, dir: DEFAULT_MIGRATIONS_DIR, check: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const [flag, inline] =
      arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) throw new UsageError(`${flag} needs a value`);
      i++;
      return next;
    };
    switch (flag) {
      case "--database-url":
        options.databaseUrl = value();
        break;
      case "--dir":
        options.dir = resolve(value());
        break;
      case "--check":
        options.check = true;
        break;
      case "-h":
      case "--help":
        options.help = true;
        break;
      default:
        // Only option names are echoed: a stray value may be a URL with a password.
        throw new UsageError(flag.startsWith("-") ? `unknown option ${flag}` : "unexpected argument (not shown; it may contain a secret)");
    }
  }
  return options;
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
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

function fail(message: string, code: number): never {
  process.stderr.write(`migrate: ${message}\n`);
  process.exit(code);
}

function main(): void {
  let options: Options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message} (see --help)`, 2);
    throw err;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }

  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL;
  if (!options.check) {
    if (databaseUrl === undefined || databaseUrl === "") {
      fail("no database: pass --database-url URL or set DATABASE_URL (see --help)", 2);
    }
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
      fail("the database URL must start with postgresql:// or postgres:// (see --help)", 2);
    }
    if (findOnPath("psql") === undefined) {
      fail(
        "psql not found on PATH; install the PostgreSQL client (Debian/Ubuntu: apt-get install -y postgresql-client, macOS: brew install libpq)",
        127,
      );
    }
  }
  if (!statSync(options.dir, { throwIfNoEntry: false })?.isDirectory()) {
    fail(`migrations directory not found: ${options.dir}`, 2);
  }

  const env: NodeJS.ProcessEnv = { ...process.env };
  if (databaseUrl !== undefined && databaseUrl !== "") env.DATABASE_URL = databaseUrl;
  const args = [RUNNER_SCRIPT_PATH, "--dir", options.dir];
  if (options.check) args.push("--check");

  const child = spawn("sh", args, { env, stdio: "inherit" });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  child.on("error", (err) => fail(`could not start the runner: ${err.message}`, 1));
  child.on("exit", (code, signal) => {
    process.off("SIGINT", forward);
    process.off("SIGTERM", forward);
    if (signal !== null) fail(`the runner was killed by ${signal}`, 1);
    process.exit(code ?? 1);
  });
}

main();

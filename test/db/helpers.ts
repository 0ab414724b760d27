/** Shared helpers for the database tests: run the real runner, temp migration dirs, queries. */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { REPO_ROOT } from "../../lib/paths.ts";
import { runScript } from "../support/launcher.ts";

export { REPO_ROOT };
export const MIGRATIONS_DIR = join(REPO_ROOT, "db", "migrations");
export const RUNNER = join(REPO_ROOT, "db", "migrate.sh");

/** The repository's migration files, sorted. */
export const REPO_MIGRATION_FILES: string[] = readdirSync(MIGRATIONS_DIR)
  .filter((f) => f.endsWith(".sql"))
  .sort();

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A child environment with no connection settings leaking in from the test
 * process (DATABASE_URL, PG*), plus `extra`.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === "DATABASE_URL" || key.startsWith("PG")) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs a command to completion, collecting its output. */
export function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The libpq variables for one of the test server's URLs (`postgresql://user[:password]@host:port/db`),
 * as the schema Job gets them from its Secret.
 */
export function libpqEnv(url: string): Record<string, string> {
  const u = new URL(url);
  const env: Record<string, string> = {
    PGHOST: u.hostname,
    PGPORT: u.port,
    PGUSER: decodeURIComponent(u.username),
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
  };
  if (u.password !== "") env.PGPASSWORD = decodeURIComponent(u.password);
  return env;
}

/** `sh db/migrate.sh [args]` connected to `url` through the PG* variables (none when `url` is undefined), plus `env`. */
export function runShell(url: string | undefined, args: readonly string[] = [], env: Record<string, string> = {}): Promise<RunResult> {
  return run("sh", [RUNNER, ...args], cleanEnv({ ...(url !== undefined ? libpqEnv(url) : {}), ...env }));
}

/** A temp copy of the repository's migrations directory; remove it with `removeDir`. */
export function copyMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), "plue-migrations-"));
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

/** An empty temp directory; remove it with `removeDir`. */
export function emptyDir(): string {
  return mkdtempSync(join(tmpdir(), "plue-migrations-"));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Runs `fn` with a connected client, always disconnecting. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Rows of schema_migrations ordered by version, or `null` when the table does not exist. */
export async function appliedMigrations(url: string): Promise<{ version: string; name: string; checksum: string }[] | null> {
  return withClient(url, async (client) => {
    const exists = await client.query<{ t: string | null }>("SELECT to_regclass('public.schema_migrations')::text AS t");
    if (exists.rows[0]?.t == null) return null;
    const rows = await client.query<{ version: string; name: string; checksum: string }>(
      "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
    );
    return rows.rows;
  });
}

/** Whether a table named `name` exists in the public schema. */
export async function tableExists(url: string, name: string): Promise<boolean> {
  return withClient(url, async (client) => {
    const result = await client.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [`public.${name}`]);
    return result.rows[0]?.t != null;
  });
}

/** Whether each of `names` exists as a table in the public schema (one connection). */
export async function tablesExist(url: string, names: readonly string[]): Promise<boolean[]> {
  return withClient(url, async (client) => {
    const result = await client.query<{ t: string | null }>(
      "SELECT to_regclass('public.' || n)::text AS t FROM unnest($1::text[]) WITH ORDINALITY AS x(n, i) ORDER BY i",
      [names],
    );
    return result.rows.map((r) => r.t != null);
  });
}

let counter = 0;
/** A database name unique within this process (vitest runs each file in its own process). */
export function uniqueDbName(prefix: string): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}`;
}

/** `npm run migrate -- [args]` as its script runs it (`node bin/plue.mjs migrate`), with a clean environment. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  return runScript("migrate", args, cleanEnv(env));
}

/**
 * Helpers for packaging the database migrations, e.g. into the ConfigMap and
 * schema Job of the Kubernetes chart.
 *
 * The runner (`db/migrate.sh`) checks the file names again in the cluster;
 * these helpers apply the same file-name rules (and `db/lint.ts` the SQL rules)
 * so that a bad directory fails at synth time already, and give a content hash that changes
 * whenever anything the Job would run changes (use it in the Job's name or an
 * annotation so a new schema means a new Job).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../lib/paths.ts";

/** Absolute path of the repository's migrations directory (`db/migrations`). */
export const DEFAULT_MIGRATIONS_DIR: string = join(REPO_ROOT, "db", "migrations");

/** Absolute path of the migration runner script (`db/migrate.sh`). */
export const RUNNER_SCRIPT_PATH: string = join(REPO_ROOT, "db", "migrate.sh");

/**
 * File names the runner accepts: a 4-digit version, an underscore, a
 * lowercase name. Anything else in a migrations directory is refused.
 */
export const MIGRATION_FILE_PATTERN: RegExp = /^([0-9]{4})_([a-z0-9_]+)\.sql$/;

/** One migration file, as the runner will see it. */
export interface Migration {
  /** The 4-digit version, e.g. `"0002"`; the key in `schema_migrations`. */
  version: string;
  /** The name after the version, e.g. `"siwe_nonces"`. */
  name: string;
  /** The file name, e.g. `"0002_siwe_nonces.sql"`. */
  file: string;
  /** The file's contents (UTF-8). */
  sql: string;
  /** Lowercase hex SHA-256 of the file's bytes; what the runner records as `checksum`. */
  sha256: string;
}

/**
 * Lists the migrations in `dir` (default: the repository's `db/migrations`),
 * sorted by version.
 *
 * Hidden entries (dot files, such as a ConfigMap mount's `..data`) are
 * ignored, like the runner's `*` glob does. Throws, naming the entry, on
 * anything else that is not a migration file the runner would accept (bad
 * name, not a regular file) and on duplicate versions.
 */
export function listMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (file.startsWith(".")) continue;
    const match = MIGRATION_FILE_PATTERN.exec(file);
    if (match === null) {
      throw new Error(`invalid migration file name ${file} in ${dir}: names must match ${MIGRATION_FILE_PATTERN.source}`);
    }
    const path = join(dir, file);
    if (!statSync(path).isFile()) throw new Error(`migration ${file} in ${dir} is not a regular file`);
    const bytes = readFileSync(path);
    migrations.push({
      version: match[1] ?? "",
      name: match[2] ?? "",
      file,
      sql: bytes.toString("utf8"),
      sha256: createHash("sha256").update(bytes).digest("hex"),
    });
  }
  for (let i = 1; i < migrations.length; i++) {
    const previous = migrations[i - 1];
    const current = migrations[i];
    if (previous !== undefined && current !== undefined && previous.version === current.version) {
      throw new Error(`duplicate migration version ${current.version} in ${dir}: ${previous.file}, ${current.file}`);
    }
  }
  return migrations;
}

/** The contents of the migration runner script, `db/migrate.sh`. */
export function runnerScript(): string {
  return readFileSync(RUNNER_SCRIPT_PATH, "utf8");
}

/**
 * A deterministic SHA-256 (lowercase hex) over the runner script and every
 * migration's file name and contents in `dir` (default: `db/migrations`).
 *
 * It changes when any migration is added, removed, renamed or edited, or the
 * runner changes, and only then. Each part is length-prefixed, so different
 * inputs cannot produce the same byte stream.
 */
export function migrationsHash(dir: string = DEFAULT_MIGRATIONS_DIR): string {
  const hash = createHash("sha256");
  const part = (data: string | Buffer): void => {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    hash.update(`${bytes.length}:`);
    hash.update(bytes);
  };
  part("plue-migrations/v1");
  part(readFileSync(RUNNER_SCRIPT_PATH));
  for (const migration of listMigrations(dir)) {
    part(migration.file);
    part(readFileSync(join(dir, migration.file)));
  }
  return hash.digest("hex");
}

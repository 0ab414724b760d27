/**
 * Loads an environment file through a cache of validated results, so a command that starts
 * often (`npm run pki -- status` from cron) does not load the validator (zod, yaml: about
 * 200 ms of a 300 ms budget, docs/adr/0016) when the file has not changed.
 *
 * The cache holds, per environment, the validated configuration and a key: the SHA-256 of the
 * file's text together with the SHA-256 of every source file the validator is built from
 * (`config/load.ts` and what it imports, found by reading their imports) and the versions of
 * the packages they import. A hit is therefore exactly a file this validator accepted; any edit
 * to the file, the schema, its rules or zod/yaml misses, and a miss validates with
 * {@link loadConfig} (loaded on demand) and stores the result. Invalid files are never stored:
 * their errors come from the validator every time.
 */
import { readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "./errors.ts";
import type { PlueConfig } from "./schema.ts";
import { REPO_ROOT } from "../lib/paths.ts";

/** The validator's entry point; the key covers it and everything it imports. */
const VALIDATOR_ENTRY = "config/load.ts";

/** Version of the cache file's shape. */
const CACHE_FORMAT = 1;

/** Options of {@link loadConfigCached}. */
export interface CachedConfigOptions {
  /**
   * Directory of the environment files.
   * @default the repository's `config/`
   */
  readonly configDir?: string;
  /**
   * Directory of the cache.
   * @default the repository's `.cache/config/` (git-ignored)
   */
  readonly cacheDir?: string;
}

/** What {@link loadConfigCached} did, for tests and the bench. */
export interface CachedConfig {
  readonly config: PlueConfig;
  /** True when the cache answered (the validator was not loaded). */
  readonly hit: boolean;
}

let validatorKey: string | undefined;

/**
 * The SHA-256 of the validator's source files (the import closure of `config/load.ts` inside
 * the repository) and of the versions of the packages they import.
 */
export function validatorFingerprint(root: string = REPO_ROOT): string {
  if (root === REPO_ROOT && validatorKey !== undefined) return validatorKey;
  const hash = createHash("sha256");
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(join(root, file), "utf8");
    hash.update(`${file}\0${text}\0`);
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)"([^"]+)"/g)) {
      const spec = m[1] ?? "";
      if (spec.startsWith(".")) visit(resolve("/", dirname(file), spec).slice(1));
      else if (!spec.startsWith("node:"))
        packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] ?? spec));
    }
  };
  visit(VALIDATOR_ENTRY);
  for (const name of [...packages].sort()) {
    const version = (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
    hash.update(`${name}@${version}\0`);
  }
  const key = hash.digest("hex");
  if (root === REPO_ROOT) validatorKey = key;
  return key;
}

/**
 * Loads and validates `config/<envName>.yaml` like {@link loadConfig}, answering from the cache
 * when this validator already accepted this exact text.
 * @throws ConfigError naming the file, each field, its value and the fix
 */
export async function loadConfigCached(envName: string, options: CachedConfigOptions = {}): Promise<CachedConfig> {
  const configDir = options.configDir ?? join(REPO_ROOT, "config");
  const cacheDir = options.cacheDir ?? join(REPO_ROOT, ".cache", "config");
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(envName)) {
    throw new ConfigError([
      `--env: '${envName}' is not an environment name. Use lowercase letters, digits and hyphens (file config/<name>.yaml).`,
    ]);
  }
  let text: string;
  try {
    text = readFileSync(join(configDir, `${envName}.yaml`), "utf8");
  } catch {
    text = "";
  }
  const key = createHash("sha256").update(`${CACHE_FORMAT}\0${envName}\0${validatorFingerprint()}\0${text}`).digest("hex");
  const cachePath = join(cacheDir, `${envName}.json`);
  try {
    const cached = JSON.parse(readFileSync(cachePath, "utf8")) as { key?: unknown; config?: unknown };
    if (cached.key === key && typeof cached.config === "object" && cached.config !== null) {
      return { config: cached.config as PlueConfig, hit: true };
    }
  } catch {
    // No cache entry (or an unreadable one): validate below.
  }
  const { loadConfig } = await import("./load.ts");
  const config = loadConfig(envName, configDir);
  store(cachePath, `${JSON.stringify({ key, config })}\n`);
  return { config, hit: false };
}

/** Writes the cache entry atomically; a cache that cannot be written (read-only checkout) only costs the next start its speed. */
function store(path: string, text: string): void {
  const temp = `${path}.tmp-${randomBytes(4).toString("hex")}`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(temp, text, { mode: 0o644 });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    const code = (error as { code?: string }).code;
    if (code !== "EACCES" && code !== "EROFS" && code !== "EPERM" && code !== "ENOSPC") throw error;
  }
}

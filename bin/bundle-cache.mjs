/**
 * The content-hashed bundle cache of `bin/plue.mjs` (docs/adr/0009).
 *
 * Each command is one esbuild CommonJS bundle of our TypeScript (packages stay external, so
 * `require` loads them from node_modules), kept as an ordinary file
 * `<cacheDir>/<command>.<sha256 of the bundle>.cjs` beside a manifest `<command>.json` that
 * records the sha256 of every project file the bundle was built from (esbuild's metafile
 * inputs) and a key for everything else that shapes it (esbuild's version, the build options,
 * tsconfig.json). A start with a warm cache hashes those inputs and loads the bundle with
 * `createRequire(bundle)(bundle)`; any difference rebuilds it. Files are written to a temp name
 * and renamed, so processes that start together never see half a file; esbuild is imported
 * only to build.
 *
 * Only lib/paths.ts may use `import.meta.url` (the others use its REPO_ROOT): the bundle
 * defines it as the URL of lib/paths.ts computed at run time from the bundle's own directory,
 * so REPO_ROOT is right wherever the repository (and its cache) sits. A build refuses any
 * other input that mentions `import.meta`.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";

/** Bump to invalidate every cached bundle when this file's build logic changes. */
const FORMAT = 1;

/** The one source file allowed to read `import.meta.url`. */
export const PATHS_MODULE = "lib/paths.ts";

/** A failure the launcher prints as its message, one line per problem, with exit code 1. */
export class BundleError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "BundleError";
  }
}

/** @param {string | Buffer} data */
function sha256(data) {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * @param {string} path
 * @returns {string | undefined} the file's sha256, or undefined when it cannot be read
 */
function hashFile(path) {
  try {
    return sha256(readFileSync(path));
  } catch {
    return undefined;
  }
}

/**
 * Writes `text` to `path` through a temp file in the same directory and a rename.
 * @param {string} path
 * @param {string} text
 */
function writeAtomically(path, text) {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    writeFileSync(temp, text, { mode: 0o644 });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * The esbuild options of a command's bundle.
 * @param {{ root: string, cacheDir: string, entry: string }} where
 * @returns {import("esbuild").BuildOptions & { write: false, metafile: true }}
 */
function buildOptions({ root, cacheDir, entry }) {
  const pathsFromBundle = relative(cacheDir, join(root, PATHS_MODULE)).split("\\").join("/");
  return {
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    packages: "external",
    write: false,
    metafile: true,
    logLevel: "silent",
    charset: "utf8",
    define: { "import.meta.url": "__plue_import_meta_url" },
    banner: {
      js: `var __plue_import_meta_url = require("node:url").pathToFileURL(require("node:path").join(__dirname, ${JSON.stringify(pathsFromBundle)})).href;`,
    },
  };
}

/**
 * The key of everything but the inputs that shapes a bundle.
 * @param {{ root: string, cacheDir: string, entry: string }} where
 */
function cacheKey(where) {
  // esbuild is the launcher's own dependency (what `import("esbuild")` below loads).
  const esbuildPackage = createRequire(import.meta.url).resolve("esbuild/package.json");
  const esbuildVersion = JSON.parse(readFileSync(esbuildPackage, "utf8")).version;
  return sha256(
    JSON.stringify({
      format: FORMAT,
      esbuild: esbuildVersion,
      // Without absWorkingDir: the bundle names files relative to the root, so a repository that
      // moved (with its cache) keeps its bundles; REPO_ROOT is computed when the bundle loads.
      options: { ...buildOptions(where), absWorkingDir: undefined },
      tsconfig: hashFile(join(where.root, "tsconfig.json")) ?? null,
    }),
  );
}

/**
 * @typedef {object} Manifest
 * @property {string} key      see cacheKey
 * @property {string} bundle   file name of the bundle in the cache directory
 * @property {Record<string, string>} inputs  project file (relative to the root) -> sha256
 */

/**
 * @param {string} path
 * @returns {Manifest | undefined}
 */
function readManifest(path) {
  try {
    const manifest = JSON.parse(readFileSync(path, "utf8"));
    if (typeof manifest?.key !== "string" || typeof manifest.bundle !== "string" || typeof manifest.inputs !== "object") return undefined;
    return manifest;
  } catch {
    return undefined;
  }
}

/**
 * Path of a fresh bundle of `entry` for command `name`: the cached one when every input is
 * unchanged, else a new build.
 * @param {{ root: string, cacheDir: string, name: string, entry: string, rebuild?: boolean }} options
 * @returns {Promise<{ path: string, built: boolean }>}
 */
export async function ensureBundle({ root, cacheDir, name, entry, rebuild = false }) {
  const where = { root, cacheDir, entry };
  const manifestPath = join(cacheDir, `${name}.json`);
  const key = cacheKey(where);
  const manifest = rebuild ? undefined : readManifest(manifestPath);
  if (manifest !== undefined && manifest.key === key) {
    const path = join(cacheDir, manifest.bundle);
    const fresh = Object.entries(manifest.inputs).every(([file, hash]) => hashFile(join(root, file)) === hash);
    if (fresh && existsSync(path)) return { path, built: false };
  }
  return { path: await build(where, name, key, manifestPath), built: true };
}

/**
 * @param {{ root: string, cacheDir: string, entry: string }} where
 * @param {string} name
 * @param {string} key
 * @param {string} manifestPath
 */
async function build(where, name, key, manifestPath) {
  const esbuild = await import("esbuild");
  let result;
  try {
    result = await esbuild.build(buildOptions(where));
  } catch (error) {
    const errors = /** @type {{ errors?: { text: string, location?: { file: string, line: number, column: number } }[] }} */ (error).errors;
    if (!Array.isArray(errors)) throw error;
    throw new BundleError(
      errors
        .map(
          (e) =>
            `${e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}` : where.entry}: ${e.text}. Fix the source (npm test runs the type check).`,
        )
        .join("\n"),
    );
  } finally {
    await esbuild.stop();
  }
  const text = result.outputFiles?.[0]?.text;
  if (text === undefined) throw new BundleError(`${where.entry}: esbuild produced no output. Report it with the command that caused it.`);

  /** @type {Record<string, string>} */
  const inputs = {};
  const misuse = [];
  for (const file of Object.keys(result.metafile?.inputs ?? {}).sort()) {
    const content = readFileSync(join(where.root, file));
    inputs[file] = sha256(content);
    if (file !== PATHS_MODULE && /\bimport\.meta\b/.test(withoutComments(content.toString("utf8")))) misuse.push(file);
  }
  if (misuse.length > 0) {
    throw new BundleError(
      misuse
        .map((file) => `${file}: 'import.meta' is used outside ${PATHS_MODULE} (got a use). Import REPO_ROOT from ${PATHS_MODULE} instead.`)
        .join("\n"),
    );
  }

  mkdirSync(where.cacheDir, { recursive: true });
  const bundle = `${name}.${sha256(text).slice(0, 16)}.cjs`;
  writeAtomically(join(where.cacheDir, bundle), text);
  writeAtomically(manifestPath, `${JSON.stringify({ key, bundle, inputs }, null, 2)}\n`);
  // Older bundles of this command; a process still about to load one rebuilds (see loadBundle).
  const pattern = new RegExp(`^${name}\\.[0-9a-f]{16}\\.cjs$`);
  for (const file of readdirSync(where.cacheDir)) {
    if (file !== bundle && pattern.test(file)) rmSync(join(where.cacheDir, file), { force: true });
  }
  return join(where.cacheDir, bundle);
}

/**
 * Source text without its comments (block comments, and line comments that start a line or
 * follow a space), so a comment may mention import.meta.
 * @param {string} text
 */
function withoutComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|\s)\/\/.*$/gm, "$1");
}

/**
 * Loads a command's bundle (building it when needed) with `createRequire`; returns its exports.
 * @param {{ root: string, cacheDir: string, name: string, entry: string }} options
 * @returns {Promise<Record<string, unknown>>}
 */
export async function loadBundle(options) {
  let { path } = await ensureBundle(options);
  for (let attempt = 0; ; attempt++) {
    try {
      return createRequire(path)(path);
    } catch (error) {
      // Removed by a concurrent rebuild between the check and the load: build it again, once.
      if (attempt > 0 || existsSync(path) || /** @type {{ code?: string }} */ (error).code !== "MODULE_NOT_FOUND") throw error;
      ({ path } = await ensureBundle({ ...options, rebuild: true }));
    }
  }
}

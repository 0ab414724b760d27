/**
 * The content-hashed bundle cache of `bin/plue.mjs` (docs/adr/0009).
 *
 * Each command is one esbuild CommonJS bundle of our TypeScript, kept as an ordinary file
 * `<cacheDir>/<command>.<sha256 of the bundle>.cjs` beside a manifest `<command>.json` that
 * records the sha256 of every project file the bundle was built from (esbuild's metafile
 * inputs) and a key for everything else that shapes it (esbuild's version, the build options,
 * tsconfig.json; package-lock.json for a bundle of packages). A start with a warm cache hashes those inputs and loads
 * the bundle; any difference rebuilds it. Files are written to a temp name and renamed, so
 * processes that start together never see half a file; esbuild is imported only to build.
 *
 * Packages stay external (`require` loads them from node_modules) and the bundle loads with
 * `createRequire(bundle)(bundle)`, unless a command's work asks for `packages: "vendor"`
 * (synth's, docs/adr/0017): then the packages it imports go into a second bundle,
 * `<name>-vendor`, keyed by package-lock.json and the list of those packages (not hashed file by
 * file; rebuilt only when they change), and both load through `node:vm` with a V8 code cache
 * `<bundle>.<node and its flags>.v8` written after a first successful run: one file read and no
 * compilation of what the last run compiled, instead of hundreds of files from node_modules.
 *
 * Only lib/paths.ts may use `import.meta.url` (the others use its REPO_ROOT): the bundle
 * defines it as the URL of lib/paths.ts computed at run time from the bundle's own directory,
 * so REPO_ROOT is right wherever the repository (and its cache) sits. A build refuses any
 * other input that mentions `import.meta`.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire, isBuiltin } from "node:module";
import { dirname, join, relative } from "node:path";
import { Script } from "node:vm";

/** Bump to invalidate every cached bundle when this file's build logic changes. */
const FORMAT = 2;

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
 * @param {string | Buffer} text
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
 * Where and how a command's bundle is built.
 * @typedef {object} Where
 * @property {string} root      the repository root
 * @property {string} cacheDir  the cache directory
 * @property {string} entry     the entry module, relative to the root
 * @property {"external" | "bundle"} [packages]  node_modules loaded by `require` (default), or in the bundle
 * @property {string[]} [external]  import specifiers left unresolved (a command's work module, loaded separately)
 * @property {string} [source]  the entry's text, when it is made here (a vendor bundle) rather than a file
 * @property {boolean} [vm]  run through `node:vm` with a code cache: no `import()` left in it
 */

/**
 * The esbuild options of a command's bundle.
 * @param {Where} where
 * @returns {import("esbuild").BuildOptions & { write: false, metafile: true }}
 */
function buildOptions({ root, cacheDir, entry, packages = "external", external = [], source, vm = false }) {
  const pathsFromBundle = relative(cacheDir, join(root, PATHS_MODULE)).split("\\").join("/");
  return {
    ...(source === undefined
      ? { entryPoints: [entry] }
      : { stdin: { contents: source, resolveDir: root, sourcefile: entry, loader: "js" } }),
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    // A bundle of packages is mostly the provider bindings' source: without whitespace it is
    // read, hashed and compiled faster; names are kept (cdktf and jsii read some).
    ...(packages === "external" ? { packages: "external" } : { minifyWhitespace: true, minifySyntax: true, keepNames: true }),
    ...(external.length === 0 ? {} : { external }),
    // import() in a script compiled from a V8 code cache has no loader to call (node 20 answers
    // ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING): esbuild turns it into require() here.
    ...(vm ? { supported: { "dynamic-import": false } } : {}),
    write: false,
    metafile: true,
    logLevel: "silent",
    // Non-ASCII escaped: V8 keeps an all-Latin-1 source at one byte per character, not two.
    charset: "ascii",
    define: { "import.meta.url": "__plue_import_meta_url" },
    banner: {
      js: `var __plue_import_meta_url = require("node:url").pathToFileURL(require("node:path").join(__dirname, ${JSON.stringify(pathsFromBundle)})).href;`,
    },
  };
}

/**
 * The key of everything but the inputs that shapes a bundle.
 * @param {Where} where
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
      options: withoutRoot(buildOptions(where)),
      tsconfig: hashFile(join(where.root, "tsconfig.json")) ?? null,
      // A bundle of packages: what npm ci installed (hashing every package file would cost more
      // than the start it saves).
      lockfile: where.packages === "bundle" ? (hashFile(join(where.root, "package-lock.json")) ?? null) : null,
    }),
  );
}

/**
 * Build options without the absolute root (absWorkingDir, a made entry's resolveDir).
 * @param {import("esbuild").BuildOptions} options
 */
function withoutRoot(options) {
  const { absWorkingDir: _root, stdin, ...rest } = options;
  return stdin === undefined ? rest : { ...rest, stdin: { ...stdin, resolveDir: undefined } };
}

/**
 * @typedef {object} Manifest
 * @property {string} key      see cacheKey
 * @property {string} bundle   file name of the bundle in the cache directory
 * @property {Record<string, string>} inputs  project file (relative to the root) -> sha256
 * @property {string[]} packages  the packages the bundle leaves to `require` (sorted)
 */

/**
 * @param {string} path
 * @returns {Manifest | undefined}
 */
function readManifest(path) {
  try {
    const manifest = JSON.parse(readFileSync(path, "utf8"));
    if (
      typeof manifest?.key !== "string" ||
      typeof manifest.bundle !== "string" ||
      typeof manifest.inputs !== "object" ||
      !Array.isArray(manifest.packages)
    )
      return undefined;
    return manifest;
  } catch {
    return undefined;
  }
}

/**
 * Path of a fresh bundle of `entry` for command `name`: the cached one when every input is
 * unchanged, else a new build.
 * @param {Where & { name: string, rebuild?: boolean }} options
 * @returns {Promise<{ path: string, built: boolean, packages: string[] }>}
 */
export async function ensureBundle({
  root,
  cacheDir,
  name,
  entry,
  packages = "external",
  external = [],
  source,
  vm = false,
  rebuild = false,
}) {
  const where = { root, cacheDir, entry, packages, external, vm, ...(source === undefined ? {} : { source }) };
  const manifestPath = join(cacheDir, `${name}.json`);
  const key = cacheKey(where);
  const manifest = rebuild ? undefined : readManifest(manifestPath);
  if (manifest !== undefined && manifest.key === key) {
    const path = join(cacheDir, manifest.bundle);
    const fresh = Object.entries(manifest.inputs).every(([file, hash]) => hashFile(join(root, file)) === hash);
    if (fresh && existsSync(path)) return { path, built: false, packages: manifest.packages };
  }
  return { ...(await build(where, name, key, manifestPath)), built: true };
}

/**
 * @param {Where} where
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
        .map((e) => {
          const at = e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}` : where.entry;
          // A package that is not installed, as opposed to a mistake in our source.
          const pkg = /^Could not resolve "([^".][^"]*)"/.exec(e.text)?.[1];
          if (pkg !== undefined) return `${at}: '${pkg}' is not installed (got ${e.text}). Run npm ci.`;
          return `${at}: ${e.text}. Fix the source (npm test runs the type check).`;
        })
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
    // Packages are keyed by package-lock.json, a made entry by its text (cacheKey).
    if (file.startsWith("node_modules/") || (where.source !== undefined && file === where.entry)) continue;
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

  // The packages left to `require` (what a vendor bundle must hold), without node's own modules.
  const imports = Object.values(result.metafile?.outputs ?? {}).flatMap((o) => o.imports);
  const packages = [
    ...new Set(imports.filter((i) => i.external && !isBuiltin(i.path) && !i.path.startsWith(".")).map((i) => i.path)),
  ].sort();

  mkdirSync(where.cacheDir, { recursive: true });
  const bundle = `${name}.${sha256(text).slice(0, 16)}.cjs`;
  writeAtomically(join(where.cacheDir, bundle), text);
  writeAtomically(manifestPath, `${JSON.stringify({ key, bundle, inputs, packages }, null, 2)}\n`);
  // Older bundles of this command and their code caches; a process still about to load one
  // rebuilds (see loadBundle).
  const pattern = new RegExp(`^${name}\\.[0-9a-f]{16}\\.cjs(\\.([0-9a-f]{8}\\.)?v8)?$`);
  for (const file of readdirSync(where.cacheDir)) {
    if (file !== bundle && !file.startsWith(`${bundle}.`) && pattern.test(file)) rmSync(join(where.cacheDir, file), { force: true });
  }
  return { path: join(where.cacheDir, bundle), packages };
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
 * The code cache's name for this node and its flags: V8 rejects a cache made under other flags
 * (`npm run synth` passes --max-semi-space-size=2, `node bin/plue.mjs synth` does not), so each
 * has its own instead of rewriting one in turn.
 * @param {string} path the bundle
 */
export function codeCachePath(path) {
  // Options, not what they carry (`-e <code>`, `--input-type` change no compilation).
  const options = process.execArgv.filter((a) => a.startsWith("--") && !a.startsWith("--input-type") && a !== "--eval" && a !== "--print");
  const flags = JSON.stringify([process.version, process.arch, options, process.env.NODE_OPTIONS ?? ""]);
  return `${path}.${sha256(flags).slice(0, 8)}.v8`;
}

/**
 * Runs a bundle through `node:vm`, with its V8 code cache ({@link codeCachePath}) when there is
 * one V8 accepts; without one (or when V8 rejects it), it writes one when the process exits with
 * code 0, holding everything the run compiled (not after a failed run or `writeCache: false`,
 * which compiled less). Returns the bundle's exports.
 * @param {string} path
 * @param {{ source?: string, require?: NodeJS.Require, writeCache?: boolean }} [options]
 *   the bundle's text (default: read from `path`), its `require` (default: resolving from its
 *   own place), whether a missing cache is written
 * @returns {{ exports: Record<string, unknown>, cache: "used" | "written-at-exit" | "none" }}
 */
export function runWithCodeCache(path, { source = readFileSync(path, "utf8"), require = createRequire(path), writeCache = true } = {}) {
  const cachePath = codeCachePath(path);
  let cachedData;
  try {
    cachedData = readFileSync(cachePath);
  } catch {
    cachedData = undefined;
  }
  // The bundle as CommonJS runs it: a function of the module's own variables.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: path,
    ...(cachedData === undefined ? {} : { cachedData }),
  });
  const module = { exports: {}, id: path, filename: path, loaded: false };
  script.runInThisContext()(module.exports, require, module, path, dirname(path));
  module.loaded = true;
  if (cachedData !== undefined && !script.cachedDataRejected) return { exports: module.exports, cache: "used" };
  if (!writeCache) return { exports: module.exports, cache: "none" };
  process.once("exit", (code) => {
    if (code !== 0) return;
    try {
      writeAtomically(cachePath, script.createCachedData());
    } catch {
      // A cache that cannot be written costs the next start its compilation, nothing else.
    }
  });
  return { exports: module.exports, cache: "written-at-exit" };
}

/**
 * The vendor module of `packages`: each package as a lazy property, so only what the work
 * requires is evaluated.
 * @param {string[]} packages
 */
function vendorSource(packages) {
  const entries = packages.map((p) => `  ${JSON.stringify(p)}: { enumerable: true, get: () => require(${JSON.stringify(p)}) },`);
  return `module.exports = Object.defineProperties({}, {\n${entries.join("\n")}\n});\n`;
}

/**
 * A fresh bundle and its text; when the file is gone between the check and the read (a
 * concurrent rebuild pruned it), that one bundle is built again, once.
 * @param {Where & { name: string }} options
 */
async function readFresh(options) {
  for (let attempt = 0; ; attempt++) {
    const bundle = await ensureBundle({ ...options, rebuild: attempt > 0 });
    try {
      return { ...bundle, source: readFileSync(bundle.path, "utf8") };
    } catch (error) {
      if (attempt > 0 || /** @type {{ code?: string }} */ (error).code !== "ENOENT") throw error;
    }
  }
}

/**
 * A work bundle and its vendor bundle, both code-cached; the work's `require` takes its packages
 * from the vendor bundle.
 * @param {Where & { name: string }} options
 * @param {boolean} writeCache
 */
async function loadVendored(options, writeCache) {
  const work = await readFresh({ ...options, packages: "external", vm: true });
  const vendor = await readFresh({
    root: options.root,
    cacheDir: options.cacheDir,
    name: `${options.name}-vendor`,
    entry: `${options.name}-vendor.js`,
    source: vendorSource(work.packages),
    packages: "bundle",
    vm: true,
  });
  const vendored = runWithCodeCache(vendor.path, { source: vendor.source, writeCache }).exports;
  const base = createRequire(work.path);
  /** @type {NodeJS.Require} */
  const require = Object.assign((/** @type {string} */ id) => (Object.hasOwn(vendored, id) ? vendored[id] : base(id)), {
    resolve: base.resolve,
    cache: base.cache,
    extensions: base.extensions,
    main: base.main,
  });
  return runWithCodeCache(work.path, { source: work.source, require, writeCache }).exports;
}

/**
 * Loads a command's bundle (building it when needed) and returns its exports: with
 * `createRequire`, or with its packages from a vendor bundle (`packages: "vendor"`).
 * @param {Omit<Where, "packages" | "vm"> & { name: string, packages?: "external" | "vendor", writeCodeCache?: boolean }} options
 *   `writeCodeCache: false` for a run that compiles less than a real one (`--load-only`)
 * @returns {Promise<Record<string, unknown>>}
 */
export async function loadBundle({ writeCodeCache = true, ...options }) {
  if (options.packages === "vendor") return loadVendored({ ...options, packages: "external" }, writeCodeCache);
  for (let attempt = 0; ; attempt++) {
    const { path } = await ensureBundle({ ...options, packages: "external", rebuild: attempt > 0 });
    try {
      return createRequire(path)(path);
    } catch (error) {
      // Removed by a concurrent rebuild between the check and the load: build it again, once.
      if (attempt > 0 || existsSync(path) || /** @type {{ code?: string }} */ (error).code !== "MODULE_NOT_FOUND") throw error;
    }
  }
}

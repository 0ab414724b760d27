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
 * `<bundle>.v8` written after a first run: one file read and no compilation of what the last
 * run compiled, instead of hundreds of files from node_modules.
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
import { constants as vmConstants, Script } from "node:vm";

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
 */

/**
 * The esbuild options of a command's bundle.
 * @param {Where} where
 * @returns {import("esbuild").BuildOptions & { write: false, metafile: true }}
 */
function buildOptions({ root, cacheDir, entry, packages = "external", external = [], source }) {
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
export async function ensureBundle({ root, cacheDir, name, entry, packages = "external", external = [], source, rebuild = false }) {
  const where = { root, cacheDir, entry, packages, external, ...(source === undefined ? {} : { source }) };
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
  const pattern = new RegExp(`^${name}\\.[0-9a-f]{16}\\.cjs(\\.v8)?$`);
  for (const file of readdirSync(where.cacheDir)) {
    if (file !== bundle && file !== `${bundle}.v8` && pattern.test(file)) rmSync(join(where.cacheDir, file), { force: true });
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
 * Runs a bundle through `node:vm`, with the V8 code cache `<bundle>.v8` when
 * there is one V8 accepts; without one (or when V8 rejects it: another node), it writes one when
 * the process exits, holding everything the run compiled. Returns the bundle's exports.
 * @param {string} path
 * @param {NodeJS.Require} [require]  what the bundle's `require` is (default: resolving from its own place)
 * @returns {{ exports: Record<string, unknown>, cache: "used" | "written-at-exit" }}
 */
export function runWithCodeCache(path, require = createRequire(path)) {
  const source = readFileSync(path, "utf8");
  const cachePath = `${path}.v8`;
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
    // import() inside the bundle resolves as in any CommonJS module.
    ...(vmConstants?.USE_MAIN_CONTEXT_DEFAULT_LOADER === undefined
      ? {}
      : { importModuleDynamically: vmConstants.USE_MAIN_CONTEXT_DEFAULT_LOADER }),
  });
  const module = { exports: {}, id: path, filename: path, loaded: false };
  script.runInThisContext()(module.exports, require, module, path, dirname(path));
  module.loaded = true;
  const used = cachedData !== undefined && !script.cachedDataRejected;
  if (!used) {
    process.once("exit", () => {
      try {
        writeAtomically(cachePath, script.createCachedData());
      } catch {
        // A cache that cannot be written costs the next start its compilation, nothing else.
      }
    });
  }
  return { exports: module.exports, cache: used ? "used" : "written-at-exit" };
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
 * A work bundle and its vendor bundle, both code-cached; the work's `require` takes its packages
 * from the vendor bundle.
 * @param {Where & { name: string }} options
 * @param {boolean} rebuild
 */
async function loadVendored(options, rebuild) {
  const work = await ensureBundle({ ...options, packages: "external", rebuild });
  const vendor = await ensureBundle({
    root: options.root,
    cacheDir: options.cacheDir,
    name: `${options.name}-vendor`,
    entry: `${options.name}-vendor.js`,
    source: vendorSource(work.packages),
    packages: "bundle",
    rebuild,
  });
  const vendored = runWithCodeCache(vendor.path).exports;
  const base = createRequire(work.path);
  /** @type {NodeJS.Require} */
  const require = Object.assign((/** @type {string} */ id) => (Object.hasOwn(vendored, id) ? vendored[id] : base(id)), {
    resolve: base.resolve,
    cache: base.cache,
    extensions: base.extensions,
    main: base.main,
  });
  return runWithCodeCache(work.path, require).exports;
}

/**
 * Loads a command's bundle (building it when needed) and returns its exports: with
 * `createRequire`, or with its packages from a vendor bundle (`packages: "vendor"`).
 * @param {Omit<Where, "packages"> & { name: string, packages?: "external" | "vendor" }} options
 * @returns {Promise<Record<string, unknown>>}
 */
export async function loadBundle(options) {
  for (let attempt = 0; ; attempt++) {
    let path;
    try {
      if (options.packages === "vendor") return await loadVendored({ ...options, packages: "external" }, attempt > 0);
      ({ path } = await ensureBundle({ ...options, packages: "external", rebuild: attempt > 0 }));
      return createRequire(path)(path);
    } catch (error) {
      // A bundle removed by a concurrent rebuild between the check and the load: build again, once.
      const { code } = /** @type {{ code?: string }} */ (error);
      const gone = code === "ENOENT" || (code === "MODULE_NOT_FOUND" && path !== undefined && !existsSync(path));
      if (attempt > 0 || !gone) throw error;
    }
  }
}

/**
 * The launcher (bin/plue.mjs) and its content-hashed bundle cache (bin/bundle-cache.mjs):
 * built once, reused while no input changes, rebuilt when one does, safe when processes start
 * together, REPO_ROOT right wherever the cache and the repository sit. Cache tests run on a
 * small project in a temp directory, never on the repository's own cache.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { BundleError, ensureBundle, loadBundle } from "../../bin/bundle-cache.mjs";
import { REPO_ROOT } from "../../lib/paths.ts";
import { hasStackTrace, npmScripts } from "../support/launcher.ts";

const work = mkdtempSync(join(tmpdir(), "plue-launcher-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const LAUNCHER = join(REPO_ROOT, "bin", "plue.mjs");
const CACHE_MODULE = pathToFileURL(join(REPO_ROOT, "bin", "bundle-cache.mjs")).href;

let projects = 0;
/** A small project: app/entry.ts imports app/dep.ts and lib/paths.ts (the repository's). */
function project(): { root: string; cacheDir: string; options: { root: string; cacheDir: string; name: string; entry: string } } {
  const root = join(work, `project-${++projects}`);
  mkdirSync(join(root, "app"), { recursive: true });
  mkdirSync(join(root, "lib"));
  cpSync(join(REPO_ROOT, "lib", "paths.ts"), join(root, "lib", "paths.ts"));
  writeFileSync(join(root, "app", "dep.ts"), 'export const VALUE: string = "one";\n');
  writeFileSync(
    join(root, "app", "entry.ts"),
    [
      'import { REPO_ROOT } from "../lib/paths.ts";',
      'import { VALUE } from "./dep.ts";',
      "export function main(): string {",
      "  return `${VALUE} ${REPO_ROOT}`;",
      "}",
      "",
    ].join("\n"),
  );
  const cacheDir = join(root, ".cache", "bundles");
  return { root, cacheDir, options: { root, cacheDir, name: "demo", entry: "app/entry.ts" } };
}

const bundles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith(".cjs"));
const sha256 = (path: string): Promise<string> =>
  import("node:crypto").then(({ createHash }) => createHash("sha256").update(readFileSync(path)).digest("hex"));

describe("the bundle cache", () => {
  it("builds a content-hashed CommonJS bundle and a manifest of its inputs' hashes", async () => {
    const { root, cacheDir, options } = project();
    const first = await ensureBundle(options);
    expect(first.built).toBe(true);
    expect(relative(cacheDir, first.path)).toMatch(/^demo\.[0-9a-f]{16}\.cjs$/);
    const manifest = JSON.parse(readFileSync(join(cacheDir, "demo.json"), "utf8")) as { bundle: string; inputs: Record<string, string> };
    expect(manifest.bundle).toBe(relative(cacheDir, first.path));
    expect(manifest.inputs).toEqual({
      "app/dep.ts": await sha256(join(root, "app", "dep.ts")),
      "app/entry.ts": await sha256(join(root, "app", "entry.ts")),
      "lib/paths.ts": await sha256(join(root, "lib", "paths.ts")),
    });
    expect(readFileSync(first.path, "utf8")).toContain("module.exports");
  });

  it("reuses the bundle while no input changes (content, not time), and rebuilds when one does", async () => {
    const { root, cacheDir, options } = project();
    const first = await ensureBundle(options);
    writeFileSync(join(root, "app", "dep.ts"), readFileSync(join(root, "app", "dep.ts"))); // same content, new mtime
    expect(await ensureBundle(options)).toEqual({ path: first.path, built: false, packages: [] });

    writeFileSync(join(root, "app", "dep.ts"), 'export const VALUE: string = "two";\n');
    const second = await ensureBundle(options);
    expect(second.built).toBe(true);
    expect(second.path).not.toBe(first.path);
    expect(bundles(cacheDir)).toEqual([relative(cacheDir, second.path)]); // the old one is gone
    expect(((await loadBundle(options)).main as () => string)()).toBe(`two ${root}/`);
  });

  it("rebuilds when the bundle file or the manifest is missing or damaged", async () => {
    const { cacheDir, options } = project();
    const first = await ensureBundle(options);
    rmSync(first.path);
    expect((await ensureBundle(options)).built).toBe(true);
    writeFileSync(join(cacheDir, "demo.json"), "{ not json");
    const again = await ensureBundle(options);
    expect(again).toEqual({ path: first.path, built: true, packages: [] }); // same content, same name
  });

  it("gives the bundle the REPO_ROOT of where the project is, also after the project moved", async () => {
    const { root, options } = project();
    expect(((await loadBundle(options)).main as () => string)()).toBe(`one ${root}/`);
    const moved = `${root}-moved`;
    renameSync(root, moved);
    const movedOptions = { ...options, root: moved, cacheDir: join(moved, ".cache", "bundles") };
    expect(await ensureBundle(movedOptions)).toMatchObject({ built: false });
    // A fresh process: Node caches modules by path, and this path is new anyway.
    const out = await node([
      "--input-type=module",
      "-e",
      `const m = await import(${JSON.stringify(CACHE_MODULE)}); const b = await m.loadBundle(${JSON.stringify(movedOptions)}); process.stdout.write(b.main());`,
    ]);
    expect(out).toEqual({ code: 0, stdout: `one ${moved}/`, stderr: "" });
  });

  it("refuses a source other than lib/paths.ts that uses import.meta, naming it, and writes nothing", async () => {
    const { root, cacheDir, options } = project();
    writeFileSync(
      join(root, "app", "dep.ts"),
      "// import.meta in a comment is fine\n/* and import.meta here */\nexport const VALUE: string = import.meta.url;\n",
    );
    const error = await ensureBundle(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleError);
    expect((error as Error).message).toBe(
      "app/dep.ts: 'import.meta' is used outside lib/paths.ts (got a use). Import REPO_ROOT from lib/paths.ts instead.",
    );
    expect(existsSync(cacheDir)).toBe(false);
  });

  it("reports a source that does not compile as file:line:column, one line each", async () => {
    const { root, options } = project();
    writeFileSync(join(root, "app", "dep.ts"), "export const VALUE: string = ;\n");
    const error = await ensureBundle(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleError);
    expect((error as Error).message).toBe('app/dep.ts:1:30: Unexpected ";". Fix the source (npm test runs the type check).');
  });

  it("is safe when several processes start together on an empty cache", async () => {
    const { root, cacheDir, options } = project();
    const script = `const m = await import(${JSON.stringify(CACHE_MODULE)}); const b = await m.loadBundle(${JSON.stringify(options)}); process.stdout.write(b.main());`;
    const runs = await Promise.all([1, 2, 3, 4].map(() => node(["--input-type=module", "-e", script])));
    for (const r of runs) expect(r).toEqual({ code: 0, stdout: `one ${root}/`, stderr: "" });
    expect(bundles(cacheDir)).toHaveLength(1);
    expect(readdirSync(cacheDir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });
});

/**
 * A work module that uses a package (`fakepkg`, in the project's node_modules), with a
 * package-lock.json: what `packages: "vendor"` splits into a work bundle and a vendor bundle.
 */
function vendoredProject(): {
  root: string;
  cacheDir: string;
  options: { root: string; cacheDir: string; name: string; entry: string; packages: "vendor" };
} {
  const { root, cacheDir } = project();
  mkdirSync(join(root, "node_modules", "fakepkg"), { recursive: true });
  writeFileSync(join(root, "node_modules", "fakepkg", "package.json"), '{ "name": "fakepkg", "version": "1.0.0", "main": "index.js" }\n');
  writeFileSync(join(root, "node_modules", "fakepkg", "index.js"), "exports.VENDORED = 'from fakepkg 1';\n");
  writeFileSync(
    join(root, "package-lock.json"),
    '{ "lockfileVersion": 3, "packages": { "node_modules/fakepkg": { "version": "1.0.0" } } }\n',
  );
  writeFileSync(
    join(root, "app", "work.ts"),
    [
      'import { VENDORED } from "fakepkg";',
      'import { REPO_ROOT } from "../lib/paths.ts";',
      'import { VALUE } from "./dep.ts";',
      "export function main(): string {",
      "  return `${VALUE} ${VENDORED} ${REPO_ROOT}`;",
      "}",
      "",
    ].join("\n"),
  );
  return { root, cacheDir, options: { root, cacheDir, name: "work", entry: "app/work.ts", packages: "vendor" } };
}

/** Loads the vendored work in a fresh process (its code caches are written when it exits). */
function runVendored(options: ReturnType<typeof vendoredProject>["options"]) {
  return node([
    "--input-type=module",
    "-e",
    `const m = await import(${JSON.stringify(CACHE_MODULE)}); const b = await m.loadBundle(${JSON.stringify(options)}); process.stdout.write(b.main());`,
  ]);
}

/** Runs a bundle through runWithCodeCache in a fresh process (node `flags`, exit code `exit`); prints whether V8 took its cache. */
function cacheUse(path: string, flags: readonly string[] = [], exit = 0) {
  return node([
    ...flags,
    "--input-type=module",
    "-e",
    `const m = await import(${JSON.stringify(CACHE_MODULE)}); process.stdout.write(m.runWithCodeCache(${JSON.stringify(path)}).cache); process.exitCode = ${exit};`,
  ]);
}

describe("a work bundle with its packages in a vendor bundle (packages: vendor)", () => {
  it("runs the work with the package from the vendor bundle, not from node_modules", async () => {
    const { root, cacheDir, options } = vendoredProject();
    expect(await runVendored(options)).toEqual({ code: 0, stdout: `one from fakepkg 1 ${root}/`, stderr: "" });
    const work = JSON.parse(readFileSync(join(cacheDir, "work.json"), "utf8")) as { inputs: Record<string, string>; packages: string[] };
    expect(work.packages).toEqual(["fakepkg"]);
    expect(Object.keys(work.inputs)).toEqual(["app/dep.ts", "app/work.ts", "lib/paths.ts"]);
    const vendor = readdirSync(cacheDir).find((f) => /^work-vendor\.[0-9a-f]{16}\.cjs$/.test(f)) ?? "";
    expect(readFileSync(join(cacheDir, vendor), "utf8")).toContain("from fakepkg 1");
    // node_modules changed without the lockfile: the vendor bundle still holds what it was built from.
    writeFileSync(join(root, "node_modules", "fakepkg", "index.js"), "exports.VENDORED = 'changed behind the lockfile';\n");
    expect((await runVendored(options)).stdout).toBe(`one from fakepkg 1 ${root}/`);
  });

  it("rebuilds only the work bundle when a project file changes, and the vendor bundle when package-lock.json does", async () => {
    const { root, options } = vendoredProject();
    const work = (): Promise<{ built: boolean; packages: string[] }> => ensureBundle({ ...options, packages: "external" });
    expect((await runVendored(options)).code).toBe(0);
    const vendorFiles = (): string[] => readdirSync(options.cacheDir).filter((f) => f.startsWith("work-vendor."));
    const before = vendorFiles();
    writeFileSync(join(root, "app", "dep.ts"), 'export const VALUE: string = "two";\n');
    expect((await work()).built).toBe(true);
    expect((await runVendored(options)).stdout).toBe(`two from fakepkg 1 ${root}/`);
    expect(vendorFiles()).toEqual(before);
    // The old work bundle went with its code cache: what is left belongs to the new one.
    const workFiles = readdirSync(options.cacheDir).filter((f) => /^work\.[0-9a-f]{16}\.cjs/.test(f));
    const current = workFiles.find((f) => f.endsWith(".cjs")) ?? "";
    expect(workFiles.sort()).toEqual([
      current,
      expect.stringMatching(new RegExp(`^${current.replaceAll(".", "\\.")}\\.[0-9a-f]{8}\\.v8$`)),
    ]);

    writeFileSync(join(root, "node_modules", "fakepkg", "index.js"), "exports.VENDORED = 'from fakepkg 2';\n");
    writeFileSync(
      join(root, "package-lock.json"),
      '{ "lockfileVersion": 3, "packages": { "node_modules/fakepkg": { "version": "2.0.0" } } }\n',
    );
    expect((await runVendored(options)).stdout).toBe(`two from fakepkg 2 ${root}/`);
    expect(vendorFiles()).not.toEqual(before);
    expect(vendorFiles().filter((f) => f.endsWith(".cjs"))).toHaveLength(1); // the old one is gone
  });

  it("writes a V8 code cache beside each bundle when the first run exits, which the next run uses; a damaged one is replaced", async () => {
    const { cacheDir, options } = vendoredProject();
    expect((await runVendored(options)).code).toBe(0);
    const caches = readdirSync(cacheDir)
      .filter((f) => f.endsWith(".v8"))
      .sort();
    expect(caches).toHaveLength(2);
    expect(caches[0]).toMatch(/^work-vendor\.[0-9a-f]{16}\.cjs\.[0-9a-f]{8}\.v8$/);
    expect(caches[1]).toMatch(/^work\.[0-9a-f]{16}\.cjs\.[0-9a-f]{8}\.v8$/);
    const bundle = join(cacheDir, (caches[1] ?? "").replace(/\.[0-9a-f]{8}\.v8$/, ""));
    expect(await cacheUse(bundle)).toEqual({ code: 0, stdout: "used", stderr: "" });
    writeFileSync(join(cacheDir, caches[1] ?? ""), "not a code cache");
    expect(await cacheUse(bundle)).toEqual({ code: 0, stdout: "written-at-exit", stderr: "" });
    expect(await cacheUse(bundle)).toEqual({ code: 0, stdout: "used", stderr: "" });
  });

  it("keeps one code cache per set of node flags (V8 rejects another's), and writes none after a failed run", async () => {
    const { cacheDir, options } = vendoredProject();
    expect((await runVendored(options)).code).toBe(0);
    const bundle = join(cacheDir, readdirSync(cacheDir).find((f) => /^work\.[0-9a-f]{16}\.cjs$/.test(f)) ?? "");
    const flagged = ["--max-semi-space-size=2"];
    expect(await cacheUse(bundle, flagged, 3)).toEqual({ code: 3, stdout: "written-at-exit", stderr: "" });
    // Nothing was written after the failed run: this run writes it.
    expect(await cacheUse(bundle, flagged)).toEqual({ code: 0, stdout: "written-at-exit", stderr: "" });
    expect(await cacheUse(bundle, flagged)).toEqual({ code: 0, stdout: "used", stderr: "" });
    // The unflagged one is still there and still taken.
    expect(await cacheUse(bundle)).toEqual({ code: 0, stdout: "used", stderr: "" });
    expect(readdirSync(cacheDir).filter((f) => f.startsWith(`${basename(bundle)}.`) && f.endsWith(".v8"))).toHaveLength(2);
  });

  it("turns import() into require() in a bundle run from a code cache (a cached script has no import() loader)", async () => {
    const { root, options } = vendoredProject();
    writeFileSync(join(root, "app", "lazy.ts"), 'export const LAZY: string = "lazy";\n');
    writeFileSync(
      join(root, "app", "work.ts"),
      'export async function main(): Promise<string> {\n  const { VENDORED } = await import("fakepkg");\n  return `${(await import("./lazy.ts")).LAZY} ${VENDORED}`;\n}\n',
    );
    const script = `const m = await import(${JSON.stringify(CACHE_MODULE)}); const b = await m.loadBundle(${JSON.stringify(options)}); process.stdout.write(await b.main());`;
    // The second run is the one compiled from the code cache the first wrote.
    for (let run = 0; run < 2; run++) {
      expect(await node(["--input-type=module", "-e", script])).toEqual({ code: 0, stdout: "lazy from fakepkg 1", stderr: "" });
    }
    const work = readdirSync(options.cacheDir).find((f) => /^work\.[0-9a-f]{16}\.cjs$/.test(f)) ?? "";
    expect(readFileSync(join(options.cacheDir, work), "utf8")).not.toMatch(/\bimport\(/);
  });

  it("says to run npm ci when the work imports a package that is not installed", async () => {
    const { root, options } = vendoredProject();
    rmSync(join(root, "node_modules", "fakepkg"), { recursive: true });
    // The vendor bundle is where packages are resolved; it fails before anything runs.
    const error = await loadBundle(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleError);
    expect((error as Error).message).toMatch(
      /^work-vendor\.js:2:\d+: 'fakepkg' is not installed \(got Could not resolve "fakepkg"\)\. Run npm ci\.$/,
    );
  });
});

describe("bin/plue.mjs", () => {
  it("keeps synth's work out of synth's command bundle (--help loads no provider binding) and its packages for the vendor bundle", async () => {
    // Built as the launcher builds them, into a cache of the test's own (never the repository's).
    const cacheDir = join(work, "synth-split");
    const command = await ensureBundle({
      root: REPO_ROOT,
      cacheDir,
      name: "synth",
      entry: "app/synth-command.ts",
      external: ["./synth.ts"],
    });
    const manifest = JSON.parse(readFileSync(join(cacheDir, "synth.json"), "utf8")) as { inputs: Record<string, string> };
    const inputs = Object.keys(manifest.inputs);
    expect(inputs).not.toContain("app/synth.ts");
    expect(inputs.filter((f) => f.startsWith("stacks/") || f.startsWith("charts/") || f.startsWith("constructs/"))).toEqual([]);
    expect(command.packages).toEqual(["commander"]);
    const synthWork = await ensureBundle({ root: REPO_ROOT, cacheDir, name: "synth-work", entry: "app/synth.ts", vm: true });
    expect(synthWork.packages).toContain("cdktf");
    expect(synthWork.packages.filter((p) => p.startsWith("@cdktf/provider-google/lib/"))).not.toEqual([]);
  });

  it("runs every npm script and cdktf.json's app through the launcher", () => {
    const scripts = npmScripts();
    expect(scripts.synth).toBe("node --max-semi-space-size=2 bin/plue.mjs synth");
    for (const name of ["review", "pki", "migrate", "bench"]) expect(scripts[name]).toBe(`node bin/plue.mjs ${name}`);
    expect((JSON.parse(readFileSync(join(REPO_ROOT, "cdktf.json"), "utf8")) as { app: string }).app).toBe(scripts.synth);
  });

  it("keeps esbuild a runtime dependency (a fresh npm ci --omit=dev must still synth) and the cache git-ignored", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(pkg.dependencies.esbuild).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.devDependencies.esbuild).toBeUndefined();
    expect(readFileSync(join(REPO_ROOT, ".gitignore"), "utf8").split("\n")).toContain(".cache/");
  });

  it("leaves import.meta to lib/paths.ts in every bundled source folder", () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith(".ts") && /\bimport\.meta\.(url|dirname|filename|resolve)\b/.test(readFileSync(path, "utf8")))
          offenders.push(relative(REPO_ROOT, path));
      }
    };
    for (const dir of ["app", "charts", "config", "constructs", "db", "lib", "pki", "review", "stacks"]) walk(join(REPO_ROOT, dir));
    expect(offenders).toEqual(["lib/paths.ts"]);
  });

  it("refuses no command or an unknown one (exit 2, one line), and prints its help", async () => {
    const [none, unknown, help, loadOnly] = await Promise.all([
      node([LAUNCHER]),
      node([LAUNCHER, "deploy"]),
      node([LAUNCHER, "--help"]),
      node([LAUNCHER, "--load-only", "pki"]),
    ]);
    expect(none).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "plue: '<command>' is missing (got nothing). Use one of synth, review, pki, migrate, bench, preflight, stack-order; see node bin/plue.mjs --help.\n",
    });
    expect(unknown).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "plue: 'deploy' is not a command (got deploy). Use one of synth, review, pki, migrate, bench, preflight, stack-order; see node bin/plue.mjs --help.\n",
    });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: node bin\/plue\.mjs \[--load-only\] <command> \[options\]\n/);
    expect(help.stdout).toContain("\nExit codes:\n");
    expect(loadOnly).toEqual({ code: 0, stdout: "", stderr: "" });
    for (const r of [none, unknown]) expect(hasStackTrace(r.stderr)).toBe(false);
  });
});

function node(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...args], { cwd: work, encoding: "utf8" }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

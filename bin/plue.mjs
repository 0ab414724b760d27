#!/usr/bin/env node
/**
 * The one launcher of every command: `node bin/plue.mjs <command> [options]`, what each npm
 * script (`npm run synth`, `review`, `pki`, `migrate`, `bench`, `preflight`, `stack-order`) and
 * cdktf.json's `app` run.
 *
 * It loads the command from a CommonJS bundle in the content-hashed cache
 * (`.cache/bundles/`, built by esbuild on first use and whenever a source file it was built
 * from changes; bin/bundle-cache.mjs, docs/adr/0009), and calls the bundle's
 * `main(argv, io)` with the process's streams, environment, working directory and clock.
 * No type check happens here: `npm test` runs `tsc --noEmit` (strict).
 *
 * `node bin/plue.mjs --load-only <command>` loads the command's modules (with its `preload()`,
 * those it loads on demand) and exits without running it: the floor `npm run bench` prints
 * beside its figures.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BundleError, loadBundle } from "./bundle-cache.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CACHE_DIR = join(ROOT, ".cache", "bundles");

/**
 * Each command and the module whose `main(argv, io)` runs it. A command with `work` has its
 * heavy module in a second bundle (`<command>-work`) whose packages come from a vendor bundle,
 * both run with a V8 code cache; the command loads it through `io.loadWork` (synth:
 * docs/adr/0017).
 * @type {Record<string, { entry: string, summary: string, work?: { entry: string, specifier: string } }>}
 */
const COMMANDS = {
  synth: {
    entry: "app/synth-command.ts",
    summary: "synthesize the plan of one environment",
    work: { entry: "app/synth.ts", specifier: "./synth.ts" },
  },
  review: { entry: "app/review-command.ts", summary: "review a synthesized plan (posture, readiness, what the change does)" },
  pki: { entry: "app/pki-command.ts", summary: "the private CA and certificates of origin mTLS" },
  migrate: { entry: "app/migrate-command.ts", summary: "apply the database migrations" },
  bench: { entry: "app/bench-command.ts", summary: "measure the synth and the commands' start-up against their budgets" },
  preflight: { entry: "app/preflight-command.ts", summary: "the pre-deployment checklist of one environment" },
  "stack-order": { entry: "app/stack-order-command.ts", summary: "the plan's stacks in dependency order" },
};

const USAGE = `Usage: node bin/plue.mjs [--load-only] <command> [options]

Runs a command from its bundle in .cache/bundles/ (rebuilt when a source file changes).
Through npm: npm run <command> -- [options].

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`)
  .join("\n")}

Options:
  --load-only  load the command's modules and exit (what npm run bench measures as the floor)
  -h, --help   show this help

Exit codes:
  0  done (see each command's --help for its own codes)
  1  the bundle could not be built or loaded
  2  no or unknown command

Examples:
  node bin/plue.mjs pki status --json
  node bin/plue.mjs synth --help
`;

/** A command's module could not be built or loaded: `message` is the line to print (exit 1). */
class LoadError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "LoadError";
  }
}

/**
 * The one line that says why a command's bundle could not be built or loaded, and the fix.
 * @param {string} name the command
 * @param {unknown} error
 */
function loadFailure(name, error) {
  if (error instanceof BundleError) return error.message;
  const { code, message } = /** @type {{ code?: string, message?: string }} */ (error);
  const missing = code === "MODULE_NOT_FOUND" ? /Cannot find module '([^']+)'/.exec(String(message))?.[1] : undefined;
  if (missing !== undefined) return `plue ${name}: '${missing}' cannot be loaded (got MODULE_NOT_FOUND). Run npm ci.`;
  const first = String(message ?? error).split("\n")[0];
  return `plue ${name}: the command could not be loaded: ${first}. Run npm ci, then try again.`;
}

/**
 * @param {string[]} argv the arguments after `bin/plue.mjs`
 * @returns {Promise<number>} the exit code
 */
async function launch(argv) {
  const loadOnly = argv[0] === "--load-only";
  const [name, ...args] = loadOnly ? argv.slice(1) : argv;
  if (name === "--help" || name === "-h") {
    process.stdout.write(USAGE);
    return 0;
  }
  const names = Object.keys(COMMANDS).join(", ");
  if (name === undefined || !Object.hasOwn(COMMANDS, name)) {
    const problem = name === undefined ? "'<command>' is missing (got nothing)" : `'${name}' is not a command (got ${name})`;
    process.stderr.write(`plue: ${problem}. Use one of ${names}; see node bin/plue.mjs --help.\n`);
    return 2;
  }
  /** @type {{ main: (argv: string[], io: object) => number | Promise<number>, preload?: (io: object) => Promise<void> }} */
  let bundle;
  try {
    const { entry = "", work } = COMMANDS[name] ?? {};
    const external = work === undefined ? [] : [work.specifier];
    bundle = /** @type {typeof bundle} */ (await loadBundle({ root: ROOT, cacheDir: CACHE_DIR, name, entry, external }));
  } catch (error) {
    process.stderr.write(`${loadFailure(name, error)}\n`);
    return 1;
  }
  const work = COMMANDS[name]?.work;
  const io = {
    stdout: (/** @type {string} */ text) => void process.stdout.write(text),
    stderr: (/** @type {string} */ text) => void process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    ...(work === undefined
      ? {}
      : {
          // Its failures reach the command as one line it prints with exit 1 (LoadError).
          loadWork: () =>
            loadBundle({
              root: ROOT,
              cacheDir: CACHE_DIR,
              name: `${name}-work`,
              entry: work.entry,
              packages: /** @type {const} */ ("vendor"),
              writeCodeCache: !loadOnly,
            }).catch((error) => {
              throw new LoadError(loadFailure(name, error));
            }),
        }),
  };
  if (loadOnly) {
    // Commands that load their work on demand (synth) export preload(io) to load it all.
    if (typeof bundle.preload === "function") await bundle.preload(io);
    return 0;
  }
  return await bundle.main(args, io);
}

process.exitCode = await launch(process.argv.slice(2));

/**
 * The work of `npm run synth`: validates one environment (its file and its committed public
 * certificates) and writes the whole plan atomically. Loaded by the command only when it runs
 * (it loads the provider bindings), so `synth --help` starts fast.
 */
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { CONFIG_DIR, ConfigError, loadConfig } from "../config/load.ts";
import { loadPublicCerts, PublicCertsError, type PublicCerts } from "../config/public-certs.ts";
import type { PlueConfig } from "../config/schema.ts";
import { formatFinding, lintMigrationsAsync } from "../db/lint.ts";
import { DEFAULT_MIGRATIONS_DIR } from "../db/migrations.ts";
import type { CliIo } from "./cli/kit.ts";
import { synthPlan } from "./plan.ts";

/** Options of `npm run synth`, as parsed. */
export interface SynthOptions {
  readonly env?: string;
  readonly out?: string;
  readonly configDir?: string;
  readonly json?: boolean;
}

/** Synthesizes; resolves to the exit code (0, 1 internal failure, 2 invalid configuration or migrations). */
export async function synthesize(opts: SynthOptions, io: CliIo, defaultConfigDir: string | undefined): Promise<number> {
  // `cdktf deploy` runs the same synth with no arguments: PLUE_ENV names the environment there.
  const env = opts.env ?? io.env.PLUE_ENV ?? "example";
  // `cdktf synth` / `cdktf deploy` pass their output directory in CDKTF_OUTDIR.
  const outArg = opts.out ?? io.env.CDKTF_OUTDIR ?? "cdktf.out";
  const out = resolve(io.cwd, outArg);

  // Every input (the environment file, the committed public certificates) is read and
  // validated here, before anything is built or written.
  let config: PlueConfig;
  let certs: PublicCerts;
  try {
    const configDir = opts.configDir !== undefined ? resolve(io.cwd, opts.configDir) : (defaultConfigDir ?? CONFIG_DIR);
    config = loadConfig(env, configDir);
    certs = loadPublicCerts(config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const n = e.problems.length;
    const what = e instanceof PublicCertsError ? "the environment's public certificates" : "the configuration";
    io.stderr(`${n} problem${n === 1 ? "" : "s"} in ${what}; nothing was written:\n${e.message}\n`);
    return 2;
  }

  // The migrations the schema Job will run: squawk (a child process, on the other core while the
  // plan is built) and the project's rules (db/lint.ts); judged before anything is written.
  const lint = lintMigrationsAsync(DEFAULT_MIGRATIONS_DIR, { pgVersion: pgVersion(config) }).then(
    (findings) => ({ findings }),
    (error: Error) => ({ error }),
  );

  // Synthesize next to the target, then swap: `out` holds either the old plan or the new one.
  const staging = mkdtempSync(resolve(dirname(out), `.${basename(out)}.staging-`));
  let built: Error | undefined;
  try {
    synthPlan(config, certs, staging);
  } catch (e) {
    built = e as Error;
  }
  const linted = await lint;
  const refused = "error" in linted ? 1 : linted.findings.length > 0 ? 2 : built ? 1 : 0;
  if (refused !== 0) {
    rmSync(staging, { recursive: true, force: true });
    if ("error" in linted) io.stderr(`synth: failed, nothing was written: ${linted.error.message}\n`);
    else if (linted.findings.length > 0) {
      const n = linted.findings.length;
      io.stderr(
        `${n} problem${n === 1 ? "" : "s"} in the migrations; nothing was written:\n${linted.findings.map(formatFinding).join("\n")}\n`,
      );
    } else {
      // The whole message (cdktf's validation names each failing construct on its own line), never a stack frame.
      const message = (built?.message ?? String(built))
        .split("\n")
        .filter((line) => !/^\s+at /.test(line))
        .join("\n");
      io.stderr(`synth: failed, nothing was written: ${message}\n`);
    }
    return refused;
  }
  const previous = `${staging}.previous`;
  if (existsSync(out)) renameSync(out, previous);
  renameSync(staging, out);
  rmSync(previous, { recursive: true, force: true });

  if (opts.json) {
    const list = (dir: string, suffix: string): string[] =>
      readdirSync(resolve(out, dir))
        .filter((f) => f.endsWith(suffix))
        .map((f) => f.slice(0, f.length - suffix.length))
        .sort();
    const report = { environment: env, out: outArg, stacks: list("stacks", ""), charts: list("k8s", ".k8s.yaml") };
    io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  } else io.stdout(`synthesized environment '${env}' to ${outArg}/\n`);
  return 0;
}

/** The PostgreSQL major version of the environment's Cloud SQL instance (squawk's --pg-version). */
function pgVersion(config: PlueConfig): number {
  return Number.parseInt(config.database.version.replace(/^POSTGRES_/, ""), 10);
}

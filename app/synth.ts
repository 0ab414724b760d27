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
import { formatFinding, lintMigrations } from "../db/lint.ts";
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

/** Synthesizes; returns the exit code (0, 1 internal failure, 2 invalid configuration). */
export function synthesize(opts: SynthOptions, io: CliIo, defaultConfigDir: string | undefined): number {
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

  // The migrations the schema Job will run: squawk and the project's rules (db/lint.ts), before anything is written.
  const migrations = lintSynthMigrations(config, io);
  if (migrations !== undefined) return migrations;

  // Synthesize next to the target, then swap: `out` holds either the old plan or the new one.
  const staging = mkdtempSync(resolve(dirname(out), `.${basename(out)}.staging-`));
  try {
    synthPlan(config, certs, staging);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    io.stderr(`synth: failed, nothing was written: ${((e as Error).message ?? String(e)).split("\n")[0]}\n`);
    return 1;
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

/**
 * Lints `db/migrations` for the environment's PostgreSQL version: `undefined` when clean, else
 * the exit code after printing the findings (2 naming each file and line; 1 when squawk itself
 * cannot run).
 */
function lintSynthMigrations(config: PlueConfig, io: CliIo): number | undefined {
  let findings: ReturnType<typeof lintMigrations>;
  try {
    findings = lintMigrations(DEFAULT_MIGRATIONS_DIR, {
      pgVersion: Number.parseInt(config.database.version.replace(/^POSTGRES_/, ""), 10),
    });
  } catch (e) {
    io.stderr(`synth: failed, nothing was written: ${(e as Error).message}\n`);
    return 1;
  }
  if (findings.length === 0) return undefined;
  const n = findings.length;
  io.stderr(`${n} problem${n === 1 ? "" : "s"} in the migrations; nothing was written:\n${findings.map(formatFinding).join("\n")}\n`);
  return 2;
}

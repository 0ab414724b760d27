/**
 * The `synth` command as a function: parses arguments, validates the environment file, and
 * writes the plan atomically. `main.ts` runs it on the process; tests run it in-process.
 */
import { existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CONFIG_DIR, ConfigError, loadConfig } from "../config/load.ts";
import type { PlueConfig } from "../config/schema.ts";
import { synthPlan } from "./plan.ts";
import { loadPublicCerts, PublicCertsError, type PublicCerts } from "../config/public-certs.ts";
import { formatFinding, lintMigrations } from "../db/lint.ts";
import { DEFAULT_MIGRATIONS_DIR } from "../db/migrations.ts";

/** Usage text of `npm run synth`. */
export const SYNTH_HELP = `Usage: npm run synth -- [--env <name>] [--out <dir>]

Synthesizes the whole plan for one environment:
  <out>/stacks/<stack>/cdk.tf.json   every cdktf stack
  <out>/k8s/<chart>.k8s.yaml         every cdk8s chart

Options:
  --env <name>   environment file config/<name>.yaml (default: example)
  --out <dir>    output directory (default: $CDKTF_OUTDIR, else cdktf.out)
  --config-dir <dir>
                 directory of environment files (default: the repository's config/)
  -h, --help     show this help

Exit codes: 0 synthesized; 2 invalid arguments, configuration or migrations (nothing written);
1 internal failure (nothing written).`;

/** What a command run produced. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Where the command reads and writes; defaults are the repository's. */
export interface SynthCommandOptions {
  /** Directory holding `<env>.yaml` files. @default the repository's config/ */
  readonly configDir?: string;
  /** Base for a relative `--out`. @default process.cwd() */
  readonly cwd?: string;
}

/** Runs `synth` with `argv` (without the program name). Never throws for bad input. */
export function synthCommand(argv: readonly string[], options: SynthCommandOptions = {}): CommandResult {
  let values: { env?: string | undefined; out?: string | undefined; "config-dir"?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        env: { type: "string" },
        out: { type: "string" },
        "config-dir": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (e) {
    return { code: 2, stdout: "", stderr: `synth: ${(e as Error).message}\n\n${SYNTH_HELP}\n` };
  }
  if (values.help) return { code: 0, stdout: `${SYNTH_HELP}\n`, stderr: "" };

  const env = values.env ?? "example";
  // `cdktf synth` (the CLI) passes its output directory in CDKTF_OUTDIR.
  const outArg = values.out ?? process.env.CDKTF_OUTDIR ?? "cdktf.out";
  const out = resolve(options.cwd ?? process.cwd(), outArg);

  // Every input (the environment file, the committed public certificates) is read and
  // validated here, before anything is built or written.
  let config: PlueConfig;
  let certs: PublicCerts;
  try {
    const configDir = values["config-dir"]
      ? resolve(options.cwd ?? process.cwd(), values["config-dir"])
      : (options.configDir ?? CONFIG_DIR);
    config = loadConfig(env, configDir);
    certs = loadPublicCerts(config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const n = e.problems.length;
    const what = e instanceof PublicCertsError ? "the environment's public certificates" : "the configuration";
    return { code: 2, stdout: "", stderr: `${n} problem${n === 1 ? "" : "s"} in ${what}; nothing was written:\n${e.message}\n` };
  }

  // The migrations the schema Job will run: squawk and the project's rules (db/lint.ts), before anything is written.
  const migrations = lintSynthMigrations(config);
  if (migrations !== undefined) return migrations;

  // Synthesize next to the target, then swap: `out` holds either the old plan or the new one.
  const staging = mkdtempSync(resolve(dirname(out), `.${basename(out)}.staging-`));
  try {
    synthPlan(config, certs, staging);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    return { code: 1, stdout: "", stderr: `synth: failed, nothing was written: ${(e as Error).message}\n` };
  }
  const previous = `${staging}.previous`;
  if (existsSync(out)) renameSync(out, previous);
  renameSync(staging, out);
  rmSync(previous, { recursive: true, force: true });
  return { code: 0, stdout: `synthesized environment '${env}' to ${outArg}/\n`, stderr: "" };
}

/**
 * Lints `db/migrations` for the environment's PostgreSQL version: `undefined` when clean, else the
 * result to return (exit 2 naming each file and line; exit 1 when squawk itself cannot run).
 */
function lintSynthMigrations(config: PlueConfig): CommandResult | undefined {
  let findings: ReturnType<typeof lintMigrations>;
  try {
    findings = lintMigrations(DEFAULT_MIGRATIONS_DIR, {
      pgVersion: Number.parseInt(config.database.version.replace(/^POSTGRES_/, ""), 10),
    });
  } catch (e) {
    return { code: 1, stdout: "", stderr: `synth: failed, nothing was written: ${(e as Error).message}\n` };
  }
  if (findings.length === 0) return undefined;
  const n = findings.length;
  const lines = findings.map(formatFinding).join("\n");
  return { code: 2, stdout: "", stderr: `${n} problem${n === 1 ? "" : "s"} in the migrations; nothing was written:\n${lines}\n` };
}

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
  const env = opts.env ?? "example";
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

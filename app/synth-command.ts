/**
 * `npm run synth`: validates one environment file and writes the whole plan atomically. The
 * launcher (`bin/plue.mjs synth`) runs {@link main}; tests run it in-process. The work
 * (app/synth.ts, which loads the provider bindings) is loaded only when a synth runs: by the
 * launcher from its own bundle (`io.loadWork`, docs/adr/0017), else imported.
 */
import type { Command } from "commander";
import {
  addOption,
  type CliIo,
  type CommandResult,
  type CommandSpec,
  CliError,
  capture,
  defineCommand,
  nonEmpty,
  runAsync,
  setAction,
} from "./cli/kit.ts";
import type { SynthOptions } from "./synth.ts";

export type { CommandResult } from "./cli/kit.ts";

/** Help and error texts of `npm run synth`. */
export const SYNTH_SPEC: CommandSpec = {
  where: "synth",
  invocation: "npm run synth --",
  usage: "[--env <name>] [--out <dir>] [--config-dir <dir>] [--json]",
  description: [
    "Synthesizes the whole plan for one environment:",
    "  <out>/stacks/<stack>/cdk.tf.json   every cdktf stack",
    "  <out>/k8s/<chart>.k8s.yaml         every cdk8s chart",
    "Every input is validated first (the environment file, its public certificates, and the",
    "migrations the schema Job will run: squawk and db/lint.ts); every problem is reported at",
    "once. The output directory holds either the previous plan or the new one, never a mix.",
  ].join("\n"),
  exitCodes: [
    [0, "synthesized"],
    [1, "internal failure; nothing was written"],
    [2, "invalid arguments, configuration or migrations (the lint); nothing was written"],
  ],
  examples: ["npm run synth", "npm run synth -- --env prod --out /tmp/prod.out", "npm run synth -- --json"],
};

/** Where the command reads files; defaults are the repository's. */
export interface SynthCommandOptions {
  /** Directory holding `<env>.yaml` files. @default the repository's config/ */
  readonly configDir?: string;
  /** Base for a relative `--out` and `--config-dir`. @default process.cwd() */
  readonly cwd?: string;
}

type SynthModule = typeof import("./synth.ts");

/**
 * The work module: the launcher's bundle when it provides one, else the module itself. A
 * launcher's load failure is its one line, exit 1.
 */
async function work(io: Pick<CliIo, "loadWork">): Promise<SynthModule> {
  if (io.loadWork === undefined) return import("./synth.ts");
  try {
    return (await io.loadWork()) as SynthModule;
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error), 1);
  }
}

/** Loads every module a synth needs without running it (the floor `npm run bench` measures). */
export async function preload(io: Pick<CliIo, "loadWork"> = {}): Promise<void> {
  await work(io);
}

/** The `synth` command with its options; `run` does the work. */
export function synthProgram(run: (options: SynthOptions) => number | Promise<number>): Command {
  const cmd = defineCommand("synth", SYNTH_SPEC);
  addOption(cmd, "--env <name>", "environment file config/<name>.yaml (default: $PLUE_ENV, else example)", nonEmpty("an environment name"));
  addOption(cmd, "--out <dir>", "output directory (default: $CDKTF_OUTDIR, else cdktf.out)", nonEmpty("a directory"));
  addOption(cmd, "--config-dir <dir>", "directory of environment files (default: the repository's config/)", nonEmpty("a directory"));
  cmd.option("--json", "print what was written as JSON: environment, out, stacks, charts");
  return setAction<SynthOptions>(cmd, run);
}

/** Runs `synth` with `argv` (without the program name); resolves to the exit code. */
export function main(argv: readonly string[], io: CliIo, options: Pick<SynthCommandOptions, "configDir"> = {}): Promise<number> {
  return runAsync(
    synthProgram(async (opts) => (await work(io)).synthesize(opts, io, options.configDir)),
    argv,
    io,
  );
}

/**
 * Runs `synth` in-process and returns what it printed (the form the tests use): the test's
 * CDKTF_OUTDIR, `options.cwd` for relative paths.
 */
export function synthCommand(argv: readonly string[], options: SynthCommandOptions = {}): Promise<CommandResult> {
  return capture((args, io) => main(args, io, options), argv, {
    cwd: options.cwd ?? process.cwd(),
    env: { CDKTF_OUTDIR: process.env.CDKTF_OUTDIR },
  });
}

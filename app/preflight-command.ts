/**
 * `npm run preflight -- --env <name>`: the pre-deployment checklist (review/preflight.ts) over the
 * environment's configuration, its synthesized plan and its committed public certificates. The
 * launcher (`bin/plue.mjs preflight`) runs {@link main}; tests run it in-process.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { CONFIG_DIR, ConfigError, loadConfig } from "../config/load.ts";
import type { PlueConfig } from "../config/schema.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import { DEFAULT_WARN_DAYS, formatPreflight, runPreflight } from "../review/preflight.ts";
import {
  addOption,
  type CliIo,
  type CommandResult,
  type CommandSpec,
  captureSync,
  defineCommand,
  nonEmpty,
  runSync,
  setAction,
  UsageError,
  wholeNumber,
} from "./cli/kit.ts";

/** Help and error texts of `npm run preflight`. */
export const PREFLIGHT_SPEC: CommandSpec = {
  where: "preflight",
  invocation: "npm run preflight --",
  usage: "--env <name> [--plan <dir>] [--config-dir <dir>] [--warn-days <n>] [--json]",
  description: [
    "The pre-deployment checklist, over config/<name>.yaml, the plan synthesized for it",
    "(`npm run synth -- --env <name>`) and its committed public certificates: no placeholder",
    "values, every required secret declared, certificates valid beyond the warning window, state",
    "backend configured and encrypted, posture review passing, images pinned by digest, the deploy",
    "identity pinned, a stack dependency order. Prints a ✓/✗ line per item.",
  ].join("\n"),
  exitCodes: [
    [0, "every check passed"],
    [1, "a check failed (each ✗ names what and where)"],
    [2, "bad arguments, configuration, or no plan"],
  ],
  examples: ["npm run synth -- --env prod && npm run preflight -- --env prod", "npm run preflight -- --env prod --json"],
};

/** Options of `npm run preflight`, as parsed. */
interface PreflightOptions {
  readonly env?: string;
  readonly plan?: string;
  readonly configDir?: string;
  readonly warnDays?: number;
  readonly json?: boolean;
}

/** Where the command reads certificates from; the repository's unless a test says otherwise. */
export interface PreflightCommandOptions {
  readonly repoRoot?: string;
}

function preflight(values: PreflightOptions, io: CliIo, options: PreflightCommandOptions): number {
  if (values.env === undefined) {
    throw new UsageError("preflight: '--env' is required (got nothing). Name the environment to check, e.g. --env prod.");
  }
  const planArg = values.plan ?? "cdktf.out";
  const planDir = resolve(io.cwd, planArg);
  if (!existsSync(join(planDir, "manifest.json"))) {
    throw new UsageError(
      `preflight: '--plan' holds no synthesized plan (got ${planArg}, no manifest.json). Run \`npm run synth -- --env ${values.env}\` first.`,
    );
  }
  let config: PlueConfig;
  try {
    config = loadConfig(values.env, values.configDir ? resolve(io.cwd, values.configDir) : CONFIG_DIR);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  const report = runPreflight({
    config,
    planDir,
    repoRoot: options.repoRoot ?? REPO_ROOT,
    now: io.now(),
    warnDays: values.warnDays ?? DEFAULT_WARN_DAYS,
  });
  io.stdout(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatPreflight(report));
  return report.ok ? 0 : 1;
}

/** The `preflight` command with its options; `run` does the work. */
export function preflightProgram(run: (options: PreflightOptions) => number): Command {
  const cmd = defineCommand("preflight", PREFLIGHT_SPEC);
  addOption(cmd, "--env <name>", "environment to check (required)", nonEmpty("an environment name"));
  addOption(cmd, "--plan <dir>", "synthesized plan directory (default: cdktf.out)", nonEmpty("a directory"));
  addOption(cmd, "--config-dir <dir>", "directory of environment files (default: the repository's config/)", nonEmpty("a directory"));
  addOption(
    cmd,
    "--warn-days <n>",
    `certificates must stay valid this many more days (default: ${DEFAULT_WARN_DAYS})`,
    wholeNumber("days", 0, 3650, "--warn-days 30"),
  );
  cmd.option("--json", "print the checklist as JSON");
  return setAction<PreflightOptions>(cmd, run);
}

/** Runs `preflight` with `argv` (without the program name); returns the exit code. */
export function main(argv: readonly string[], io: CliIo, options: PreflightCommandOptions = {}): number {
  return runSync(
    preflightProgram((opts) => preflight(opts, io, options)),
    argv,
    io,
  );
}

/** Runs `preflight` in-process and returns what it printed (the form the tests use). */
export function preflightCommand(
  argv: readonly string[],
  options: PreflightCommandOptions & { readonly cwd?: string; readonly now?: Date } = {},
): CommandResult {
  const { cwd, now, ...rest } = options;
  return captureSync((args, io) => main(args, io, rest), argv, {
    cwd: cwd ?? process.cwd(),
    ...(now !== undefined ? { now: () => now } : {}),
  });
}

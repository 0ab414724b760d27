/**
 * `npm run preflight -- --env <name>`: the pre-deployment checklist (review/preflight.ts) over the
 * environment's configuration, its synthesized plan and its committed public certificates.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CONFIG_DIR, ConfigError, loadConfig } from "../config/load.ts";
import type { PlueConfig } from "../config/schema.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import { DEFAULT_WARN_DAYS, formatPreflight, runPreflight } from "../review/preflight.ts";
import type { CommandResult } from "./synth-command.ts";

/** Usage text of `npm run preflight`. */
export const PREFLIGHT_HELP = `Usage: npm run preflight -- --env <name> [--plan <dir>] [--warn-days <n>] [--json]

The pre-deployment checklist, over config/<name>.yaml, the plan synthesized for it
(\`npm run synth -- --env <name>\`) and its committed public certificates:
  no placeholder values, every required secret declared, certificates valid beyond
  the warning window, state backend configured and encrypted, posture review passing,
  images pinned by digest, the deploy identity pinned, a stack dependency order.

Options:
  --env <name>        environment (required)
  --plan <dir>        synthesized plan directory (default: cdktf.out)
  --config-dir <dir>  directory of environment files (default: the repository's config/)
  --warn-days <n>     certificates must stay valid this many more days (default: ${DEFAULT_WARN_DAYS})
  --json              print the checklist as JSON
  -h, --help          show this help

Exit codes: 0 every check passed; 1 a check failed; 2 bad arguments, configuration, or no plan.`;

/** Where the command reads; defaults are the repository's and the real clock. */
export interface PreflightCommandOptions {
  readonly cwd?: string;
  readonly repoRoot?: string;
  readonly now?: Date;
}

/** Runs `preflight` with `argv` (without the program name). Never throws for bad input. */
export function preflightCommand(argv: readonly string[], options: PreflightCommandOptions = {}): CommandResult {
  const usage = (message: string): CommandResult => ({ code: 2, stdout: "", stderr: `preflight: ${message}\n\n${PREFLIGHT_HELP}\n` });
  let values: {
    env?: string | undefined;
    plan?: string | undefined;
    "config-dir"?: string | undefined;
    "warn-days"?: string | undefined;
    json?: boolean | undefined;
    help?: boolean | undefined;
  };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        env: { type: "string" },
        plan: { type: "string" },
        "config-dir": { type: "string" },
        "warn-days": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (e) {
    return usage((e as Error).message);
  }
  if (values.help) return { code: 0, stdout: `${PREFLIGHT_HELP}\n`, stderr: "" };
  if (values.env === undefined) return usage("'--env' is required (got nothing). Name the environment to check, e.g. --env prod.");
  const warnText = values["warn-days"] ?? String(DEFAULT_WARN_DAYS);
  if (!/^[0-9]{1,4}$/.test(warnText))
    return usage(`'--warn-days' is not a whole number of days (got ${warnText}). Use e.g. --warn-days 30.`);

  const cwd = options.cwd ?? process.cwd();
  const planArg = values.plan ?? "cdktf.out";
  const planDir = resolve(cwd, planArg);
  if (!existsSync(join(planDir, "manifest.json"))) {
    return usage(
      `'--plan' ${planArg} holds no synthesized plan (got no manifest.json). Run \`npm run synth -- --env ${values.env}\` first.`,
    );
  }
  let config: PlueConfig;
  try {
    config = loadConfig(values.env, values["config-dir"] ? resolve(cwd, values["config-dir"]) : CONFIG_DIR);
  } catch (e) {
    if (e instanceof ConfigError) return { code: 2, stdout: "", stderr: `${e.message}\n` };
    throw e;
  }
  const report = runPreflight({
    config,
    planDir,
    repoRoot: options.repoRoot ?? REPO_ROOT,
    now: options.now ?? new Date(),
    warnDays: Number(warnText),
  });
  const stdout = values.json ? `${JSON.stringify(report, null, 2)}\n` : formatPreflight(report);
  return { code: report.ok ? 0 : 1, stdout, stderr: "" };
}

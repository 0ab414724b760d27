/**
 * `npm run review`: what an engineer reads before merging — the synthesized plan's stacks and
 * charts, the key-material scan, and the connectivity matrix evaluated over the real
 * NetworkPolicies. The launcher (`bin/plue.mjs review`) runs {@link main}; the work
 * (app/review.ts) is imported only when a review runs, so `review --help` starts fast.
 */
import type { Command } from "commander";
import {
  addOption,
  type CliIo,
  type CommandResult,
  type CommandSpec,
  capture,
  defineCommand,
  nonEmpty,
  runAsync,
  setAction,
} from "./cli/kit.ts";
import type { ReviewOptions } from "./review.ts";

/** Help and error texts of `npm run review`. */
export const REVIEW_SPEC: CommandSpec = {
  where: "review",
  invocation: "npm run review --",
  usage: "[--env <name>] [--plan <dir>] [--json]",
  description: [
    "Reviews a synthesized plan (run `npm run synth` first): stacks and their resource counts,",
    "charts and their objects, a scan for private keys and secret values, and the connectivity",
    "matrix (who may reach whom) evaluated over the synthesized NetworkPolicies.",
  ].join("\n"),
  sections: [
    {
      title: "Environment",
      lines: ["PLUE_PKI_PASSPHRASE, DATABASE_URL  when set, the scan also looks for these values (never printed)"],
    },
  ],
  exitCodes: [
    [0, "clean: no key material, every flow as promised"],
    [1, "key material found, or a flow differs from the promise"],
    [2, "bad arguments, configuration, or no plan"],
  ],
  examples: ["npm run synth && npm run review", "npm run review -- --env prod --plan /tmp/prod.out --json"],
};

/** The `review` command with its options; `run` does the work. */
export function reviewProgram(run: (options: ReviewOptions) => number | Promise<number>): Command {
  const cmd = defineCommand("review", REVIEW_SPEC);
  addOption(cmd, "--env <name>", "environment the plan was synthesized for (default: example)", nonEmpty("an environment name"));
  addOption(cmd, "--plan <dir>", "synthesized plan directory (default: cdktf.out)", nonEmpty("a directory"));
  cmd.option("--json", "print the review as JSON");
  return setAction<ReviewOptions>(cmd, run);
}

/** Loads every module a review needs without running it (the floor `npm run bench` measures). */
export async function preload(): Promise<void> {
  await import("./review.ts");
}

/** Runs `review` with `argv` (without the program name); resolves to the exit code. */
export function main(argv: readonly string[], io: CliIo): Promise<number> {
  return runAsync(
    reviewProgram(async (opts) => (await import("./review.ts")).review(opts, io)),
    argv,
    io,
  );
}

/** Runs `review` in-process and returns what it printed (the form the tests use). */
export function reviewCommand(argv: readonly string[], cwd: string = process.cwd(), env: CliIo["env"] = {}): Promise<CommandResult> {
  return capture(main, argv, { cwd, env });
}

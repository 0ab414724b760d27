/**
 * `npm run review`: what an engineer reads before merging — every posture, cross-layer and
 * deploy-readiness rule over the synthesized plan, what the change does, and a picture of the
 * system. The launcher (`bin/plue.mjs review`) runs {@link main}; the work (app/review.ts) is
 * imported only when a review runs, so `review --help` starts fast.
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
  usage: "[--env <name>] [--dir <dir>] [--base <ref> | --plan <dir>] [--out <dir>] [--json]",
  description: [
    "Reviews a synthesized plan (run `npm run synth` first) against every posture, cross-layer and",
    'deploy-readiness rule (README, "Review before merging"), with the environment\'s suppressions;',
    "optionally says what the change does (--base, --plan). Prints the findings and writes",
    "review.md, review.html, review.json and review.sarif (default: <dir>/review).",
  ].join("\n"),
  sections: [
    {
      title: "Environment",
      lines: [
        "PLUE_ENV                           the environment when --env is not given (default: example)",
        "PLUE_PKI_PASSPHRASE, DATABASE_URL  when set, the key-material rule also looks for these values (never printed)",
      ],
    },
  ],
  exitCodes: [
    [0, "every rule passes (notes and suppressed findings do not fail)"],
    [1, "a rule fails (naming rule and resource), or a suppression has expired"],
    [2, "bad arguments, configuration, no plan, a bad --base ref or --plan directory (nothing written)"],
  ],
  examples: [
    "npm run synth && npm run review",
    "npm run review -- --env prod --base origin/main",
    "npm run review -- --env prod --plan plans/ --json",
  ],
};

/** The `review` command with its options; `run` does the work. */
export function reviewProgram(run: (options: ReviewOptions) => number | Promise<number>): Command {
  const cmd = defineCommand("review", REVIEW_SPEC);
  addOption(
    cmd,
    "--env <name>",
    "environment the plan was synthesized for (default: $PLUE_ENV, else example)",
    nonEmpty("an environment name"),
  );
  addOption(cmd, "--dir <dir>", "synthesized plan directory (default: cdktf.out)", nonEmpty("a directory"));
  addOption(cmd, "--base <ref>", "also compare with this git ref, synthesized in a temporary worktree", nonEmpty("a git ref"));
  addOption(
    cmd,
    "--plan <dir>",
    "also read `terraform show -json` plans, one <stack>.json each (not with --base)",
    nonEmpty("a directory"),
  );
  addOption(cmd, "--out <dir>", "where the report files go (default: <dir>/review)", nonEmpty("a directory"));
  cmd.option("--json", "print the report (review.json) instead of the text");
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

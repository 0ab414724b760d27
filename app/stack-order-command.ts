/**
 * `npm run --silent stack-order`: the plan's stacks in dependency order (read from
 * `<plan>/manifest.json`), one per line; with `--deps`, each followed by the stacks it depends
 * on. The workflows plan and deploy in this order. The launcher (`bin/plue.mjs stack-order`)
 * runs {@link main}.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { readStacks, stackOrder } from "../review/stack-order.ts";
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
} from "./cli/kit.ts";

/** Help and error texts of `npm run stack-order`. */
export const STACK_ORDER_SPEC: CommandSpec = {
  where: "stack-order",
  invocation: "npm run --silent stack-order --",
  usage: "[--plan <dir>] [--exclude <stack>]... [--deps]",
  description: "Prints the synthesized plan's stacks in dependency order (from <plan>/manifest.json), one per line.",
  exitCodes: [
    [0, "printed"],
    [2, "bad arguments, no plan, an unknown stack or a dependency cycle"],
  ],
  examples: ["npm run --silent stack-order", "npm run --silent stack-order -- --exclude bootstrap --deps"],
};

interface StackOrderOptions {
  readonly plan?: string;
  readonly exclude?: readonly string[];
  readonly deps?: boolean;
}

function printOrder(values: StackOrderOptions, io: CliIo): number {
  let lines: string[];
  try {
    const stacks = readStacks(resolve(io.cwd, values.plan ?? "cdktf.out"));
    const order = stackOrder(stacks);
    const exclude = values.exclude ?? [];
    const unknown = exclude.find((x) => !order.includes(x));
    if (unknown !== undefined)
      throw new UsageError(`stack-order: '--exclude' names no stack (got ${unknown}). Stacks: ${order.join(", ")}.`);
    const deps = new Map(stacks.map((s) => [s.name, [...s.dependencies].sort()]));
    lines = order.filter((s) => !exclude.includes(s)).map((s) => (values.deps ? [s, ...(deps.get(s) ?? [])].join(" ") : s));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`stack-order: ${(e as Error).message}`);
  }
  io.stdout(`${lines.join("\n")}\n`);
  return 0;
}

/** The `stack-order` command with its options; `run` does the work. */
export function stackOrderProgram(run: (options: StackOrderOptions) => number): Command {
  const cmd = defineCommand("stack-order", STACK_ORDER_SPEC);
  addOption(cmd, "--plan <dir>", "synthesized plan directory (default: cdktf.out)", nonEmpty("a directory"));
  cmd.option("--exclude <stack>", "leave a stack out (repeatable); it must exist", (value: string, previous: string[] = []) => [
    ...previous,
    value,
  ]);
  cmd.option("--deps", "print each stack's direct dependencies after it, space-separated");
  return setAction<StackOrderOptions>(cmd, run);
}

/** Runs `stack-order` with `argv` (without the program name); returns the exit code. */
export function main(argv: readonly string[], io: CliIo): number {
  return runSync(
    stackOrderProgram((opts) => printOrder(opts, io)),
    argv,
    io,
  );
}

/** Runs `stack-order` in-process and returns what it printed (the form the tests use). */
export function stackOrderCommand(argv: readonly string[], cwd: string = process.cwd()): CommandResult {
  return captureSync(main, argv, { cwd });
}

/**
 * The `stack-order` command: the plan's
 * stacks in dependency order (read from `<plan>/manifest.json`), one per line; with `--deps`,
 * each followed by the stacks it depends on. The workflows plan and deploy in this order.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { readStacks, stackOrder } from "../review/stack-order.ts";
import type { CommandResult } from "./synth-command.ts";

/** Usage text of `npm run stack-order`. */
export const STACK_ORDER_HELP = `Usage: npm run --silent stack-order -- [--plan <dir>] [--exclude <stack>]... [--deps]

Prints the synthesized plan's stacks in dependency order (from <plan>/manifest.json), one per line.

Options:
  --plan <dir>        synthesized plan directory (default: cdktf.out)
  --exclude <stack>   leave a stack out (repeatable); it must exist
  --deps              print each stack's direct dependencies after it, space-separated
  -h, --help          show this help

Exit codes: 0 printed; 2 bad arguments, no plan, an unknown stack or a dependency cycle.`;

/** Runs `stack-order` with `argv`. Never throws for bad input. */
export function stackOrderCommand(argv: readonly string[], cwd: string = process.cwd()): CommandResult {
  const usage = (message: string): CommandResult => ({ code: 2, stdout: "", stderr: `stack-order: ${message}\n` });
  let values: { plan?: string | undefined; exclude?: string[] | undefined; deps?: boolean | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        plan: { type: "string" },
        exclude: { type: "string", multiple: true },
        deps: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (e) {
    return usage(`${(e as Error).message}\n\n${STACK_ORDER_HELP}`);
  }
  if (values.help) return { code: 0, stdout: `${STACK_ORDER_HELP}\n`, stderr: "" };
  try {
    const stacks = readStacks(resolve(cwd, values.plan ?? "cdktf.out"));
    const order = stackOrder(stacks);
    const exclude = values.exclude ?? [];
    for (const x of exclude) {
      if (!order.includes(x)) return usage(`'--exclude' names no stack (got ${x}). Stacks: ${order.join(", ")}.`);
    }
    const deps = new Map(stacks.map((s) => [s.name, [...s.dependencies].sort()]));
    const lines = order.filter((s) => !exclude.includes(s)).map((s) => (values.deps ? [s, ...(deps.get(s) ?? [])].join(" ") : s));
    return { code: 0, stdout: `${lines.join("\n")}\n`, stderr: "" };
  } catch (e) {
    return usage((e as Error).message);
  }
}

/**
 * The CLI kit every command uses (synth, review, pki, migrate, bench), on commander 14.
 *
 * - One help layout: `Usage:`, the description, `Commands:`, `Options:`, extra sections,
 *   `Exit codes:`, `Examples:` ({@link formatHelp}).
 * - Errors are one line each, shaped `<where>: '<field>' <problem> (got <value>). <fix>`, never
 *   a stack trace: commander's own messages (unknown option, missing value, unknown command)
 *   are reshaped ({@link reshapeCommanderError}), and option values are checked by parsers that
 *   know their option ({@link addOption}).
 * - Commands run in-process: {@link runSync}/{@link runAsync} take `argv` and a {@link CliIo}
 *   (streams, environment, working directory, clock) and return the exit code; nothing here
 *   touches `process` (the launcher, bin/plue.mjs, passes the process's). {@link capture}
 *   collects the output for tests.
 */
import { Command, type CommanderError, type Help, type Option } from "commander";

/** What a command talks to. The launcher passes the process's; tests pass their own. */
export interface CliIo {
  /** Writes to standard output. */
  readonly stdout: (text: string) => void;
  /** Writes to standard error. */
  readonly stderr: (text: string) => void;
  /** Environment variables. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths resolve against. */
  readonly cwd: string;
  /** The clock. */
  readonly now: () => Date;
  /**
   * Loads the command's work module (synth: app/synth.ts) when the launcher provides it: its own
   * bundle, packages included, run with a V8 code cache (docs/adr/0017). Absent in-process (tests),
   * where the command imports the module itself.
   */
  readonly loadWork?: () => Promise<unknown>;
}

/** What one in-process run produced. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A failure reported as its message (already in the project's shape, one line per problem)
 * and an exit code. Commands throw it; the kit prints it without a stack trace.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Bad arguments, options or environment: exit code 2 (or the program's `usageExitCode`). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}

/** Thrown by an option-value parser: what is wrong with the value and how to fix it. */
export class ValueProblem extends Error {
  constructor(
    readonly problem: string,
    readonly fix: string,
  ) {
    super(problem);
    this.name = "ValueProblem";
  }
}

/** The help and error texts of one command. */
export interface CommandSpec {
  /** Prefix of its error lines: `synth`, `pki status`. */
  readonly where: string;
  /** How it is invoked, without options: `npm run pki -- status`. */
  readonly invocation: string;
  /** What follows the invocation in the usage line: `[options]`. */
  readonly usage: string;
  /** What it does, one paragraph per line group. */
  readonly description: string;
  /** Sections printed after the options (`Environment:`, `Files:`), each a title and its lines. */
  readonly sections?: readonly { readonly title: string; readonly lines: readonly string[] }[];
  /** Every exit code it can return, with its meaning. */
  readonly exitCodes: readonly (readonly [number, string])[];
  /** Example invocations. */
  readonly examples: readonly string[];
  /**
   * Never echo stray arguments in errors (they may hold a secret, e.g. a database URL).
   * @default false
   */
  readonly secretOperands?: boolean;
  /**
   * Exit code of a usage error (unknown command or option, bad option value), read from the
   * program's spec: `pki` uses 3, because its status keeps 1 and 2 for cron (renewal due,
   * expired or inconsistent).
   * @default 2
   */
  readonly usageExitCode?: number;
}

const SPECS = new WeakMap<Command, CommandSpec>();
const RESULTS = new WeakMap<Command, { code: number }>();

function specOf(cmd: Command): CommandSpec {
  const spec = SPECS.get(cmd);
  if (spec === undefined) throw new Error(`command '${cmd.name()}' was not made by the CLI kit`);
  return spec;
}

/** The `--help` hint that ends most error lines. */
export function helpHint(spec: CommandSpec, start: "See" | "see" = "See"): string {
  return `${start} ${spec.invocation} --help.`;
}

/** Makes a command (a program, or a subcommand to pass to {@link addSubcommand}) with the kit's help and errors. */
export function defineCommand(name: string, spec: CommandSpec): Command {
  const cmd = new Command(name);
  SPECS.set(cmd, spec);
  cmd.description(spec.description);
  cmd.helpOption("-h, --help", "show this help");
  cmd.configureHelp({ formatHelp });
  return cmd;
}

/** Adds `child` (made by {@link defineCommand}) as a subcommand of `parent`, listed with `summary`. */
export function addSubcommand(parent: Command, child: Command, summary: string): Command {
  child.summary(summary);
  parent.addCommand(child);
  return child;
}

/**
 * Adds an option. `parse` turns the text into the value, or throws {@link ValueProblem}; the kit
 * turns that into `<where>: '<--flag>' <problem> (got <value>). <fix>`. A value that looks like
 * an option (`--env --out`) is refused as a missing value. A `secret` value is never shown.
 */
export function addOption<T = string>(
  cmd: Command,
  flags: string,
  description: string,
  parse?: (value: string) => T,
  options: { readonly secret?: boolean } = {},
): Command {
  const option = cmd.createOption(flags, description);
  if (option.required || option.optional) {
    const where = specOf(cmd).where;
    const long = option.long ?? flags;
    option.argParser((value: string) => {
      const shown = options.secret ? "a value, not shown" : value === "" ? '""' : value;
      if (/^-(?![\d.])./.test(value)) {
        throw new UsageError(
          `${where}: '${long}' needs a value (got ${options.secret ? "an option" : `${value}, an option`}). Give ${option.flags}; ${helpHint(specOf(cmd), "see")}`,
        );
      }
      if (parse === undefined) return value;
      try {
        return parse(value);
      } catch (error) {
        if (error instanceof ValueProblem) throw new UsageError(`${where}: '${long}' ${error.problem} (got ${shown}). ${error.fix}`);
        throw error;
      }
    });
  }
  cmd.addOption(option);
  return cmd;
}

/** A parser for a whole number in [min, max]. */
export function wholeNumber(what: string, min: number, max: number, example: string): (value: string) => number {
  return (value) => {
    if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new ValueProblem(`is not a whole number of ${what} from ${min} to ${max}`, `Use e.g. ${example}.`);
    }
    return Number(value);
  };
}

/** A parser that accepts one of `choices`. */
export function oneOf<T extends string>(choices: readonly T[], what: string): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new ValueProblem(`is not an allowed ${what}`, `Use ${choices.slice(0, -1).join(", ")} or ${choices[choices.length - 1]}.`);
    }
    return value as T;
  };
}

/** A parser for a non-empty string (a name, a directory). */
export function nonEmpty(what: string): (value: string) => string {
  return (value) => {
    if (value.trim() === "") throw new ValueProblem("is empty", `Give ${what}.`);
    return value;
  };
}

/**
 * Sets what a leaf command does. `handler` receives its options (commander's camelCase keys)
 * and returns the exit code. Stray arguments are refused: every command takes options only.
 */
export function setAction<O extends object>(cmd: Command, handler: (options: O) => number | Promise<number>): Command {
  const spec = specOf(cmd);
  cmd.argument("[operands...]");
  cmd.action((operands: string[], options: O) => {
    if (operands.length > 0) {
      const first = operands[0] ?? "";
      const got = spec.secretOperands
        ? `${operands.length} argument${operands.length === 1 ? "" : "s"}, not shown: it may hold a secret`
        : JSON.stringify(operands.join(" "));
      const what = spec.secretOperands ? "an argument" : `'${first}'`;
      throw new UsageError(
        `${spec.where}: ${what} is not an option (got ${got}). ${spec.where} takes options only; ${helpHint(spec, "see")}`,
      );
    }
    const done = (code: number): void => void RESULTS.set(rootOf(cmd), { code });
    const result = handler(options);
    if (typeof result === "number") done(result);
    else return result.then(done);
    return undefined;
  });
  return cmd;
}

/**
 * Makes `cmd` a dispatcher of its subcommands: no command is a usage error (exit 2) that lists
 * them, and `help <command>` prints a command's help.
 */
export function setDispatcher(cmd: Command): Command {
  const spec = specOf(cmd);
  cmd.argument("[command]");
  cmd.helpCommand("help <command>", "show the help of a command");
  cmd.action((name: string | undefined) => {
    throw new UsageError(
      name === undefined
        ? `${spec.where}: '<command>' is missing (got nothing). Use one of ${commandNames(cmd)}; ${helpHint(spec, "see")}`
        : unknownCommandLine(cmd, name, ""),
    );
  });
  return cmd;
}

function commandNames(cmd: Command): string {
  return cmd.commands
    .map((c) => c.name())
    .filter((n) => n !== "help")
    .join(", ");
}

function unknownCommandLine(cmd: Command, name: string, suggestion: string): string {
  const spec = specOf(cmd);
  const what = name.startsWith("-") ? "is not a command (the command comes first)" : "is not a command";
  return `${spec.where}: '${name}' ${what} (got ${name}). ${suggestion}Use one of ${commandNames(cmd)}; ${helpHint(spec, "see")}`;
}

function rootOf(cmd: Command): Command {
  let root = cmd;
  while (root.parent !== null) root = root.parent;
  return root;
}

class Exit extends Error {
  constructor(
    readonly commander: CommanderError,
    readonly from: Command,
  ) {
    super(commander.message);
  }
}

function prepare(cmd: Command, io: CliIo): void {
  cmd.exitOverride((error) => {
    throw new Exit(error, cmd);
  });
  cmd.configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined });
  cmd.showSuggestionAfterError(true);
  for (const sub of cmd.commands) prepare(sub, io);
}

/** Runs a program whose actions are synchronous; returns the exit code. Never throws. */
export function runSync(program: Command, argv: readonly string[], io: CliIo): number {
  prepare(program, io);
  try {
    program.parse([...argv], { from: "user" });
  } catch (error) {
    return report(error, program, io);
  }
  return RESULTS.get(program)?.code ?? 0;
}

/** Runs a program whose actions may be asynchronous; resolves to the exit code. Never rejects. */
export async function runAsync(program: Command, argv: readonly string[], io: CliIo): Promise<number> {
  prepare(program, io);
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    return report(error, program, io);
  }
  return RESULTS.get(program)?.code ?? 0;
}

/** A test io that collects what is written; `result(code)` returns it with the exit code. */
function collector(io: Partial<CliIo>): { io: CliIo; result: (code: number) => CommandResult } {
  const out = { stdout: "", stderr: "" };
  return {
    io: {
      env: {},
      cwd: process.cwd(),
      now: () => new Date(),
      ...io,
      stdout: (text) => {
        out.stdout += text;
      },
      stderr: (text) => {
        out.stderr += text;
      },
    },
    result: (code) => ({ code, ...out }),
  };
}

/** Runs a command's `main(argv, io)` in-process with a test io (`io` overrides); collects what it wrote. */
export async function capture(
  main: (argv: readonly string[], io: CliIo) => number | Promise<number>,
  argv: readonly string[],
  io: Partial<CliIo> = {},
): Promise<CommandResult> {
  const c = collector(io);
  return c.result(await main(argv, c.io));
}

/** Like {@link capture}, for a synchronous `main`. */
export function captureSync(
  main: (argv: readonly string[], io: CliIo) => number,
  argv: readonly string[],
  io: Partial<CliIo> = {},
): CommandResult {
  const c = collector(io);
  return c.result(main(argv, c.io));
}

function report(error: unknown, program: Command, io: CliIo): number {
  const usageExitCode = specOf(program).usageExitCode ?? 2;
  if (error instanceof Exit) {
    const line = reshapeCommanderError(error.commander, error.from);
    if (line !== undefined) io.stderr(`${line}\n`);
    return line === undefined ? error.commander.exitCode : usageExitCode;
  }
  if (error instanceof CliError) {
    io.stderr(`${error.message}\n`);
    return error instanceof UsageError ? usageExitCode : error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`${specOf(program).where}: unexpected error: ${message.split("\n")[0] ?? ""}. Report it with the command that caused it.\n`);
  return 1;
}

/**
 * Commander's message for a parse error, in the project's shape; `undefined` for help and
 * version, which are not errors.
 */
export function reshapeCommanderError(error: CommanderError, from: Command): string | undefined {
  if (error.code === "commander.helpDisplayed" || error.code === "commander.help" || error.code === "commander.version") return undefined;
  const spec = specOf(from);
  const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? "";
  const didYouMean = /\(Did you mean (.+)\?\)/.exec(error.message)?.[1];
  const suggestion = didYouMean === undefined ? "" : `Did you mean ${didYouMean}? `;
  switch (error.code) {
    case "commander.unknownOption": {
      // `--name=value`: never echo the value (it may be a secret).
      const name = quoted.split("=")[0] ?? quoted;
      const got = quoted.includes("=") ? `${name}=…` : name;
      return `${spec.where}: '${name}' is not a known option (got ${got}). ${suggestion}${helpHint(spec)}`;
    }
    case "commander.optionMissingArgument": {
      const long = /--[\w-]+/.exec(quoted)?.[0] ?? quoted;
      return `${spec.where}: '${long}' needs a value (got nothing). Give ${quoted}; ${helpHint(spec, "see")}`;
    }
    case "commander.unknownCommand":
      return unknownCommandLine(from, quoted, suggestion);
    default:
      return `${spec.where}: ${error.message.replace(/^error: /, "").replace(/\.$/, "")}. ${helpHint(spec)}`;
  }
}

/** The kit's help layout, shared by every command. */
export function formatHelp(cmd: Command, helper: Help): string {
  const spec = specOf(cmd);
  const out: string[] = [`Usage: ${spec.invocation} ${spec.usage}`, "", spec.description, ""];
  const commands = cmd.commands.filter((c) => c.name() !== "help");
  if (commands.length > 0) {
    out.push("Commands:");
    out.push(...table(commands.map((c) => [c.name(), c.summary() || c.description()])));
    out.push("");
  }
  const options = helper.visibleOptions(cmd);
  if (options.length > 0) {
    out.push("Options:");
    out.push(...table(options.map((o) => [optionTerm(o), o.description])));
    out.push("");
  }
  for (const section of spec.sections ?? []) out.push(`${section.title}:`, ...section.lines.map((l) => (l === "" ? "" : `  ${l}`)), "");
  out.push("Exit codes:");
  out.push(...table(spec.exitCodes.map(([code, meaning]) => [String(code), meaning])));
  out.push("");
  if (spec.examples.length > 0) out.push("Examples:", ...spec.examples.map((e) => `  ${e}`), "");
  return `${out.join("\n")}`;
}

function optionTerm(option: Option): string {
  return option.short === undefined ? `    ${option.flags}` : option.flags;
}

/** Two columns: terms padded to the widest, multi-line descriptions indented under the first. */
function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([term]) => term.length)) + 2;
  return rows.flatMap(([term, text]) => text.split("\n").map((line, i) => `  ${(i === 0 ? term : "").padEnd(width)}${line}`.trimEnd()));
}

/**
 * The CLI kit (app/cli/kit.ts) on a toy command and dispatcher: the one help layout, and every
 * kind of error as one line in the project's shape with a meaningful exit code. The real
 * commands' own texts are tested beside them (test/pki, test/synth.test.ts, test/app).
 */
import { describe, expect, it } from "vitest";
import {
  addOption,
  addSubcommand,
  type CliIo,
  CliError,
  capture,
  captureSync,
  defineCommand,
  nonEmpty,
  oneOf,
  runAsync,
  runSync,
  setAction,
  setDispatcher,
  UsageError,
  wholeNumber,
} from "../../../app/cli/kit.ts";

interface ToyOptions {
  readonly size?: number;
  readonly mode?: string;
  readonly name?: string;
  readonly loud?: boolean;
}

/** `toy`: echoes its options as JSON; `--mode fail` throws a CliError, `--mode crash` a plain Error. */
function toy(argv: readonly string[], io: CliIo): number {
  const cmd = defineCommand("toy", {
    where: "toy",
    invocation: "npm run toy --",
    usage: "[--size <n>] [--mode <mode>]",
    description: "Does toy things.\nOn two lines.",
    sections: [{ title: "Environment", lines: ["TOY_HOME  where toys live"] }],
    exitCodes: [
      [0, "done"],
      [2, "bad arguments"],
      [7, "toy failure"],
    ],
    examples: ["npm run toy -- --size 3"],
  });
  addOption(cmd, "--size <n>", "how many (default: 1)", wholeNumber("toys", 1, 10, "--size 3"));
  addOption(cmd, "--mode <mode>", "what to do:\nok, fail or crash", oneOf(["ok", "fail", "crash"], "mode"));
  addOption(cmd, "-n, --name <name>", "a name", nonEmpty("a name"));
  cmd.option("--loud", "shout");
  setAction<ToyOptions>(cmd, (opts) => {
    if (opts.mode === "fail") throw new CliError("toy: 'mode' failed on purpose (got fail). Use ok.", 7);
    if (opts.mode === "crash") throw new Error("boom\n    at somewhere (file.ts:1:1)");
    io.stdout(`${JSON.stringify(opts)}\n`);
    return 0;
  });
  return runSync(cmd, argv, io);
}

describe("the help layout", () => {
  it("is Usage, description, Options, extra sections, Exit codes, Examples", () => {
    expect(captureSync(toy, ["--help"])).toEqual({
      code: 0,
      stderr: "",
      stdout: [
        "Usage: npm run toy -- [--size <n>] [--mode <mode>]",
        "",
        "Does toy things.",
        "On two lines.",
        "",
        "Options:",
        "      --size <n>     how many (default: 1)",
        "      --mode <mode>  what to do:",
        "                     ok, fail or crash",
        "  -n, --name <name>  a name",
        "      --loud         shout",
        "  -h, --help         show this help",
        "",
        "Environment:",
        "  TOY_HOME  where toys live",
        "",
        "Exit codes:",
        "  0  done",
        "  2  bad arguments",
        "  7  toy failure",
        "",
        "Examples:",
        "  npm run toy -- --size 3",
        "",
      ].join("\n"),
    });
    expect(captureSync(toy, ["-h"]).stdout).toBe(captureSync(toy, ["--help"]).stdout);
  });
});

describe("parsing", () => {
  it("passes parsed values to the action", () => {
    expect(captureSync(toy, ["--size", "3", "--mode=ok", "-n", "x", "--loud"])).toEqual({
      code: 0,
      stdout: '{"size":3,"mode":"ok","name":"x","loud":true}\n',
      stderr: "",
    });
  });

  it.each([
    [["--sise", "3"], "toy: '--sise' is not a known option (got --sise). Did you mean --size? See npm run toy -- --help."],
    [["--secret=hunter2"], "toy: '--secret' is not a known option (got --secret=…). See npm run toy -- --help."],
    [["-x"], "toy: '-x' is not a known option (got -x). See npm run toy -- --help."],
    [["--size"], "toy: '--size' needs a value (got nothing). Give --size <n>; see npm run toy -- --help."],
    [["--name", "--loud"], "toy: '--name' needs a value (got --loud, an option). Give -n, --name <name>; see npm run toy -- --help."],
    [["--size", "0"], "toy: '--size' is not a whole number of toys from 1 to 10 (got 0). Use e.g. --size 3."],
    [["--size", "3.5"], "toy: '--size' is not a whole number of toys from 1 to 10 (got 3.5). Use e.g. --size 3."],
    [["--size", "many"], "toy: '--size' is not a whole number of toys from 1 to 10 (got many). Use e.g. --size 3."],
    [["--mode", "explode"], "toy: '--mode' is not an allowed mode (got explode). Use ok, fail or crash."],
    [["--name", " "], "toy: '--name' is empty (got  ). Give a name."],
    [["extra", "args"], `toy: 'extra' is not an option (got "extra args"). toy takes options only; see npm run toy -- --help.`],
  ])("%j is a usage error: exit 2, one line", (argv, line) => {
    expect(captureSync(toy, argv)).toEqual({ code: 2, stdout: "", stderr: `${line}\n` });
  });
});

describe("failures", () => {
  it("prints a CliError's message with its exit code", () => {
    expect(captureSync(toy, ["--mode", "fail"])).toEqual({
      code: 7,
      stdout: "",
      stderr: "toy: 'mode' failed on purpose (got fail). Use ok.\n",
    });
  });

  it("turns an unexpected error into one line, exit 1, no stack trace", () => {
    expect(captureSync(toy, ["--mode", "crash"])).toEqual({
      code: 1,
      stdout: "",
      stderr: "toy: unexpected error: boom. Report it with the command that caused it.\n",
    });
  });
});

describe("a dispatcher", () => {
  function box(argv: readonly string[], io: CliIo): Promise<number> {
    const program = defineCommand("box", {
      where: "box",
      invocation: "npm run box --",
      usage: "<command> [options]",
      description: "Boxes.",
      exitCodes: [
        [0, "done"],
        [2, "usage error"],
      ],
      examples: ["npm run box -- open"],
    });
    setDispatcher(program);
    const open = defineCommand("open", {
      where: "box open",
      invocation: "npm run box -- open",
      usage: "[options]",
      description: "Opens a box.",
      exitCodes: [[0, "opened"]],
      examples: [],
      secretOperands: true,
    });
    open.option("--wide", "open wide");
    setAction<{ wide?: boolean }>(open, async (opts) => {
      await Promise.resolve();
      io.stdout(opts.wide ? "wide open\n" : "open\n");
      return opts.wide ? 0 : 3;
    });
    addSubcommand(program, open, "open a box");
    return runAsync(program, argv, io);
  }

  it("runs an asynchronous subcommand and returns its exit code", async () => {
    expect(await capture(box, ["open", "--wide"])).toEqual({ code: 0, stdout: "wide open\n", stderr: "" });
    expect(await capture(box, ["open"])).toEqual({ code: 3, stdout: "open\n", stderr: "" });
  });

  it("lists its commands in the help; help <command> is <command> --help", async () => {
    const help = await capture(box, ["--help"]);
    expect(help.stdout).toBe(
      [
        "Usage: npm run box -- <command> [options]",
        "",
        "Boxes.",
        "",
        "Commands:",
        "  open  open a box",
        "",
        "Options:",
        "  -h, --help  show this help",
        "",
        "Exit codes:",
        "  0  done",
        "  2  usage error",
        "",
        "Examples:",
        "  npm run box -- open",
        "",
      ].join("\n"),
    );
    expect(await capture(box, ["help", "open"])).toEqual(await capture(box, ["open", "--help"]));
    expect((await capture(box, ["open", "--help"])).stdout).toMatch(/^Usage: npm run box -- open \[options\]\n\nOpens a box\.\n/);
  });

  it.each([
    [[], "box: '<command>' is missing (got nothing). Use one of open; see npm run box -- --help."],
    [["shut"], "box: 'shut' is not a command (got shut). Use one of open; see npm run box -- --help."],
    [["opne"], "box: 'opne' is not a command (got opne). Use one of open; see npm run box -- --help."],
    [["--wide", "open"], "box: '--wide' is not a known option (got --wide). See npm run box -- --help."],
    [
      ["open", "postgresql://u:hunter2@h/d"],
      "box open: an argument is not an option (got 1 argument, not shown: it may hold a secret). box open takes options only; see npm run box -- open --help.",
    ],
  ])("%j is a usage error: exit 2, one line", async (argv, line) => {
    expect(await capture(box, argv)).toEqual({ code: 2, stdout: "", stderr: `${line}\n` });
  });

  it("throws nothing for a UsageError from an action: exit 2 with its message", async () => {
    const cmd = defineCommand("u", { where: "u", invocation: "u", usage: "", description: "U.", exitCodes: [[2, "always"]], examples: [] });
    setAction(cmd, () => {
      throw new UsageError("u: 'x' is wrong (got y). Fix it.");
    });
    expect(await capture((argv, io) => runAsync(cmd, argv, io), [])).toEqual({
      code: 2,
      stdout: "",
      stderr: "u: 'x' is wrong (got y). Fix it.\n",
    });
  });
});

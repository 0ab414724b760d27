/**
 * `npm run bench`: the whole synth as a fresh process, and the start-up of the read-only
 * commands, against their budgets (issues 10, 12 and 14): synth median <= 1 s and peak RSS <= 200 MB;
 * the process behind a read-only command (`pki status`, `review --help`, `synth --help`) <= 300
 * ms; a whole client rotation (`pki rotate client begin`, then `finish --confirmed-active`: two
 * processes, no network) <= 1 s.
 * Beside each it prints the floor: the same launcher loading the same modules without running
 * anything (`bin/plue.mjs --load-only <command>`), so the distance from it is visible.
 *
 * Everything is measured from outside the child, without sampling it: the wall time is the
 * parent's clock around a blocking spawn (the parent does nothing meanwhile), and the peak RSS
 * is the child's own high-water mark as the kernel reports it to its parent (wait4 rusage,
 * ru_maxrss), read through GNU time (`/usr/bin/time -f %M`). Each command is exactly what its
 * npm script runs, without npm's own process around it.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../lib/paths.ts";
import { addOption, CliError, type CliIo, type CommandSpec, defineCommand, runAsync, setAction, wholeNumber } from "./cli/kit.ts";

/** The budgets of issues 10, 12 and 14. */
export const BUDGET = { synthMedianMs: 1000, synthPeakMb: 200, startMedianMs: 300, reviewMedianMs: 1000, rotationMedianMs: 1000 } as const;

/** Exit code when a measured command failed or cannot be measured. */
export const EXIT_CANNOT_MEASURE = 3;

/** Help and error texts of `npm run bench`. */
export const BENCH_SPEC: CommandSpec = {
  where: "bench",
  invocation: "npm run bench --",
  usage: "[--runs <n>] [--json]",
  description: [
    "Measures, each as a fresh process exactly as its npm script runs it (npm's own start not",
    "counted), from outside the process (wall: the parent's clock around a blocking spawn; peak",
    "RSS: the child's rusage through GNU time):",
    `  the whole synth of the example environment    budget: median <= ${BUDGET.synthMedianMs} ms, peak <= ${BUDGET.synthPeakMb} MB`,
    "  its floor: the same modules loaded, nothing built (bin/plue.mjs --load-only synth)",
    `  pki status, review --help, synth --help        budget: median <= ${BUDGET.startMedianMs} ms each`,
    `  the review of the unchanged example plan         budget: median <= ${BUDGET.reviewMedianMs} ms (what it adds to the synth)`,
    `  a client rotation: pki rotate client begin, then finish --confirmed-active (two processes, no network)`,
    `                                                   budget: median <= ${BUDGET.rotationMedianMs} ms for both`,
    "  node's own start, for reference",
  ].join("\n"),
  sections: [{ title: "Requires", lines: ["GNU time at /usr/bin/time (Debian: apt-get install -y time)"] }],
  exitCodes: [
    [0, "every figure within its budget"],
    [1, "a budget was missed"],
    [2, "bad arguments"],
    [EXIT_CANNOT_MEASURE, "a measured command failed, or there is no time tool to measure with"],
  ],
  examples: ["npm run bench", "npm run bench -- --runs 15 --json"],
};

interface BenchOptions {
  readonly runs?: number;
  readonly json?: boolean;
}

/** min/median/max of a series. */
export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

/** One measured command. */
export interface BenchRow {
  readonly name: string;
  readonly command: string;
  readonly runs: number;
  readonly wallMs: Spread;
  /** User + system CPU time of the child: what the machine's other load does not inflate much. */
  readonly cpuMs: Spread;
  readonly peakRssMb: Spread;
  /** The budget, or `null` for a reference figure (a floor). */
  readonly budget: { readonly medianMs: number; readonly peakMb?: number } | null;
  readonly withinBudget: boolean | null;
}

/** Runs `bench` with `argv` (without the program name); resolves to the exit code. */
export function main(argv: readonly string[], io: CliIo): Promise<number> {
  const cmd = defineCommand("bench", BENCH_SPEC);
  addOption(cmd, "--runs <n>", "runs of each command (default: 7)", wholeNumber("runs", 1, 1000, "--runs 7"));
  cmd.option("--json", "print the figures as JSON");
  setAction<BenchOptions>(cmd, (opts) => bench(opts, io));
  return runAsync(cmd, argv, io);
}

/** min/median/max of `xs` (not empty). */
export function spread(xs: readonly number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { min: s[0] as number, median, max: s[s.length - 1] as number };
}

/**
 * How to read a child's rusage from outside: GNU time. (busybox `time -f %M` multiplies
 * ru_maxrss, already in kB on Linux, by the page size in kB: four times too much.)
 */
export function timeTool(): readonly string[] {
  const gnu = spawnSync("/usr/bin/time", ["--version"], { encoding: "utf8" });
  if (gnu.status === 0 && `${gnu.stdout}${gnu.stderr}`.includes("GNU")) return ["/usr/bin/time"];
  throw new CliError(
    "bench: '/usr/bin/time' is not GNU time (got none, or another time). Install it: apt-get install -y time (Debian), brew install gnu-time (macOS, then link gtime).",
    EXIT_CANNOT_MEASURE,
  );
}

export interface Sample {
  /** Wall time, by the parent's clock. */
  readonly ms: number;
  /** The child's user + system CPU time (rusage). */
  readonly cpuMs: number;
  /** The child's peak RSS (rusage ru_maxrss). */
  readonly peakKb: number;
}

export function measureOnce(tool: readonly string[], argv: readonly string[], env: NodeJS.ProcessEnv, scratch: string): Sample {
  const report = join(scratch, "time.txt");
  const [program, ...toolArgs] = tool;
  const start = process.hrtime.bigint();
  const run = spawnSync(program ?? "", [...toolArgs, "-o", report, "-f", "%M %U %S", ...argv], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (run.status !== 0) {
    throw new CliError(
      `bench: '${argv.join(" ")}' failed (got exit ${run.status ?? run.signal}: ${run.stderr.trim().split("\n")[0] ?? ""}). Run it alone to see why.`,
      EXIT_CANNOT_MEASURE,
    );
  }
  const lines = readFileSync(report, "utf8").trim().split("\n");
  const [peakKb, user, system] = (lines[lines.length - 1] ?? "").split(" ").map(Number);
  if (peakKb === undefined || user === undefined || system === undefined || !(peakKb > 0) || !(user >= 0) || !(system >= 0)) {
    throw new CliError(`bench: '${tool.join(" ")}' reported no peak RSS (got ${lines.join(" / ")}). Use GNU time.`, EXIT_CANNOT_MEASURE);
  }
  return { ms, cpuMs: (user + system) * 1000, peakKb };
}

/** The command of an npm script: `node [flags] bin/plue.mjs <command>` as argv (node = this node). */
function scriptArgv(script: string): string[] {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const text = pkg.scripts[script];
  const [program, ...args] = (text ?? "").split(/\s+/);
  if (program !== "node") {
    throw new CliError(`bench: 'scripts.${script}' does not start with node (got ${text ?? "nothing"}). Run it through bin/plue.mjs.`, 2);
  }
  return [process.execPath, ...args];
}

/** The same argv with `--load-only` before the command: loads its modules, runs nothing. */
function floorArgv(argv: readonly string[]): string[] {
  const at = argv.findIndex((a) => a.endsWith("plue.mjs"));
  return [...argv.slice(0, at + 1), "--load-only", ...argv.slice(at + 1)];
}

async function bench(opts: BenchOptions, io: CliIo): Promise<number> {
  const runs = opts.runs ?? 7;
  const tool = timeTool();
  const scratch = mkdtempSync(join(tmpdir(), "plue-bench-"));
  try {
    const env: NodeJS.ProcessEnv = { ...io.env };
    delete env.CDKTF_OUTDIR;
    delete env.PLUE_PKI_PASSPHRASE;

    const synth = scriptArgv("synth");
    const pki = scriptArgv("pki");
    // A store as the first deploy leaves it, made by the pki commands themselves (the CA key
    // encrypted with the default KDF rounds, as in use) under a passphrase made up here; the
    // whole scratch directory, keys included, is removed at the end.
    const store = join(scratch, "store");
    const pkiEnv: NodeJS.ProcessEnv = { ...env, PLUE_PKI_PASSPHRASE: randomBytes(18).toString("base64url") };
    for (const command of ["init-ca", "issue-client", "origin-csr", "publish"])
      measureOnce(tool, [...pki, command, "--dir", store], pkiEnv, scratch);
    const review = scriptArgv("review");
    const plan = join(scratch, "plan");
    const reviewOut = join(scratch, "review");
    // Warm the bundle cache, the plan the review reads and its diagram (an unchanged plan's
    // review reuses the rendered diagram, as in use); not measured.
    for (const argv of [
      floorArgv(synth),
      floorArgv(pki),
      floorArgv(review),
      [...synth, "--out", plan],
      [...review, "--dir", plan, "--out", reviewOut],
    ])
      measureOnce(tool, argv, env, scratch);

    const shownArgv = (argv: readonly string[]): string =>
      argv.map((a) => (a === process.execPath ? "node" : a.startsWith(scratch) ? "<tmp>" : a)).join(" ");
    const row = (name: string, command: string, samples: readonly Sample[], budget: BenchRow["budget"]): BenchRow => {
      const wallMs = spread(samples.map((s) => s.ms));
      const cpuMs = spread(samples.map((s) => s.cpuMs));
      const peakRssMb = spread(samples.map((s) => s.peakKb / 1024));
      const within =
        budget === null ? null : wallMs.median <= budget.medianMs && (budget.peakMb === undefined || peakRssMb.max <= budget.peakMb);
      return { name, command, runs, wallMs, cpuMs, peakRssMb, budget, withinBudget: within };
    };
    const series = (
      name: string,
      argv: readonly string[],
      budget: BenchRow["budget"],
      fresh?: (i: number) => readonly string[],
    ): BenchRow => {
      const samples: Sample[] = [];
      for (let i = 0; i < runs; i++) samples.push(measureOnce(tool, fresh === undefined ? argv : [...argv, ...fresh(i)], env, scratch));
      return row(name, shownArgv(argv), samples, budget);
    };
    /** begin then finish on a fresh copy of the store each run: one sample is both processes. */
    const rotation = (): BenchRow => {
      const begin = [...pki, "rotate", "client", "begin", "--dir"];
      const finish = [...pki, "rotate", "client", "finish", "--confirmed-active", "--dir"];
      const samples: Sample[] = [];
      for (let i = 0; i < runs; i++) {
        const dir = join(scratch, `rotation-${i}`);
        cpSync(store, dir, { recursive: true });
        const a = measureOnce(tool, [...begin, dir], pkiEnv, scratch);
        const b = measureOnce(tool, [...finish, dir], env, scratch);
        samples.push({ ms: a.ms + b.ms, cpuMs: a.cpuMs + b.cpuMs, peakKb: Math.max(a.peakKb, b.peakKb) });
      }
      return row("pki rotate client begin + finish", `${shownArgv(begin)} <tmp> && ${shownArgv(finish)} <tmp>`, samples, {
        medianMs: BUDGET.rotationMedianMs,
      });
    };

    const rows: BenchRow[] = [
      series("synth", synth, { medianMs: BUDGET.synthMedianMs, peakMb: BUDGET.synthPeakMb }, (i) => ["--out", join(scratch, `out-${i}`)]),
      series("synth floor (modules loaded, nothing built)", floorArgv(synth), null),
      series("pki status", [...pki, "status", "--dir", store], { medianMs: BUDGET.startMedianMs }),
      series("pki floor (modules loaded)", floorArgv(pki), null),
      series("review --help", [...review, "--help"], { medianMs: BUDGET.startMedianMs }),
      series("synth --help", [...synth, "--help"], { medianMs: BUDGET.startMedianMs }),
      series("review of the unchanged example plan", [...review, "--dir", plan, "--out", reviewOut], { medianMs: BUDGET.reviewMedianMs }),
      rotation(),
      series("node -e 0 (process start)", [process.execPath, "-e", "0"], null),
    ];
    const withinBudget = rows.every((r) => r.withinBudget !== false);
    const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version, platform: process.platform };
    const method = {
      wall: "parent clock around a blocking spawn",
      cpu: `child rusage (ru_utime + ru_stime) via ${tool.join(" ")}`,
      peakRss: `child rusage (ru_maxrss) via ${tool.join(" ")}`,
    };

    if (opts.json) {
      io.stdout(`${JSON.stringify({ date: io.now().toISOString(), machine, method, runs, rows, withinBudget }, null, 2)}\n`);
    } else {
      io.stdout(`${formatTable(rows, runs, machine, tool)}\n${withinBudget ? "within budget" : "OVER BUDGET"}\n`);
    }
    return withinBudget ? 0 : 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    if (existsSync(scratch)) io.stderr(`bench: warning: could not remove ${scratch}\n`);
  }
}

function formatTable(
  rows: readonly BenchRow[],
  runs: number,
  machine: { cpus: number; cpu: string; node: string },
  tool: readonly string[],
): string {
  const f = (x: number): string => x.toFixed(0).padStart(6);
  const width = Math.max(...rows.map((r) => r.name.length)) + 2;
  const lines = [
    `${runs} runs each on ${machine.cpus} x ${machine.cpu}, node ${machine.node}; wall: parent clock; CPU (user+system) and peak RSS: child rusage via ${tool.join(" ")}`,
    "",
    `${"".padEnd(width)}   wall ms (min/median/max)   CPU ms (median)   peak RSS MB (min/median/max)   budget`,
  ];
  for (const r of rows) {
    const budget =
      r.budget === null
        ? "-"
        : `median <= ${r.budget.medianMs} ms${r.budget.peakMb === undefined ? "" : `, peak <= ${r.budget.peakMb} MB`}: ${r.withinBudget ? "ok" : "MISSED"}`;
    lines.push(
      `${r.name.padEnd(width)}   ${f(r.wallMs.min)} ${f(r.wallMs.median)} ${f(r.wallMs.max)}             ${f(r.cpuMs.median)}      ${f(r.peakRssMb.min)} ${f(r.peakRssMb.median)} ${f(r.peakRssMb.max)}         ${budget}`,
    );
  }
  lines.push("", "commands:", ...rows.map((r) => `  ${r.name}: ${r.command}`));
  return lines.join("\n");
}

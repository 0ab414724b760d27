/**
 * `npm run bench`: times the whole synth as a fresh process, several times, and prints
 * min/median/max wall time and peak RSS — beside the same figures for `cdktf synth` (the CLI).
 * Peak RSS is the largest sum of VmRSS over the process tree, sampled every 5 ms from /proc.
 *
 * Budget (issue 2): direct synth median <= 1.5 s and peak RSS <= 250 MB on the 2-core machine.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const REPO = join(import.meta.dirname, "..");
const BUDGET = { medianMs: 1500, peakMb: 250 };

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "7" },
    "cli-runs": { type: "string", default: "3" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  process.stdout.write("Usage: npm run bench -- [--runs N] [--cli-runs N] [--json]\nExit 1 when the direct synth misses its budget.\n");
  process.exit(0);
}
const runs = Number(values.runs);
const cliRuns = Number(values["cli-runs"]);

/** Children of each pid, from /proc/<pid>/stat. */
function treeRssKb(root: number): number {
  const parent = new Map<number, number>();
  const rss = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parent.set(Number(entry), ppid);
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${entry}/status`, "utf8"));
      rss.set(Number(entry), m ? Number(m[1]) : 0);
    } catch {
      // the process ended between listing and reading
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parent.get(p)) if (p === root) return true;
    return false;
  };
  let total = 0;
  for (const [pid, kb] of rss) if (inTree(pid)) total += kb;
  return total;
}

interface Sample {
  readonly ms: number;
  readonly peakMb: number;
}

function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd: REPO, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let peakKb = 0;
    const timer = setInterval(() => {
      if (child.pid) peakKb = Math.max(peakKb, treeRssKb(child.pid));
    }, 5);
    child.on("exit", (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      clearInterval(timer);
      if (code !== 0) reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr}`));
      else resolve({ ms, peakMb: peakKb / 1024 });
    });
  });
}

function stats(xs: number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { min: s[0] as number, median, max: s[s.length - 1] as number };
}

async function series(label: string, n: number, make: (out: string) => [string, string[], NodeJS.ProcessEnv]) {
  const samples: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const dir = mkdtempSync(join(tmpdir(), "plue-bench-"));
    try {
      const [cmd, args, env] = make(join(dir, "out"));
      samples.push(await measure(cmd, args, env));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { label, runs: n, wallMs: stats(samples.map((s) => s.ms)), peakRssMb: stats(samples.map((s) => s.peakMb)) };
}

// Exactly the command `npm run synth` runs (package.json), without npm's own process around it.
const synthScript = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: { synth: string } }).scripts.synth;
const [program, ...synthArgs] = synthScript.split(/\s+/);
if (program !== "node") throw new Error(`bench expects the synth script to start with node (got: ${synthScript})`);
const direct = await series(`synth (${synthScript})`, runs, (out) => [process.execPath, [...synthArgs, "--out", out], process.env]);
const cli =
  cliRuns > 0
    ? await series("cdktf synth (CLI)", cliRuns, (out) => [
        join(REPO, "node_modules", ".bin", "cdktf"),
        ["synth", "--output", out],
        { ...process.env, CHECKPOINT_DISABLE: "1", CI: "1" },
      ])
    : undefined;

const results = cli ? [direct, cli] : [direct];
const withinBudget = direct.wallMs.median <= BUDGET.medianMs && direct.peakRssMb.max <= BUDGET.peakMb;
if (values.json) {
  process.stdout.write(`${JSON.stringify({ results, budget: BUDGET, withinBudget }, null, 2)}\n`);
} else {
  const f = (x: number) => x.toFixed(0).padStart(6);
  process.stdout.write(`${"".padEnd(56)}  runs   wall ms (min/median/max)   peak RSS MB (min/median/max)\n`);
  for (const r of results) {
    process.stdout.write(
      `${r.label.padEnd(56)}  ${String(r.runs).padStart(4)}  ${f(r.wallMs.min)} ${f(r.wallMs.median)} ${f(r.wallMs.max)}      ${f(r.peakRssMb.min)} ${f(r.peakRssMb.median)} ${f(r.peakRssMb.max)}\n`,
    );
  }
  process.stdout.write(
    `budget: median <= ${BUDGET.medianMs} ms, peak <= ${BUDGET.peakMb} MB -> ${withinBudget ? "within budget" : "OVER BUDGET"}\n`,
  );
}
process.exitCode = withinBudget ? 0 : 1;

/**
 * `npm run bench:review`: what the review adds to the synth. Synthesizes the example plan once,
 * then runs the synth (bin/plue.mjs synth) and the review (bench/review-run.mjs, bundled in
 * memory), a fresh process each, alternately N times, each under GNU time, and prints the median
 * wall and CPU (user+sys) seconds of both, and the review's own phases (module load, review).
 * The review of an unchanged plan reuses its diagram from the cache (as the command does); the
 * same review without the cache (Graphviz loaded and run) is timed beside it.
 *
 * Budget (issue 12): the review of an unchanged plan adds <= 1 s to the synth. Measure on a quiet
 * machine: on 2 cores, anything else running inflates both figures.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const REPO = join(import.meta.dirname, "..");
const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, json: { type: "boolean" } } });
const runs = Number(values.runs);
const work = mkdtempSync(join(tmpdir(), "plue-review-bench-"));
const plan = join(work, "plan");

interface Sample {
  readonly wall: number;
  readonly cpu: number;
  readonly maxRssMb: number;
  readonly out: string;
}

/** Runs `node args` under GNU time; wall and CPU seconds, peak RSS, stdout. */
function timed(args: string[]): Sample {
  const r = spawnSync("/usr/bin/time", ["-f", "@@%e %U %S %M", process.execPath, ...args], { cwd: REPO, encoding: "utf8" });
  const m = /@@([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (!m) throw new Error(`bench: no timing from ${args.join(" ")}: ${r.stderr}`);
  return { wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), maxRssMb: Number(m[4]) / 1024, out: r.stdout };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

try {
  timed(["--max-semi-space-size=2", "bin/plue.mjs", "synth", "--out", plan]);
  const synth: Sample[] = [];
  const review: Sample[] = [];
  const cold: Sample[] = [];
  const cache = join(work, "cache");
  for (let i = 0; i < runs; i++) {
    synth.push(timed(["--max-semi-space-size=2", "bin/plue.mjs", "synth", "--out", join(work, "plan2")]));
    cold.push(timed(["bench/review-run.mjs", plan, join(work, "review")]));
    review.push(timed(["bench/review-run.mjs", plan, join(work, "review"), cache]));
  }
  const phases = review.map((s) => JSON.parse(s.out) as { modulesMs: number; reviewMs: number });
  const result = {
    runs,
    synth: { wallS: median(synth.map((s) => s.wall)), cpuS: median(synth.map((s) => s.cpu)), peakMb: median(synth.map((s) => s.maxRssMb)) },
    review: {
      wallS: median(review.map((s) => s.wall)),
      cpuS: median(review.map((s) => s.cpu)),
      peakMb: median(review.map((s) => s.maxRssMb)),
      modulesMs: median(phases.map((p) => p.modulesMs)),
      reviewMs: median(phases.map((p) => p.reviewMs)),
    },
    reviewWithoutDiagramCache: { wallS: median(cold.map((s) => s.wall)), cpuS: median(cold.map((s) => s.cpu)) },
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    process.stdout.write(
      [
        `runs: ${runs} each, alternating (medians)`,
        `synth:  ${result.synth.wallS.toFixed(2)} s wall, ${result.synth.cpuS.toFixed(2)} s cpu, ${result.synth.peakMb.toFixed(0)} MB peak`,
        `review without the diagram cache: ${result.reviewWithoutDiagramCache.wallS.toFixed(2)} s wall, ${result.reviewWithoutDiagramCache.cpuS.toFixed(2)} s cpu`,
        `review: ${result.review.wallS.toFixed(2)} s wall, ${result.review.cpuS.toFixed(2)} s cpu, ${result.review.peakMb.toFixed(0)} MB peak (modules ${result.review.modulesMs.toFixed(0)} ms, review ${result.review.reviewMs.toFixed(0)} ms)`,
        "",
      ].join("\n"),
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

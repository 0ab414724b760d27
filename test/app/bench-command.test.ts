/**
 * `npm run bench`: its statistics, its help and usage errors, and that its measurement from
 * outside the child is real (a child that touches 150 MB shows a peak of at least that).
 * The figures themselves are the bench's output, not asserted here.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BUDGET, EXIT_CANNOT_MEASURE, main, measureOnce, spread, timeTool } from "../../app/bench-command.ts";
import { CliError, capture } from "../../app/cli/kit.ts";

const scratch = mkdtempSync(join(tmpdir(), "plue-bench-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("npm run bench", () => {
  it("computes min, median and max", () => {
    expect(spread([5, 1, 3])).toEqual({ min: 1, median: 3, max: 5 });
    expect(spread([4, 1, 3, 10])).toEqual({ min: 1, median: 3.5, max: 10 });
    expect(spread([7])).toEqual({ min: 7, median: 7, max: 7 });
  });

  it("measures a child from outside: its peak RSS and CPU time from its rusage, its wall time by the parent", () => {
    const tool = timeTool();
    const big = measureOnce(tool, [process.execPath, "-e", "Buffer.alloc(150e6).fill(1)"], process.env, scratch);
    const small = measureOnce(tool, [process.execPath, "-e", "0"], process.env, scratch);
    expect(big.peakKb).toBeGreaterThanOrEqual(150e6 / 1024);
    expect(small.peakKb).toBeLessThan(big.peakKb - 100e6 / 1024);
    for (const s of [big, small]) {
      expect(s.ms).toBeGreaterThan(0);
      expect(s.cpuMs).toBeGreaterThan(0);
    }
  });

  it("fails with exit 3, naming the command, when a measured command fails", () => {
    let error: unknown;
    try {
      measureOnce(timeTool(), [process.execPath, "-e", "console.error('nope'); process.exit(4)"], process.env, scratch);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(EXIT_CANNOT_MEASURE);
    expect((error as CliError).message).toMatch(
      /^bench: '.*node -e console\.error\('nope'\); process\.exit\(4\)' failed \(got exit 4: nope\)\. Run it alone to see why\.$/,
    );
  });

  it("prints its budgets in the common help layout, and refuses a bad --runs (exit 2)", async () => {
    const help = await capture(main, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout.startsWith("Usage: npm run bench -- [--runs <n>] [--json]\n")).toBe(true);
    expect(help.stdout).toContain(`budget: median <= ${BUDGET.synthMedianMs} ms, peak <= ${BUDGET.synthPeakMb} MB`);
    expect(help.stdout).toContain(`budget: median <= ${BUDGET.startMedianMs} ms each`);
    expect(help.stdout).toContain(`budget: median <= ${BUDGET.rotationMedianMs} ms for both`);
    expect(help.stdout).toContain(
      "\nExit codes:\n  0  every figure within its budget\n  1  a budget was missed\n  2  bad arguments\n  3  a measured command failed, or there is no time tool to measure with\n",
    );
    expect(await capture(main, ["--runs", "0"])).toEqual({
      code: 2,
      stdout: "",
      stderr: "bench: '--runs' is not a whole number of runs from 1 to 1000 (got 0). Use e.g. --runs 7.\n",
    });
  });

  it("holds the budgets of issues 10, 12 and 14", () => {
    expect(BUDGET).toEqual({ synthMedianMs: 1000, synthPeakMb: 200, startMedianMs: 300, reviewMedianMs: 1000, rotationMedianMs: 1000 });
  });
});

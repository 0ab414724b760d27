import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Synthesizes the example environment once per run (a real `main.ts` process) into a
    // temp dir; tests read that output instead of loading the provider modules again.
    globalSetup: ["test/setup/synth.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two workers on two cores (vitest's default leaves one core to itself, which idles while the
    // tests wait on their child processes: PostgreSQL, openssl, nginx, synth): 92 s -> 69 s here.
    maxWorkers: 2,
    // Test files share no state (each writes to its own temp dirs, none sets process-wide
    // variables), so a worker keeps the modules it loaded between files: the provider bindings,
    // cdk8s and zod are loaded once per worker instead of once per file (about 40 s of the suite).
    isolate: false,
    snapshotFormat: { printBasicPrototype: false },
    // CI (.ci/run) asks for a JSON report beside the usual output, to print its summary line.
    reporters: process.env.PLUE_TEST_JSON ? ["default", ["json", { outputFile: process.env.PLUE_TEST_JSON }]] : ["default"],
  },
});

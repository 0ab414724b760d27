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
    snapshotFormat: { printBasicPrototype: false },
    // CI (.ci/run) asks for a JSON report beside the usual output, to print its summary line.
    reporters: process.env.PLUE_TEST_JSON ? ["default", ["json", { outputFile: process.env.PLUE_TEST_JSON }]] : ["default"],
  },
});

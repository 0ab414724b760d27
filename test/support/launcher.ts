/**
 * The commands as real processes, exactly as their npm scripts run them (`node [flags]
 * bin/plue.mjs <command>`, read from package.json), without npm's own process around them.
 * For what only a process shows: exit codes, the stdout/stderr split, no stack trace.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../lib/paths.ts";

/** Outcome of a child process. */
export interface ProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The npm scripts of package.json. */
export function npmScripts(): Record<string, string> {
  return (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
}

/** The argv (after node itself) that `npm run <script>` runs. */
export function scriptArgs(script: string): string[] {
  const text = npmScripts()[script];
  const [program, ...args] = (text ?? "").split(" ");
  if (program !== "node") throw new Error(`scripts.${script} does not start with node (got ${text})`);
  return args;
}

/**
 * Runs `npm run <script> -- <args>` as its script does, from `cwd` (default: the repository
 * root, where npm runs scripts), with exactly `env`.
 */
export function runScript(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string = REPO_ROOT,
): Promise<ProcessResult> {
  const argv = scriptArgs(script).map((a) => (a.startsWith("bin/") ? join(REPO_ROOT, a) : a));
  return new Promise((resolve) => {
    execFile(process.execPath, [...argv, ...args], { env, cwd, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** True when the text shows a JavaScript stack frame or a source location. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at /m.test(text) || /node:internal|\.(ts|cjs|mjs):\d+/.test(text);
}

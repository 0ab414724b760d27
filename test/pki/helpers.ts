/** Helpers of the PKI tests: temp dirs, the real CLI as a child process, and openssl. */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** Days in milliseconds. */
export const DAY_MS = 86_400_000;

/** A passphrase good enough for init-ca. */
export const PASSPHRASE = "correct horse battery staple";

/** Outcome of a child process. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Creates a temp directory; `cleanup` removes every directory made by this tracker. */
export function tempDirs(): { make: (prefix?: string) => string; cleanup: () => void } {
  const made: string[] = [];
  return {
    make: (prefix = "plue-pki-") => {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      made.push(dir);
      return dir;
    },
    cleanup: () => {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, [...args], { env, cwd, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The environment without any PLUE_PKI_PASSPHRASE inherited from the shell, plus `extra`. */
export function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.PLUE_PKI_PASSPHRASE;
  return { ...env, ...extra };
}

/**
 * Runs the real CLI (`node --import tsx pki/cli.ts ...`, as `npm run pki` does) from the
 * repository root.
 * @param passphrase PLUE_PKI_PASSPHRASE for the child, or null for none
 */
export function pki(args: readonly string[], passphrase: string | null = PASSPHRASE): Promise<RunResult> {
  const env = childEnv(passphrase === null ? {} : { PLUE_PKI_PASSPHRASE: passphrase });
  return run(process.execPath, ["--import", "tsx", "app/pki.ts", ...args], env, REPO);
}

/** Runs openssl with `args`; `env` adds variables (e.g. a passphrase for `-passin env:`). */
export function openssl(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<RunResult> {
  return run("openssl", args, childEnv(env), REPO);
}

/** True when the text shows a JavaScript stack frame. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at /m.test(text);
}

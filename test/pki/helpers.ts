/** Helpers of the PKI tests: temp dirs, the pki command in-process and as a process, and openssl. */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CliIo, capture } from "../../app/cli/kit.ts";
import { main } from "../../app/pki-command.ts";
import { type CertificateWithKey, selfSignCa } from "../../pki/ca.ts";
import { createOriginCsr } from "../../pki/csr.ts";
import { issueClientCertificate } from "../../pki/issue.ts";
import { encryptPrivateKeyPem, generateRsaKeyPair, rsaKeyPairFromPem, type RsaKeyPair } from "../../pki/keys.ts";
import { runScript } from "../support/launcher.ts";

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
 * Runs `pki` in-process with a test io: no PLUE_PKI_PASSPHRASE unless `passphrase` is given,
 * the clock `now` (default: the real one), relative paths against the repository root.
 */
export function pki(
  args: readonly string[],
  passphrase: string | null = PASSPHRASE,
  io: Partial<Pick<CliIo, "now" | "cwd">> = {},
): Promise<RunResult> {
  return capture(main, args, { env: passphrase === null ? {} : { PLUE_PKI_PASSPHRASE: passphrase }, cwd: REPO, ...io });
}

/**
 * Runs the real `pki` process exactly as `npm run pki` does (`node bin/plue.mjs pki ...`), from
 * the repository root.
 * @param passphrase PLUE_PKI_PASSPHRASE for the child, or null for none
 */
export function pkiProcess(args: readonly string[], passphrase: string | null = PASSPHRASE): Promise<RunResult> {
  return runScript("pki", args, childEnv(passphrase === null ? {} : { PLUE_PKI_PASSPHRASE: passphrase }));
}

/** Runs openssl with `args`; `env` adds variables (e.g. a passphrase for `-passin env:`). */
export function openssl(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<RunResult> {
  return run("openssl", args, childEnv(env), REPO);
}

export { hasStackTrace } from "../support/launcher.ts";

let sharedKey: RsaKeyPair | undefined;

/**
 * A self-signed CA certificate made by createCa's selfSignCa, on one 2048-bit key shared by the
 * test file: for tests that need *a* CA at a given time, not a new 3072-bit key each
 * (generating one takes up to a second here). createCa itself is tested in certificates.test.ts.
 */
export function testCa(options: { readonly organization: string; readonly validityDays: number; readonly now: Date }): CertificateWithKey {
  sharedKey ??= generateRsaKeyPair(2048);
  return selfSignCa(sharedKey, options);
}

/**
 * Writes a store as the first deploy leaves it into `dir` (made 0700): the CA issued 400 days
 * before `now` for 10 years (its key encrypted with PASSPHRASE and few KDF rounds, for speed),
 * a client certificate issued 300 days before `now` for a year, the origin key and CSR; then
 * publishes the public copies (`<dir>/public`) with the real `pki publish`.
 */
export async function writeStore(dir: string, now: Date): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = testCa({ organization: "Plue Example", validityDays: 3650, now: new Date(now.getTime() - 400 * DAY_MS) });
  const client = issueClientCertificate({
    ca: { certPem: ca.certPem, keyPem: ca.keyPem },
    organization: "Plue Example",
    validityDays: 365,
    now: new Date(now.getTime() - 300 * DAY_MS),
  });
  const origin = createOriginCsr({ hostnames: ["plue.example.com"], organization: "Plue Example" });
  const caKey = encryptPrivateKeyPem(rsaKeyPairFromPem(ca.keyPem, "ca").privateKey, PASSPHRASE, { kdfIterations: 1000 });
  writeFileSync(join(dir, "ca.pem"), ca.certPem);
  writeFileSync(join(dir, "ca.key.pem"), caKey, { mode: 0o600 });
  writeFileSync(join(dir, "client.pem"), client.certPem);
  writeFileSync(join(dir, "client.key.pem"), client.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, "origin.csr.pem"), origin.csrPem);
  writeFileSync(join(dir, "origin.key.pem"), origin.keyPem, { mode: 0o600 });
  const published = await pki(["publish", "--dir", dir], null, { now: () => now });
  if (published.code !== 0) throw new Error(`pki publish failed (exit ${published.code}): ${published.stderr}`);
}

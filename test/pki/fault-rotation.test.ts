/**
 * Fault injection: the REAL rotation process (`node bin/plue.mjs pki rotate client …`, as
 * `npm run pki` runs it) killed with SIGKILL right after each of its write steps in turn
 * (`PLUE_PKI_FAULT_AFTER_STEP=<n>` makes it kill itself there, so the point is exact, not a
 * race). After every kill the store reports the interrupted rotation (status exit 2), running
 * the same command again completes it, `openssl verify` passes for the resulting client
 * certificate, and every key that existed before the kill is still in the store, byte for byte.
 * The re-run is in-process (the same `main`); the process is the subject only of the kill.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../lib/paths.ts";
import { scriptArgs } from "../support/launcher.ts";
import { childEnv, openssl, PASSPHRASE, pki, tempDirs, writeStore } from "./helpers.ts";

const dirs = tempDirs();
afterAll(() => dirs.cleanup());
let base: string;
let begun: string;

const read = (path: string): string => readFileSync(path, "utf8");

function copy(from: string): string {
  const dir = join(dirs.make(), "store");
  cpSync(from, dir, { recursive: true });
  return dir;
}

function keys(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.includes(".key.pem"))
    .map((n) => read(join(dir, n)));
}

function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }).map(String).sort()) {
    if (statSync(join(dir, name)).isFile()) out[name] = read(join(dir, name));
  }
  return out;
}

/** Runs the real pki process with the fault hook at step `n`; resolves to its exit code or signal. */
function killedAt(args: readonly string[], n: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const argv = scriptArgs("pki").map((a) => (a.startsWith("bin/") ? join(REPO_ROOT, a) : a));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...argv, ...args], {
      cwd: REPO_ROOT,
      env: childEnv({ PLUE_PKI_PASSPHRASE: PASSPHRASE, PLUE_PKI_FAULT_AFTER_STEP: String(n) }),
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("close", (code, signal) => resolve({ code, signal, stderr }));
  });
}

/**
 * The journal a kill after step `n` leaves: `steps` steps, `n - 1` recorded as done (the kill
 * comes after step n wrote and before the journal records it), and step n's file already final.
 */
function expectKilledAfter(dir: string, n: number, steps: number): void {
  const journal = JSON.parse(read(join(dir, "rotation.json"))) as {
    done: number;
    steps: { op: string; path: string; sha256?: string }[];
  };
  expect(journal.steps).toHaveLength(steps);
  expect(journal.done).toBe(Math.max(0, n - 1));
  // Kill after step n: step n's target is already final and step n + 1's is not yet
  // (n = 0: the journal alone, before step 1 touched anything).
  const final = (i: number): boolean => {
    const step = journal.steps[i];
    if (step === undefined) throw new Error(`the journal has no step ${i + 1}`);
    if (step.op === "remove") return !existsSync(step.path);
    return existsSync(step.path) && createHash("sha256").update(readFileSync(step.path)).digest("hex") === step.sha256;
  };
  if (n > 0) expect(final(n - 1), `step ${n} is final`).toBe(true);
  if (n < steps) expect(final(n), `step ${n + 1} is not done`).toBe(false);
}

async function expectClientVerifies(dir: string, cert: string): Promise<void> {
  const r = await openssl(["verify", "-CAfile", join(dir, "ca.pem"), "-purpose", "sslclient", join(dir, cert)]);
  expect(r.stdout.trim(), r.stderr).toBe(`${join(dir, cert)}: OK`);
}

beforeAll(async () => {
  base = join(dirs.make(), "base");
  await writeStore(base, new Date());
  begun = copy(base);
  const r = await pki(["rotate", "client", "begin", "--dir", begun], PASSPHRASE);
  expect(r.code, r.stderr).toBe(0);
});

describe.concurrent("SIGKILL after each write step, then the same command again", () => {
  // rotate client begin: 3 steps (next key, next certificate, its public copy); 0 = the journal alone.
  it.each([0, 1, 2, 3])("rotate client begin killed after step %i", async (n) => {
    const dir = copy(base);
    const before = keys(dir);
    const killed = await killedAt(["rotate", "client", "begin", "--dir", dir], n);
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    expectKilledAfter(dir, n, 3);
    const status = await pki(["status", "--dir", dir], null);
    expect(status.code).toBe(2);
    expect(status.stderr).toContain("'rotate client begin' was interrupted after step");

    const again = await pki(["rotate", "client", "begin", "--dir", dir], PASSPHRASE);
    expect(again.code, again.stderr).toBe(0);
    expect(existsSync(join(dir, "rotation.json"))).toBe(false);
    expect(readdirSync(join(dir, "public")).sort()).toEqual(["ca.pem", "client-next.pem", "client.pem", "origin.csr.pem"]);
    expect(read(join(dir, "public", "client-next.pem"))).toBe(read(join(dir, "client-next.pem")));
    await expectClientVerifies(dir, "client-next.pem");
    await expectClientVerifies(dir, "client.pem");
    const after = keys(dir);
    for (const key of before) expect(after).toContain(key);
    // The next key is the next certificate's (status checks every unencrypted key against its certificate).
    const ok = await pki(["status", "--dir", dir, "--json"], null);
    expect((JSON.parse(ok.stdout) as { problems: string[] }).problems).toEqual([]);
  });

  // rotate client finish: 9 steps (retire, promote, public copies).
  it.each([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])("rotate client finish killed after step %i", async (n) => {
    const dir = copy(begun);
    const before = keys(dir);
    const next = read(join(dir, "client-next.pem"));
    const killed = await killedAt(["rotate", "client", "finish", "--dir", dir, "--confirmed-active"], n);
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    expectKilledAfter(dir, n, 9);
    expect((await pki(["status", "--dir", dir], null)).code).toBe(2);

    const again = await pki(["rotate", "client", "finish", "--dir", dir, "--confirmed-active"], null);
    expect(again.code, again.stderr).toBe(0);
    const clean = copy(begun);
    expect((await pki(["rotate", "client", "finish", "--dir", clean, "--confirmed-active"], null)).code).toBe(0);
    expect(contents(dir)).toEqual(contents(clean));
    expect(read(join(dir, "client.pem"))).toBe(next);
    await expectClientVerifies(dir, "client.pem");
    const after = keys(dir);
    for (const key of before) expect(after).toContain(key);
  });

  it("rotate ca begin killed after writing the next CA key, before the next client key: the same command starts over and keeps the orphaned key as a backup", async () => {
    const dir = copy(base);
    const before = keys(dir);
    const killed = await killedAt(["rotate", "ca", "begin", "--dir", dir], 1);
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    expectKilledAfter(dir, 1, 6);
    const orphan = read(join(dir, "ca-next.key.pem"));
    expect((await pki(["status", "--dir", dir], null)).code).toBe(2);

    const again = await pki(["rotate", "ca", "begin", "--dir", dir], PASSPHRASE);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(
      "the interrupted run had not written its new key yet; its other new keys were moved to backups, and the command starts again.",
    );
    expect(again.stdout).not.toContain("completed the interrupted run");
    expect(existsSync(join(dir, "rotation.json"))).toBe(false);
    const backups = readdirSync(dir).filter((n) => n.startsWith("ca-next.key.pem.bak-"));
    expect(backups.map((n) => read(join(dir, n)))).toEqual([orphan]);
    expect(read(join(dir, "ca-next.key.pem"))).not.toBe(orphan);
    const verified = await openssl(["verify", "-CAfile", join(dir, "ca-next.pem"), "-purpose", "sslclient", join(dir, "client-next.pem")]);
    expect(verified.stdout.trim(), verified.stderr).toBe(`${join(dir, "client-next.pem")}: OK`);
    const after = keys(dir);
    for (const key of [...before, orphan]) expect(after).toContain(key);
  });

  it("a step the command never reaches kills nothing: the command runs to the end", async () => {
    const dir = copy(base);
    const r = await killedAt(["rotate", "client", "begin", "--dir", dir], 99);
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dir, "rotation.json"))).toBe(false);
  });
});

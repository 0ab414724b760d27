/**
 * `pki rotate` on real stores in temp dirs, in-process through the command's `main`: the
 * client, CA and origin rotations end to end (files, modes, public copies, `openssl verify` of
 * the resulting client certificate, every key kept), --dry-run and --json, the refusals, and a
 * run interrupted after each of its steps completed by running the same command again
 * (interrupted in-process here; fault-rotation.test.ts kills the real process).
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { X509Certificate } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { startJournal } from "../../pki/journal.ts";
import {
  PlanBuilder,
  planCaAbort,
  planCaFinish,
  planClientAbort,
  planClientFinish,
  planOriginAbort,
  planOriginFinish,
  type RotationPlan,
} from "../../pki/rotation.ts";
import { openssl, PASSPHRASE, pki, type RunResult, tempDirs, writeStore } from "./helpers.ts";

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const NOW = new Date("2030-06-01T12:00:00Z");
const at = { now: () => NOW };
let base: string;
/** The base store after each `begin` (made once: a CA begin makes a 3072-bit key). */
const begun: Record<"client" | "ca" | "origin" | "caAborting", string> = { client: "", ca: "", origin: "", caAborting: "" };

const read = (path: string): string => readFileSync(path, "utf8");
const mode = (path: string): number => statSync(path).mode & 0o777;

/** Every key file's content in a directory (keys, their backups, retired keys), by name. */
function keys(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir)
      .filter((n) => n.includes(".key.pem"))
      .map((n) => [n, read(join(dir, n))]),
  );
}

/** Every key that was in `before` is still somewhere in the store, byte for byte. */
function expectNoKeyLost(before: Map<string, string>, dir: string): void {
  const now = new Set(keys(dir).values());
  for (const [name, content] of before) expect(now.has(content), `${name} was lost`).toBe(true);
}

function copyBase(from: string = base): string {
  const dir = join(dirs.make(), "store");
  cpSync(from, dir, { recursive: true });
  return dir;
}

async function verifyClient(dir: string, cert: string, ca: string): Promise<void> {
  // At the tests' clock, not the machine's: the certificates are valid from NOW's past.
  const attime = String(Math.floor(NOW.getTime() / 1000));
  const r = await openssl(["verify", "-attime", attime, "-CAfile", join(dir, ca), "-purpose", "sslclient", join(dir, cert)]);
  expect(r.stdout.trim(), r.stderr).toBe(`${join(dir, cert)}: OK`);
}

const run = (args: readonly string[], passphrase: string | null = null): Promise<RunResult> => pki(args, passphrase, at);

beforeAll(async () => {
  // A store as the first deploy leaves it, published.
  base = join(dirs.make(), "base");
  await writeStore(base, NOW);
  for (const kind of ["client", "ca", "origin"] as const) {
    begun[kind] = copyBase();
    const r = await run(["rotate", kind, "begin", "--dir", begun[kind]], PASSPHRASE);
    expect(r.code, r.stderr).toBe(0);
  }
  // A CA abort's first run done: the next client certificate withdrawn, the next CA still there.
  begun.caAborting = copyBase(begun.ca);
  const half = await run(["rotate", "ca", "abort", "--dir", begun.caAborting]);
  expect(half.code, half.stderr).toBe(0);
});

describe.concurrent("rotate client", () => {
  it("begin adds the next certificate beside the current one; finish makes it current and retires the old one", async () => {
    const dir = copyBase();
    const before = keys(dir);
    const oldClient = read(join(dir, "client.pem"));
    const begun = await run(["rotate", "client", "begin", "--dir", dir, "--json"], PASSPHRASE);
    expect(begun.code, begun.stderr).toBe(0);
    const report = JSON.parse(begun.stdout) as {
      steps: { op: string; path: string }[];
      planChanges: string[];
      next: string[];
      dryRun: boolean;
    };
    expect(report.dryRun).toBe(false);
    expect(report.steps.map((s) => [s.op, s.path])).toEqual([
      ["write", join(dir, "client-next.key.pem")],
      ["write", join(dir, "client-next.pem")],
      ["write", join(dir, "public", "client-next.pem")],
    ]);
    const next = read(join(dir, "client-next.pem"));
    const nextId = new X509Certificate(next).fingerprint256.replace(/:/g, "").toLowerCase().slice(0, 16);
    expect(report.planChanges).toEqual([
      expect.stringMatching(new RegExp(`^edge: \\+ AOP certificate origin-pull-certificate-${nextId} \\(client-next\\.pem, serial `)),
      expect.stringMatching(/^edge: = AOP certificate origin-pull-certificate-[0-9a-f]{16} \(unchanged\)$/),
    ]);
    expect(report.next[0]).toContain(
      `gcloud secrets versions add plue-origin-client-key --project plue-example --data-file=${join(dir, "client-next.key.pem")}`,
    );
    expect(mode(join(dir, "client-next.key.pem"))).toBe(0o600);
    expect(read(join(dir, "public", "client-next.pem"))).toBe(next);
    expect(read(join(dir, "client.pem"))).toBe(oldClient);
    await verifyClient(dir, "client-next.pem", "ca.pem");
    expect(existsSync(join(dir, "rotation.json"))).toBe(false);

    const again = await run(["rotate", "client", "begin", "--dir", dir], PASSPHRASE);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${join(dir, "client-next.pem")}: exists: a client rotation is under way; finish it`);

    const noToken = await run(["rotate", "client", "finish", "--dir", dir]);
    expect(noToken.code).toBe(3);
    expect(noToken.stderr).toMatch(/^pki rotate client finish: 'CLOUDFLARE_API_TOKEN' is not set \(got nothing\)\./);
    expect(read(join(dir, "client-next.pem"))).toBe(next);

    const finished = await run(["rotate", "client", "finish", "--dir", dir, "--confirmed-active"]);
    expect(finished.code, finished.stderr).toBe(0);
    expect(finished.stdout).toMatch(
      /^ {2}edge: - AOP certificate origin-pull-certificate-[0-9a-f]{16} \(serial [0-9A-F]+, until \S+\): deleted at Cloudflare$/m,
    );
    expect(read(join(dir, "client.pem"))).toBe(next);
    expect(read(join(dir, "client-retired.pem"))).toBe(oldClient);
    expect(read(join(dir, "client-retired.key.pem"))).toBe(before.get("client.key.pem"));
    expect(read(join(dir, "public", "client.pem"))).toBe(next);
    expect(existsSync(join(dir, "public", "client-next.pem"))).toBe(false);
    expect(existsSync(join(dir, "client-next.pem"))).toBe(false);
    expect(mode(join(dir, "client.key.pem"))).toBe(0o600);
    expect(mode(join(dir, "client-retired.key.pem"))).toBe(0o600);
    await verifyClient(dir, "client.pem", "ca.pem");
    expectNoKeyLost(before, dir);

    const status = await run(["status", "--dir", dir, "--json"]);
    expect(status.code, status.stderr).toBe(0);
    expect(
      (JSON.parse(status.stdout) as { certificates: { role: string; state: string }[] }).certificates.map((c) => `${c.role} ${c.state}`),
    ).toEqual(["ca active", "client active", "client retired"]);
  });

  it("--dry-run prints the steps and the plan change and writes nothing", async () => {
    const dir = copyBase();
    const snapshot = (): string[] => readdirSync(dir, { recursive: true }).map(String).sort();
    const files = snapshot();
    const r = await run(["rotate", "client", "begin", "--dir", dir, "--dry-run"], PASSPHRASE);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n").slice(0, 4)).toEqual([
      "pki rotate client begin: dry run, nothing written; it would do 3 steps:",
      `  create ${join(dir, "client-next.key.pem")} (the next client key, mode 0600)`,
      `  create ${join(dir, "client-next.pem")} (the next client certificate, mode 0644)`,
      `  create ${join(dir, "public", "client-next.pem")} (public copy: the plan uploads it as a second AOP certificate, mode 0644)`,
    ]);
    expect(r.stdout).toMatch(/^ {2}edge: \+ AOP certificate origin-pull-certificate-[0-9a-f]{16} \(client-next\.pem/m);
    expect(r.stdout).toMatch(/\nnext:\n {2}1\. add the next key to Secret Manager/);
    expect(snapshot()).toEqual(files);
  });

  it("abort withdraws the next certificate: the public copy goes, the key and certificate are kept as retired", async () => {
    const dir = copyBase(begun.client);
    const before = keys(dir);
    const next = read(join(dir, "client-next.pem"));
    const r = await run(["rotate", "client", "abort", "--dir", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dir, "public", "client-next.pem"))).toBe(false);
    expect(existsSync(join(dir, "client-next.pem"))).toBe(false);
    expect(read(join(dir, "client-retired.pem"))).toBe(next);
    expectNoKeyLost(before, dir);
    expect(r.stdout).toContain("add the current key back as its newest version");
    const none = await run(["rotate", "client", "abort", "--dir", dir]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("No client rotation is under way (nothing to abort).");
  });
});

describe.concurrent("rotate ca", () => {
  it("begin trusts both CAs and issues a client certificate from the new one; finish leaves only the new CA", async () => {
    const dir = copyBase();
    const before = keys(dir);
    const oldCa = read(join(dir, "ca.pem"));
    const started = await run(["rotate", "ca", "begin", "--dir", dir], PASSPHRASE);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toMatch(
      /^ {2}edge: ~ TrustConfig anchors: current [0-9a-f]{16} -> current [0-9a-f]{16}, next [0-9a-f]{16} \(updated in place\)$/m,
    );
    expect(read(join(dir, "ca-next.key.pem"))).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    const decrypt = await openssl(["pkey", "-in", join(dir, "ca-next.key.pem"), "-passin", "env:PLUE_PKI_PASSPHRASE", "-noout"], {
      PLUE_PKI_PASSPHRASE: PASSPHRASE,
    });
    expect(decrypt.code, decrypt.stderr).toBe(0);
    await verifyClient(dir, "client-next.pem", "ca-next.pem");
    expect(read(join(dir, "public", "ca-next.pem"))).toBe(read(join(dir, "ca-next.pem")));
    expect(read(join(dir, "public", "client-next.pem"))).toBe(read(join(dir, "client-next.pem")));
    const clientRotation = await run(["rotate", "client", "begin", "--dir", dir], PASSPHRASE);
    expect(clientRotation.code).toBe(1);
    expect(clientRotation.stderr).toContain("a CA rotation is under way");
    expect((await run(["rotate", "client", "finish", "--dir", dir, "--confirmed-active"])).stderr).toContain(
      "it is a CA rotation: use npm run pki -- rotate ca finish.",
    );

    const newCa = read(join(dir, "ca-next.pem"));
    const finished = await run(["rotate", "ca", "finish", "--dir", dir, "--confirmed-active"]);
    expect(finished.code, finished.stderr).toBe(0);
    expect(finished.stdout).toMatch(
      /^ {2}edge: ~ TrustConfig anchors: current [0-9a-f]{16}, next [0-9a-f]{16} -> current [0-9a-f]{16} \(updated in place\)$/m,
    );
    expect(read(join(dir, "ca.pem"))).toBe(newCa);
    expect(read(join(dir, "ca-retired.pem"))).toBe(oldCa);
    expect(read(join(dir, "public", "ca.pem"))).toBe(newCa);
    expect(readdirSync(join(dir, "public")).sort()).toEqual(["ca.pem", "client.pem", "origin.csr.pem"]);
    await verifyClient(dir, "client.pem", "ca.pem");
    await verifyClient(join(dir, "public"), "client.pem", "ca.pem");
    expectNoKeyLost(before, dir);
    const status = await run(["status", "--dir", dir]);
    expect(status.code, status.stderr).toBe(0);
  });

  it("abort withdraws the next client certificate first (both CAs stay trusted until a deploy deletes it), then the next CA on a second run", async () => {
    const dir = copyBase(begun.ca);
    const before = keys(dir);
    const first = await run(["rotate", "ca", "abort", "--dir", dir]);
    expect(first.code, first.stderr).toBe(0);
    expect(readdirSync(join(dir, "public")).sort()).toEqual(["ca-next.pem", "ca.pem", "client.pem", "origin.csr.pem"]);
    expect(first.stdout).toContain("run npm run pki -- rotate ca abort again: it withdraws the next CA");
    // 1, not 2: the test store's client certificate is due for renewal at NOW; a half-done abort is no inconsistency.
    const half = await run(["status", "--dir", dir, "--json"]);
    expect(half.code, half.stderr).toBe(1);
    expect((JSON.parse(half.stdout) as { problems: string[] }).problems).toEqual([]);
    expect((JSON.parse(half.stdout) as { warnings: string[] }).warnings).toContain(
      `warning: ${join(dir, "ca-next.pem")}: a CA abort is half done (its client certificate is withdrawn, the next CA is still trusted). Once the edge deploy has deleted that certificate at Cloudflare, run npm run pki -- rotate ca abort again.`,
    );
    const second = await run(["rotate", "ca", "abort", "--dir", dir]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain("the TrustConfig trusts only the current CA again");
    expect(readdirSync(join(dir, "public")).sort()).toEqual(["ca.pem", "client.pem", "origin.csr.pem"]);
    const third = await run(["rotate", "ca", "abort", "--dir", dir]);
    expect(third.code).toBe(1);
    expect(third.stderr).toContain("No CA rotation is under way (nothing to abort).");
    expectNoKeyLost(before, dir);
    expect((await run(["status", "--dir", dir])).code).toBe(1);
  });
});

describe.concurrent("rotate origin", () => {
  it("begin publishes a CSR of a new key; finish makes the new key current; abort puts the old CSR back", async () => {
    const dir = copyBase();
    const before = keys(dir);
    const oldCsr = read(join(dir, "origin.csr.pem"));
    const begun = await run(["rotate", "origin", "begin", "--dir", dir]);
    expect(begun.code, begun.stderr).toBe(0);
    expect(begun.stdout).toContain("edge: ~ Origin CA certificate replaced (new CSR)");
    expect(begun.stdout).toMatch(/ 1\. FIRST add the new origin key to Secret Manager: gcloud secrets versions add plue-origin-key /);
    const csr = await openssl(["req", "-in", join(dir, "public", "origin.csr.pem"), "-noout", "-verify", "-subject"]);
    expect(csr.code, csr.stderr).toBe(0);
    expect(read(join(dir, "public", "origin.csr.pem"))).toBe(read(join(dir, "origin-next.csr.pem")));
    expect(read(join(dir, "public", "origin.csr.pem"))).not.toBe(oldCsr);

    const aborted = copyBase();
    cpSync(dir, aborted, { recursive: true });
    const a = await run(["rotate", "origin", "abort", "--dir", aborted]);
    expect(a.code, a.stderr).toBe(0);
    expect(read(join(aborted, "public", "origin.csr.pem"))).toBe(oldCsr);

    const finished = await run(["rotate", "origin", "finish", "--dir", dir]);
    expect(finished.code, finished.stderr).toBe(0);
    expect(finished.stdout).toContain("plan changes once");
    expect(finished.stdout).toContain("\n  edge: no change (the public files stay as they are)\n");
    expect(read(join(dir, "origin.csr.pem"))).toBe(read(join(dir, "public", "origin.csr.pem")));
    expect(read(join(dir, "origin-retired.csr.pem"))).toBe(oldCsr);
    expect(read(join(dir, "origin-retired.key.pem"))).toBe(before.get("origin.key.pem"));
    expectNoKeyLost(before, dir);
  });
});

/** Every file under `dir` (relative name -> content). */
function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }).map(String).sort()) {
    if (statSync(join(dir, name)).isFile()) out[name] = read(join(dir, name));
  }
  return out;
}

/** The command line of `command` on `dir` (finish of a client or CA rotation: confirmed active). */
function argsFor(command: string, dir: string): string[] {
  return [
    ...command.split(" "),
    "--dir",
    dir,
    ...(command.endsWith("finish") && !command.includes("origin") ? ["--confirmed-active"] : []),
  ];
}

/** A rotation's plan built on `dir` exactly as the command builds it (same layout as --dir). */
function planOn(dir: string, plan: (b: PlanBuilder) => RotationPlan): RotationPlan {
  return plan(new PlanBuilder(dir, join(dir, "public"), NOW, (p) => (existsSync(p) ? readFileSync(p) : null)));
}

/** Runs the plan and stops it right after step n (the journal stays, as a killed process leaves it). */
function interruptAfter(dir: string, plan: RotationPlan, n: number): void {
  class Stop extends Error {}
  expect(() =>
    startJournal(plan.journal, {
      journalPath: join(dir, "rotation.json"),
      secrets: plan.secrets,
      afterStep: (k) => {
        if (k === n) throw new Stop();
      },
    }),
  ).toThrow(Stop);
}

describe.concurrent("a run stopped after any step is completed by running the same command again", () => {
  const cases: [string, string, keyof typeof begun, (b: PlanBuilder) => RotationPlan][] = [
    ["rotate client finish", "", "client", planClientFinish],
    ["rotate client abort", "", "client", planClientAbort],
    ["rotate ca finish", "", "ca", planCaFinish],
    ["rotate ca abort", "(first run: the next client certificate)", "ca", planCaAbort],
    ["rotate ca abort", "(second run: the next CA)", "caAborting", planCaAbort],
    ["rotate origin finish", "", "origin", planOriginFinish],
    ["rotate origin abort", "", "origin", planOriginAbort],
  ];
  it.each(cases)("%s %s", async (command, _which, kind, plan) => {
    // The end state of an uninterrupted run, to compare with.
    const clean = copyBase(begun[kind]);
    const steps = planOn(clean, plan).journal.steps.length;
    expect(steps).toBeGreaterThan(2);
    const done = await run(argsFor(command, clean));
    expect(done.code, done.stderr).toBe(0);
    const expected = contents(clean);
    for (let n = 0; n <= steps; n++) {
      const dir = copyBase(begun[kind]);
      const before = keys(dir);
      interruptAfter(dir, planOn(dir, plan), n);
      const status = await run(["status", "--dir", dir]);
      expect(status.code, `status after step ${n}`).toBe(2);
      expect(status.stderr).toContain(`'${command}' was interrupted after step `);
      const other = await run(["publish", "--dir", dir]);
      expect(other.code).toBe(2);
      expect(other.stderr).toContain(`Run npm run pki -- ${command} again to complete it first.`);
      const again = await run(argsFor(command, dir));
      expect(again.code, `after step ${n}: ${again.stderr}`).toBe(0);
      expect(again.stdout).toMatch(/^pki rotate \w+ \w+: done \(completed the interrupted run\)/);
      // Byte for byte what the uninterrupted run left (file names, backups included, and contents).
      expect(contents(dir), `after step ${n}`).toEqual(expected);
      expectNoKeyLost(before, dir);
    }
    if (kind !== "origin") await verifyClient(clean, "client.pem", "ca.pem");
  });
});

/**
 * The `pki` command on temp stores given with --dir: in-process through its `main` with a test
 * io (environment, clock), and, for what only a process shows (exit codes, the stdout/stderr
 * split, no stack trace), a few real processes exactly as `npm run pki` runs them. One CA is
 * made in beforeAll and copied for tests that change it.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { X509Certificate } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encryptPrivateKeyPem, rsaKeyPairFromPem } from "../../pki/keys.ts";
import { DAY_MS, hasStackTrace, openssl, PASSPHRASE, pki, pkiProcess, type RunResult, tempDirs, testCa } from "./helpers.ts";

const dirs = tempDirs();
let store: string;
let initRun: RunResult;
let issueRun: RunResult;

const mode = (path: string): number => statSync(path).mode & 0o777;
const read = (path: string): string => readFileSync(path, "utf8");

/** A copy of the beforeAll store (CA and client), for tests that change files. */
function copyOfStore(only?: readonly string[]): string {
  const dir = join(dirs.make(), "store");
  mkdirSync(dir, { mode: 0o700 });
  for (const name of readdirSync(store)) {
    if (only !== undefined && !only.includes(name)) continue;
    cpSync(join(store, name), join(dir, name), { recursive: true });
  }
  return dir;
}

/** A store holding a CA made by the library at `start` (key encrypted with PASSPHRASE, few KDF rounds for speed). */
function storeWithCa(start: Date, validityDays: number): string {
  const dir = join(dirs.make(), "store");
  mkdirSync(dir, { mode: 0o700 });
  const ca = testCa({ organization: "Plue Example", validityDays, now: start });
  writeFileSync(join(dir, "ca.pem"), ca.certPem);
  writeFileSync(
    join(dir, "ca.key.pem"),
    encryptPrivateKeyPem(rsaKeyPairFromPem(ca.keyPem, "ca").privateKey, PASSPHRASE, { kdfIterations: 1000 }),
    { mode: 0o600 },
  );
  return dir;
}

/** Asserts a one-line-per-problem error without a stack trace. */
function expectCleanError(r: RunResult, code: number): void {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(code);
  expect(r.stderr.trim()).not.toBe("");
  expect(hasStackTrace(r.stderr)).toBe(false);
  expect(r.stderr).not.toMatch(/node:internal|\.ts:\d+/);
}

beforeAll(async () => {
  store = join(dirs.make(), "store");
  initRun = await pki(["init-ca", "--dir", store]);
  issueRun = await pki(["issue-client", "--dir", store]);
});
afterAll(() => dirs.cleanup());

describe.concurrent("init-ca", () => {
  it("creates the store 0700, ca.key.pem 0600 and ca.pem", () => {
    expect(initRun.code, initRun.stderr).toBe(0);
    expect(mode(store)).toBe(0o700);
    expect(mode(join(store, "ca.key.pem"))).toBe(0o600);
    expect(mode(join(store, "ca.pem"))).toBe(0o644);
    expect(initRun.stdout).toContain(`wrote ${join(store, "ca.key.pem")} (mode 0600, encrypted with PLUE_PKI_PASSPHRASE)`);
  });

  it("writes the CA key as encrypted PKCS#8 that openssl decrypts with PLUE_PKI_PASSPHRASE only", async () => {
    const keyPath = join(store, "ca.key.pem");
    const text = read(keyPath);
    expect(text.startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")).toBe(true);
    expect(text.endsWith("-----END ENCRYPTED PRIVATE KEY-----\n")).toBe(true);
    const ok = await openssl(["pkey", "-in", keyPath, "-passin", "env:PLUE_PKI_PASSPHRASE", "-noout"], { PLUE_PKI_PASSPHRASE: PASSPHRASE });
    expect(ok.code, ok.stderr).toBe(0);
    const wrong = await openssl(["pkey", "-in", keyPath, "-passin", "env:PLUE_PKI_PASSPHRASE", "-noout"], {
      PLUE_PKI_PASSPHRASE: "not the passphrase",
    });
    expect(wrong.code).not.toBe(0);
    const params = await openssl(["asn1parse", "-in", keyPath]);
    expect(params.stdout).toMatch(/:hmacWithSHA256/);
    expect(params.stdout).toMatch(/:aes-256-cbc/);
    expect(params.stdout).toMatch(/INTEGER +:0927C0/); // 600000 PBKDF2 iterations
  });

  it("never prints the passphrase", () => {
    for (const run of [initRun, issueRun]) expect(run.stdout + run.stderr).not.toContain(PASSPHRASE);
  });

  it("makes a CA named after the example environment's organization, valid caValidityDays", () => {
    const ca = new X509Certificate(read(join(store, "ca.pem")));
    expect(ca.subject).toBe("O=Plue Example\nCN=Plue Example Origin Pull CA");
    expect(ca.ca).toBe(true);
    expect(Date.parse(ca.validTo) - Date.parse(ca.validFrom)).toBe(3650 * DAY_MS);
  });

  it("refuses to overwrite an existing CA without --force and leaves it unchanged", async () => {
    const before = [read(join(store, "ca.key.pem")), read(join(store, "ca.pem"))];
    const r = await pki(["init-ca", "--dir", store]);
    expectCleanError(r, 1);
    expect(r.stderr).toContain(`${join(store, "ca.key.pem")}: already exists; refusing to overwrite it. Pass --force`);
    expect([read(join(store, "ca.key.pem")), read(join(store, "ca.pem"))]).toEqual(before);
    expect(readdirSync(store).filter((n) => n.includes(".bak-") || n.includes(".tmp-"))).toEqual([]);
  });

  it("with --force, backs up the old key and certificate (0600) and replaces them", async () => {
    const dir = copyOfStore(["ca.key.pem", "ca.pem"]);
    const oldKey = read(join(dir, "ca.key.pem"));
    const oldCert = read(join(dir, "ca.pem"));
    const r = await pki(["init-ca", "--dir", dir, "--force"]);
    expect(r.code, r.stderr).toBe(0);
    const names = readdirSync(dir);
    const keyBackup = names.find((n) => /^ca\.key\.pem\.bak-\d{8}T\d{6}Z$/.test(n));
    const certBackup = names.find((n) => /^ca\.pem\.bak-\d{8}T\d{6}Z$/.test(n));
    expect(keyBackup).toBeDefined();
    expect(certBackup).toBeDefined();
    expect(read(join(dir, keyBackup ?? ""))).toBe(oldKey);
    expect(read(join(dir, certBackup ?? ""))).toBe(oldCert);
    expect(mode(join(dir, keyBackup ?? ""))).toBe(0o600);
    expect(read(join(dir, "ca.key.pem"))).not.toBe(oldKey);
    expect(read(join(dir, "ca.pem"))).not.toBe(oldCert);
    expect(mode(join(dir, "ca.key.pem"))).toBe(0o600);
    expect(r.stdout).toContain(`backed up ${join(dir, "ca.key.pem")} -> ${join(dir, keyBackup ?? "")}`);
  });

  it("fails without PLUE_PKI_PASSPHRASE, naming it (exit 3), and writes nothing", async () => {
    const dir = join(dirs.make(), "store");
    const r = await pki(["init-ca", "--dir", dir], null);
    expectCleanError(r, 3);
    expect(r.stderr).toContain("'PLUE_PKI_PASSPHRASE' is not set");
    expect(existsSync(dir)).toBe(false);
  });

  it("fails with a passphrase shorter than 12 characters (exit 3), without echoing it", async () => {
    const r = await pki(["init-ca", "--dir", join(dirs.make(), "store")], "short-pass");
    expectCleanError(r, 3);
    expect(r.stderr).toContain("'PLUE_PKI_PASSPHRASE' is shorter than 12 characters (got 10 characters)");
    expect(r.stderr).not.toContain("short-pass");
  });

  it("fails if --bits is not 3072 or 4096 (exit 3)", async () => {
    const r = await pki(["init-ca", "--dir", join(dirs.make(), "store"), "--bits", "2048"]);
    expectCleanError(r, 3);
    expect(r.stderr).toContain("'--bits' is not an allowed CA key size (got 2048). Use 3072 or 4096.");
  });
});

describe.concurrent("issue-client", () => {
  it("writes client.key.pem (unencrypted PKCS#8, 0600) and client.pem signed by the CA", async () => {
    expect(issueRun.code, issueRun.stderr).toBe(0);
    const keyPath = join(store, "client.key.pem");
    expect(mode(keyPath)).toBe(0o600);
    expect(read(keyPath).startsWith("-----BEGIN PRIVATE KEY-----\n")).toBe(true);
    const r = await openssl(["verify", "-CAfile", join(store, "ca.pem"), "-purpose", "sslclient", join(store, "client.pem")]);
    expect(r.stdout.trim()).toBe(`${join(store, "client.pem")}: OK`);
    const client = new X509Certificate(read(join(store, "client.pem")));
    expect(Date.parse(client.validTo) - Date.parse(client.validFrom)).toBe(365 * DAY_MS);
  });

  it("refuses to overwrite the client key without --force and leaves it unchanged", async () => {
    const before = read(join(store, "client.key.pem"));
    const r = await pki(["issue-client", "--dir", store]);
    expectCleanError(r, 1);
    expect(r.stderr).toContain(`${join(store, "client.key.pem")}: already exists; refusing to overwrite it.`);
    expect(read(join(store, "client.key.pem"))).toBe(before);
  });

  it("with --force, keeps the old key and certificate as backups and issues a new one", async () => {
    const dir = copyOfStore();
    const oldKey = read(join(dir, "client.key.pem"));
    const r = await pki(["issue-client", "--dir", dir, "--force"]);
    expect(r.code, r.stderr).toBe(0);
    const backup = readdirSync(dir).find((n) => n.startsWith("client.key.pem.bak-"));
    expect(backup).toBeDefined();
    expect(read(join(dir, backup ?? ""))).toBe(oldKey);
    expect(mode(join(dir, backup ?? ""))).toBe(0o600);
    expect(read(join(dir, "client.key.pem"))).not.toBe(oldKey);
    expect(readdirSync(dir).some((n) => n.startsWith("client.pem.bak-"))).toBe(true);
  });

  it("fails with a wrong passphrase: clear message, exit 1, no stack trace, nothing written", async () => {
    const dir = copyOfStore(["ca.key.pem", "ca.pem"]);
    const r = await pki(["issue-client", "--dir", dir], "this is the wrong passphrase");
    expectCleanError(r, 1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^cannot decrypt ${join(dir, "ca.key.pem").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: wrong PLUE_PKI_PASSPHRASE or corrupted key`,
      ),
    );
    expect(r.stderr).not.toContain("this is the wrong passphrase");
    expect(existsSync(join(dir, "client.key.pem"))).toBe(false);
  });

  it("fails without PLUE_PKI_PASSPHRASE, naming it (exit 3)", async () => {
    const r = await pki(["issue-client", "--dir", copyOfStore(["ca.key.pem", "ca.pem"])], null);
    expectCleanError(r, 3);
    expect(r.stderr).toContain("PLUE_PKI_PASSPHRASE");
  });

  it("fails on a garbage CA key, naming the file (exit 1)", async () => {
    const dir = copyOfStore(["ca.key.pem", "ca.pem"]);
    writeFileSync(join(dir, "ca.key.pem"), "this is not a key\n");
    const r = await pki(["issue-client", "--dir", dir]);
    expectCleanError(r, 1);
    expect(r.stderr).toContain(`${join(dir, "ca.key.pem")}: is not a PEM private key`);
  });

  it("fails on a truncated CA key as on a wrong passphrase, naming the file (exit 1)", async () => {
    const dir = copyOfStore(["ca.key.pem", "ca.pem"]);
    const lines = read(join(dir, "ca.key.pem")).split("\n");
    lines.splice(10, 1);
    writeFileSync(join(dir, "ca.key.pem"), lines.join("\n"));
    const r = await pki(["issue-client", "--dir", dir]);
    expectCleanError(r, 1);
    expect(r.stderr).toContain(`cannot decrypt ${join(dir, "ca.key.pem")}: wrong PLUE_PKI_PASSPHRASE or corrupted key`);
  });

  it("fails on a corrupted CA certificate, naming the file (exit 1)", async () => {
    const dir = copyOfStore(["ca.key.pem", "ca.pem"]);
    writeFileSync(join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n");
    const r = await pki(["issue-client", "--dir", dir]);
    expectCleanError(r, 1);
    expect(r.stderr).toContain(`${join(dir, "ca.pem")}: holds a corrupted or non-RSA certificate`);
    writeFileSync(join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n");
    const truncated = await pki(["issue-client", "--dir", dir]);
    expectCleanError(truncated, 1);
    expect(truncated.stderr).toContain(`${join(dir, "ca.pem")}: is not a PEM file`);
  });

  it("cuts notAfter back to the CA's near its expiry, and says so", async () => {
    const dir = storeWithCa(new Date(Date.now() - 3640 * DAY_MS), 3650);
    const r = await pki(["issue-client", "--dir", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^warning: client certificate notAfter cut back to the CA's notAfter \S+ \(pki.clientValidityDays 365 would reach \S+\)/,
    );
    const ca = new X509Certificate(read(join(dir, "ca.pem")));
    const client = new X509Certificate(read(join(dir, "client.pem")));
    expect(client.validTo).toBe(ca.validTo);
  });

  it("fails if the CA has expired (exit 1), writing nothing", async () => {
    const dir = storeWithCa(new Date(Date.now() - 40 * DAY_MS), 30);
    const r = await pki(["issue-client", "--dir", dir]);
    expectCleanError(r, 1);
    expect(r.stderr).toContain(`${join(dir, "ca.pem")}: expired on`);
    expect(existsSync(join(dir, "client.pem"))).toBe(false);
  });

  it("fails when there is no CA yet, saying to run init-ca (exit 1)", async () => {
    const dir = join(dirs.make(), "empty");
    const r = await pki(["issue-client", "--dir", dir]);
    expectCleanError(r, 1);
    expect(r.stderr).toContain(`${join(dir, "ca.pem")}: does not exist. Run npm run pki -- init-ca first`);
  });
});

describe.concurrent("origin-csr", () => {
  it("writes origin.key.pem (0600) and a CSR for the environment's origin hostnames", async () => {
    const dir = join(dirs.make(), "store");
    const r = await pki(["origin-csr", "--dir", dir], null);
    expect(r.code, r.stderr).toBe(0);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, "origin.key.pem"))).toBe(0o600);
    const csr = await openssl(["req", "-in", join(dir, "origin.csr.pem"), "-noout", "-text", "-verify"]);
    expect(csr.code, csr.stderr).toBe(0);
    expect(csr.stdout).toContain("CN = plue.example.com");
    expect(csr.stdout).toContain("DNS:plue.example.com, DNS:*.plue.example.com");
    const again = await pki(["origin-csr", "--dir", dir], null);
    expectCleanError(again, 1);
  });

  it("tightens an existing store directory that others can read, with a warning", async () => {
    const dir = join(dirs.make(), "store");
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const r = await pki(["origin-csr", "--dir", dir], null);
    expect(r.code, r.stderr).toBe(0);
    expect(mode(dir)).toBe(0o700);
    expect(r.stderr).toContain("had mode 0755; tightened to 0700");
  });
});

describe.concurrent("status (the rules are in status.test.ts)", () => {
  it("--json lists ca and client with their fields, renewal date and fingerprint", async () => {
    const at = new Date(Date.now() + 10 * DAY_MS + 3_600_000);
    const r = await pki(["status", "--dir", store, "--json"], null, { now: () => at });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { certificates: Record<string, unknown>[]; exitCode: number; problems: string[] };
    expect(result.exitCode).toBe(0);
    expect(result.problems).toEqual([]);
    const entries = result.certificates;
    expect(entries.map((e) => [e.role, e.state])).toEqual([
      ["ca", "active"],
      ["client", "active"],
    ]);
    for (const entry of entries) {
      const role = String(entry.role);
      const path = join(store, `${role}.pem`);
      const x = new X509Certificate(read(path));
      expect(Object.keys(entry).sort()).toEqual([
        "caNotAfter",
        "caPath",
        "condition",
        "daysLeft",
        "fingerprintSha256",
        "issuer",
        "keyPath",
        "notAfter",
        "notBefore",
        "path",
        "renewalDue",
        "role",
        "serial",
        "state",
        "subject",
      ]);
      expect(entry.path).toBe(path);
      expect(entry.keyPath).toBe(join(store, `${role}.key.pem`));
      expect(entry.serial).toBe(x.serialNumber.toUpperCase());
      expect(entry.fingerprintSha256).toBe(x.fingerprint256);
      expect(entry.notBefore).toBe(new Date(x.validFrom).toISOString());
      expect(entry.notAfter).toBe(new Date(x.validTo).toISOString());
      expect(entry.daysLeft).toBe(Math.floor((Date.parse(x.validTo) - at.getTime()) / DAY_MS));
      expect(entry.condition).toBe("ok");
    }
    expect(entries[1]?.caPath).toBe(join(store, "ca.pem"));
    expect(entries[1]?.caNotAfter).toBe(entries[0]?.notAfter);
    const fp = await openssl(["x509", "-in", join(store, "client.pem"), "-noout", "-fingerprint", "-sha256"]);
    expect(fp.stdout.trim()).toBe(`sha256 Fingerprint=${String(entries[1]?.fingerprintSha256)}`);
  });

  it("prints a table without --json", async () => {
    const r = await pki(["status", "--dir", store], null);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")[0]).toMatch(
      /^ROLE\s+STATE\s+CONDITION\s+NOT AFTER\s+DAYS LEFT\s+RENEW BY\s+CA NOT AFTER\s+SERIAL\s+PATH\s+KEY$/,
    );
    expect(r.stdout).toMatch(/^ca\s+active\s+ok\s+\d{4}-\d\d-\d\d\s+\d+\s+\d{4}-\d\d-\d\d\s+-\s+[0-9A-F]{32}\s/m);
    expect(r.stdout).toMatch(/^client\s+active\s+ok\s+.*\s[0-9A-F]{32}\s/m);
  });

  it("fails on a bad --warn-days (exit 3)", async () => {
    const bad = await pki(["status", "--dir", store, "--warn-days", "soon"], null);
    expectCleanError(bad, 3);
    expect(bad.stderr).toBe(
      "pki status: '--warn-days' is not a whole number of days from 0 to 99999 (got soon). Use e.g. --warn-days 30.\n",
    );
  });
});

describe.concurrent("publish", () => {
  it("copies only the public files into DIR/public, never a key", async () => {
    const dir = copyOfStore();
    await pki(["origin-csr", "--dir", dir], null);
    const r = await pki(["publish", "--dir", dir], null);
    expect(r.code, r.stderr).toBe(0);
    const pub = join(dir, "public");
    expect(readdirSync(pub).sort()).toEqual(["ca.pem", "client.pem", "origin.csr.pem"]);
    for (const name of readdirSync(pub)) {
      expect(read(join(pub, name))).not.toMatch(/PRIVATE KEY/);
      expect(read(join(pub, name))).toBe(read(join(dir, name)));
      expect(mode(join(pub, name))).toBe(0o644);
    }
    const again = await pki(["publish", "--dir", dir], null);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`unchanged ${join(pub, "ca.pem")}`);
  });

  it("refuses to replace a different public copy without --force, replaces it with --force", async () => {
    const dir = copyOfStore();
    expect((await pki(["publish", "--dir", dir], null)).code).toBe(0);
    expect((await pki(["issue-client", "--dir", dir, "--force"])).code).toBe(0);
    const refused = await pki(["publish", "--dir", dir], null);
    expectCleanError(refused, 1);
    expect(refused.stderr).toContain(`${join(dir, "public", "client.pem")}: already exists; refusing to overwrite it.`);
    const forced = await pki(["publish", "--dir", dir, "--force"], null);
    expect(forced.code, forced.stderr).toBe(0);
    expect(read(join(dir, "public", "client.pem"))).toBe(read(join(dir, "client.pem")));
  });

  it("refuses a client certificate that the CA did not sign", async () => {
    const dir = copyOfStore();
    const other = testCa({ organization: "Other", validityDays: 30, now: new Date() });
    writeFileSync(join(dir, "ca.pem"), other.certPem);
    const r = await pki(["publish", "--dir", dir], null);
    expectCleanError(r, 1);
    expect(r.stderr).toContain("is not signed by");
    expect(existsSync(join(dir, "public"))).toBe(false);
  });

  it("refuses a public file that holds a private key", async () => {
    const dir = copyOfStore();
    writeFileSync(join(dir, "client.pem"), read(join(dir, "client.pem")) + read(join(dir, "client.key.pem")));
    const r = await pki(["publish", "--dir", dir], null);
    expectCleanError(r, 1);
    expect(r.stderr).toContain(`${join(dir, "client.pem")}: holds a private key; refusing to publish it.`);
    expect(existsSync(join(dir, "public"))).toBe(false);
  });
});

describe.concurrent("usage", () => {
  it.each(["init-ca", "issue-client", "origin-csr", "publish", "rotate client begin", "rotate ca finish", "rotate origin abort"])(
    "%s --help prints its usage and exit codes and exits 0",
    async (command) => {
      const r = await pki([...command.split(" "), "--help"], null);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: npm run pki -- ${command} [options]`);
      expect(r.stdout).toMatch(/^ {6}--env <name> +environment: config\/<name>\.yaml \(default: example\)$/m);
      expect(r.stdout).toMatch(/^ {6}--dir <dir> +keep everything under <dir>/m);
      expect(r.stdout).toMatch(/^ {2}-h, --help +show this help$/m);
      expect(r.stdout).toMatch(
        /\nExit codes:\n {2}0 +done\n {2}1 +operational failure[^\n]*\n[^\n]*\n {2}2 +the store is inconsistent: an interrupted rotation[^\n]*\n[^\n]*\n {2}3 +usage or configuration error\n/,
      );
      expect(r.stdout).toMatch(/\nExamples:\n {2}npm run pki -- /);
    },
  );

  it("status --help documents its own exit codes for cron", async () => {
    const r = await pki(["status", "--help"], null);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: npm run pki -- status [options]");
    expect(r.stdout).toMatch(
      /\nExit codes:\n {2}0 +every certificate is fine\n {2}1 +a renewal is due \(2\/3 of a certificate's lifetime, or --warn-days before it stops working\)\n {2}2 +a certificate has expired, or the store is inconsistent[^\n]*\n[^\n]*\n {2}3 +usage or configuration error\n/,
    );
  });

  it("--help lists every command and exits 0; help <command> is <command> --help", async () => {
    const r = await pki(["--help"], null);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith("Usage: npm run pki -- <command> [options]\n")).toBe(true);
    for (const command of ["init-ca", "issue-client", "origin-csr", "status", "publish", "rotate"])
      expect(r.stdout).toMatch(new RegExp(`^  ${command} `, "m"));
    expect(r.stdout).toContain("\n  3  usage or configuration error\n");
    const viaHelp = await pki(["help", "status"], null);
    expect(viaHelp).toEqual(await pki(["status", "--help"], null));
  });

  it("fails without a command (exit 3), listing the commands", async () => {
    const r = await pki([], null);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "pki: '<command>' is missing (got nothing). Use one of init-ca, issue-client, origin-csr, status, publish, rotate; see npm run pki -- --help.\n",
    );
    const rotate = await pki(["rotate", "client"], null);
    expect(rotate).toEqual({
      code: 3,
      stdout: "",
      stderr:
        "pki rotate client: '<command>' is missing (got nothing). Use one of begin, finish, abort; see npm run pki -- rotate client --help.\n",
    });
  });

  it("fails on an unknown command, option, missing value or stray argument (exit 3, one line each)", async () => {
    const cases: [readonly string[], string][] = [
      [
        ["renew-everything"],
        "pki: 'renew-everything' is not a command (got renew-everything). Use one of init-ca, issue-client, origin-csr, status, publish, rotate; see npm run pki -- --help.",
      ],
      [
        ["status", "--dir", store, "--verbose"],
        "pki status: '--verbose' is not a known option (got --verbose). See npm run pki -- status --help.",
      ],
      [
        ["status", "--warn-dayz", "3"],
        "pki status: '--warn-dayz' is not a known option (got --warn-dayz). Did you mean --warn-days? See npm run pki -- status --help.",
      ],
      [
        ["init-ca", "--passphrase", "x"],
        "pki init-ca: '--passphrase' is not a known option (got --passphrase). See npm run pki -- init-ca --help.",
      ],
      [["status", "--dir"], "pki status: '--dir' needs a value (got nothing). Give --dir <dir>; see npm run pki -- status --help."],
      [
        ["status", "--env", "--json"],
        "pki status: '--env' needs a value (got --json, an option). Give --env <name>; see npm run pki -- status --help.",
      ],
      [["status", "--dir", ""], `pki status: '--dir' is empty (got ""). Give a directory.`],
      [["init-ca", "--bits", "2048"], "pki init-ca: '--bits' is not an allowed CA key size (got 2048). Use 3072 or 4096."],
      [
        ["status", "--warn-days", "-5"],
        "pki status: '--warn-days' is not a whole number of days from 0 to 99999 (got -5). Use e.g. --warn-days 30.",
      ],
      [
        ["publish", "everything"],
        `pki publish: 'everything' is not an option (got "everything"). pki publish takes options only; see npm run pki -- publish --help.`,
      ],
      [["--dir", store], "pki: '--dir' is not a known option (got --dir). See npm run pki -- --help."],
    ];
    for (const [args, line] of cases) {
      const r = await pki(args, null);
      expect(r, args.join(" ")).toEqual({ code: 3, stdout: "", stderr: `${line}\n` });
    }
  });

  it("fails on an unknown environment with the config error (exit 3)", async () => {
    const r = await pki(["status", "--env", "nowhere"], null);
    expectCleanError(r, 3);
    expect(r.stderr).toContain("config/nowhere.yaml: does not exist");
  });
});

describe.concurrent("as a process (node bin/plue.mjs pki, what npm run pki runs)", () => {
  it("prints status --json on stdout only and exits 0", async () => {
    const r = await pkiProcess(["status", "--dir", store, "--json"], null);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { certificates: { role: string }[] }).certificates.map((e) => e.role)).toEqual(["ca", "client"]);
  });

  it("exits 1 when a renewal is due: the table on stdout, the warning on stderr", async () => {
    const dir = storeWithCa(new Date(Date.now() - 70 * DAY_MS), 100);
    const r = await pkiProcess(["status", "--dir", dir], null);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ROLE\s+STATE/);
    expect(r.stdout).not.toContain("warning");
    expect(r.stderr).toMatch(
      /^warning: ca certificate \S+ is due for renewal since \S+ \(2\/3 of its lifetime or 30 days before \S+\), 29 days left\. Rotate it: npm run pki -- rotate ca begin\.\n$/,
    );
  });

  it("exits 1 on a wrong passphrase with one line on stderr, nothing on stdout, no stack trace", async () => {
    const dir = copyOfStore(["ca.key.pem", "ca.pem"]);
    const r = await pkiProcess(["issue-client", "--dir", dir], "this is the wrong passphrase");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`cannot decrypt ${join(dir, "ca.key.pem")}: wrong PLUE_PKI_PASSPHRASE or corrupted key`);
    expect(hasStackTrace(r.stderr)).toBe(false);
  });

  it("exits 3 on an unknown command and on no command, with one line and no stack trace", async () => {
    const [unknown, none] = await Promise.all([pkiProcess(["renew-everything"], null), pkiProcess([], null)]);
    for (const r of [unknown, none]) {
      expect(r.code).toBe(3);
      expect(r.stdout).toBe("");
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    expect(unknown.stderr).toMatch(/^pki: 'renew-everything' is not a command/);
  });
});

/**
 * `pki status` for cron: real stores in temp dirs judged at an injected clock, in-process
 * through the command's `main`. Each rule in each direction: 2/3 of the lifetime, the
 * --warn-days bound, a CA that expires before its leaf, expired, and every inconsistency that
 * makes exit 2; retired certificates never change the exit code.
 */
import { describe, it, expect, afterAll, beforeAll } from "vitest";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { computeValidity, distinguishedName, signCertificate } from "../../pki/certificate.ts";
import { issueClientCertificate } from "../../pki/issue.ts";
import { encryptPrivateKeyPem, generateRsaKeyPair, type RsaKeyPair, rsaKeyPairFromPem } from "../../pki/keys.ts";
import { renewalDueDate } from "../../pki/status.ts";
import type { CertificateWithKey } from "../../pki/ca.ts";
import { DAY_MS, PASSPHRASE, pki, tempDirs, testCa } from "./helpers.ts";

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const T0 = new Date("2030-01-01T00:00:00Z");
const day = (n: number): Date => new Date(T0.getTime() + n * DAY_MS);

interface StatusJson {
  certificates: {
    role: string;
    state: string;
    condition: string;
    renewalDue: string;
    notAfter: string;
    caNotAfter: string | null;
    caPath: string | null;
    daysLeft: number;
  }[];
  problems: string[];
  warnings: string[];
  exitCode: number;
  warnDays: number;
  interrupted: { command: string; stepsDone: number; steps: number } | null;
  rotations: string[];
}

let ca: CertificateWithKey;
let leafKey: RsaKeyPair;

beforeAll(() => {
  ca = testCa({ organization: "Plue Example", validityDays: 3650, now: T0 });
  leafKey = generateRsaKeyPair(2048);
});

/** A client certificate from `issuer` valid `days` from `start`, on the shared leaf key (not cut back to the CA). */
function leaf(issuer: CertificateWithKey, start: Date, days: number): string {
  const issuerKey = rsaKeyPairFromPem(issuer.keyPem, "ca");
  return signCertificate({
    publicKey: leafKey.publicKey,
    subject: distinguishedName("Plue Example Origin Pull Client", "Plue Example"),
    issuer: distinguishedName("Plue Example Origin Pull CA", "Plue Example"),
    validity: computeValidity(start, days),
    extensions: [
      { name: "basicConstraints", critical: true, cA: false },
      { name: "keyUsage", critical: true, digitalSignature: true },
      { name: "extKeyUsage", critical: false, clientAuth: true },
    ],
    signingKeyPem: issuerKey.privateKeyPem,
  }).certPem;
}

/** A store with the CA (cert + encrypted key) and, when given, files by name. */
function store(files: Readonly<Record<string, string>> = {}, withCa: CertificateWithKey = ca): string {
  const dir = join(dirs.make(), "store");
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(join(dir, "ca.pem"), withCa.certPem);
  writeFileSync(
    join(dir, "ca.key.pem"),
    encryptPrivateKeyPem(rsaKeyPairFromPem(withCa.keyPem, "ca").privateKey, PASSPHRASE, { kdfIterations: 1000 }),
    { mode: 0o600 },
  );
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(dir, name), content, { mode: name.includes(".key.") ? 0o600 : 0o644 });
  return dir;
}

async function status(dir: string, at: Date, extra: readonly string[] = []): Promise<{ code: number; json: StatusJson; stderr: string }> {
  const r = await pki(["status", "--dir", dir, "--json", ...extra], null, { now: () => at });
  return { code: r.code, json: JSON.parse(r.stdout) as StatusJson, stderr: r.stderr };
}

const client = (d: number, days: number): Record<string, string> => ({
  "client.pem": leaf(ca, day(d), days),
  "client.key.pem": leafKey.privateKeyPem,
});

describe("renewal is due at 2/3 of the lifetime or --warn-days before the end, whichever is first", () => {
  it("computes both bounds (pure)", () => {
    // 365 days: 2/3 is day 243.33, 30 days before the end is day 335: 2/3 first.
    expect(renewalDueDate(T0, day(365), 30).toISOString()).toBe(new Date(T0.getTime() + Math.floor((365 * DAY_MS * 2) / 3)).toISOString());
    // 60 days: 2/3 is day 40, 30 days before the end is day 30: the warn bound first.
    expect(renewalDueDate(T0, day(60), 30).toISOString()).toBe(day(30).toISOString());
    expect(renewalDueDate(T0, day(60), 0).toISOString()).toBe(day(40).toISOString());
  });

  it("70 % of a client certificate's lifetime is due (exit 1); 60 % is not (exit 0)", async () => {
    const dir = store(client(0, 300));
    const at70 = await status(dir, day(210));
    expect(at70.code).toBe(1);
    expect(at70.json.exitCode).toBe(1);
    const c = at70.json.certificates.find((x) => x.role === "client");
    expect(c?.condition).toBe("renewal-due");
    expect(c?.renewalDue).toBe(new Date(T0.getTime() + 200 * DAY_MS).toISOString());
    expect(at70.stderr).toContain("is due for renewal since 2030-07-20 (2/3 of its lifetime or 30 days before 2030-10-28), 90 days left");
    const at60 = await status(dir, day(180));
    expect(at60.code, at60.stderr).toBe(0);
    expect(at60.json.certificates.map((x) => x.condition)).toEqual(["ok", "ok"]);
    expect(at60.stderr).toBe("");
  });

  it("--warn-days moves the bound of a short certificate: due 30 days before its end by default, 5 with --warn-days 5", async () => {
    const dir = store(client(0, 60));
    expect((await status(dir, day(31))).code).toBe(1);
    const late = await status(dir, day(31), ["--warn-days", "5"]);
    expect(late.code).toBe(0);
    expect(late.json.warnDays).toBe(5);
    expect((await status(dir, day(41), ["--warn-days", "5"])).code).toBe(1);
  });

  it("reports a CA that expires before its leaf, and dates the leaf's renewal by the CA's end", async () => {
    const shortCa = testCa({ organization: "Plue Example", validityDays: 100, now: T0 });
    const dir = store({ "client.pem": leaf(shortCa, day(0), 365), "client.key.pem": leafKey.privateKeyPem }, shortCa);
    const r = await status(dir, day(10));
    const c = r.json.certificates.find((x) => x.role === "client");
    expect(c?.caNotAfter).toBe(day(100).toISOString());
    expect(c?.caPath).toBe(join(dir, "ca.pem"));
    expect(c?.notAfter).toBe(day(365).toISOString());
    // 2/3 of the time until the CA ends (day 66.67) comes before 30 days before it (day 70).
    expect(c?.renewalDue).toBe(renewalDueDate(T0, day(100), 30).toISOString());
    expect(r.json.warnings).toContain(
      `warning: client certificate ${join(dir, "client.pem")} expires ${day(365).toISOString()}, after its CA ${join(dir, "ca.pem")} (${day(100).toISOString()}): it stops working with the CA. Rotate the CA (npm run pki -- rotate ca begin) before 2030-03-08.`,
    );
    expect(r.code).toBe(0);
    expect((await status(dir, day(67))).code).toBe(1);
  });

  it("reports a leaf as expired once its CA has expired, though its own notAfter is later (exit 2)", async () => {
    const shortCa = testCa({ organization: "Plue Example", validityDays: 100, now: T0 });
    const dir = store({ "client.pem": leaf(shortCa, day(0), 365), "client.key.pem": leafKey.privateKeyPem }, shortCa);
    const r = await status(dir, day(101));
    expect(r.code).toBe(2);
    expect(r.json.certificates.map((x) => [x.role, x.condition])).toEqual([
      ["ca", "expired"],
      ["client", "expired"],
    ]);
    expect(r.stderr).toContain(
      `warning: client certificate ${join(dir, "client.pem")} expired on ${day(100).toISOString()} with its CA ${join(dir, "ca.pem")}.`,
    );
  });
});

describe("exit codes", () => {
  it("2 for an expired certificate, with a negative daysLeft", async () => {
    const dir = store(client(0, 10));
    const r = await status(dir, day(12));
    expect(r.code).toBe(2);
    expect(r.json.certificates.find((x) => x.role === "client")).toEqual(expect.objectContaining({ condition: "expired", daysLeft: -2 }));
    expect(r.stderr).toContain(`warning: client certificate ${join(dir, "client.pem")} expired on ${day(10).toISOString()}.`);
  });

  it("2 for an interrupted rotation (its journal), naming the command that completes it", async () => {
    const dir = store(client(0, 300));
    writeFileSync(
      join(dir, "rotation.json"),
      JSON.stringify({
        format: 1,
        command: "rotate client begin",
        startedAt: T0.toISOString(),
        storeDir: dir,
        publicDir: join(dir, "public"),
        steps: [],
        done: 0,
      }),
    );
    const r = await status(dir, day(1));
    expect(r.code).toBe(2);
    expect(r.json.interrupted).toEqual({ command: "rotate client begin", startedAt: T0.toISOString(), stepsDone: 0, steps: 0 });
    expect(r.json.problems).toEqual([
      `${join(dir, "rotation.json")}: 'rotate client begin' was interrupted after step 0 of 0 (started ${T0.toISOString()}). Run npm run pki -- rotate client begin again to complete it.`,
    ]);
  });

  it("2 for a journal that is not one", async () => {
    const dir = store(client(0, 300));
    writeFileSync(join(dir, "rotation.json"), "{ half a jour");
    const r = await status(dir, day(1));
    expect(r.code).toBe(2);
    expect(r.json.problems[0]).toMatch(/rotation\.json: is not a rotation journal/);
  });

  it("2 for a certificate without its key, and for a key that is not its certificate's", async () => {
    const noKey = store({ "client.pem": leaf(ca, day(0), 300) });
    const r = await status(noKey, day(1));
    expect(r.code).toBe(2);
    expect(r.json.problems).toEqual([
      `${join(noKey, "client.pem")}: has no key beside it (got no client.key.pem). Restore client.key.pem from its backup (client.key.pem.bak-*), or issue the certificate again.`,
    ]);
    const other = issueClientCertificate({
      ca: { certPem: ca.certPem, keyPem: ca.keyPem },
      organization: "Plue Example",
      validityDays: 300,
      now: T0,
    });
    const wrong = store({ "client.pem": leaf(ca, day(0), 300), "client.key.pem": other.keyPem });
    const w = await status(wrong, day(1));
    expect(w.code).toBe(2);
    expect(w.json.problems).toEqual([
      `${join(wrong, "client.key.pem")}: is not the key of ${join(wrong, "client.pem")} (got another public key). Restore the matching key from its backup, or issue the certificate again.`,
    ]);
  });

  it("2 for a client certificate its CA did not issue (same issuer name, another key signed it)", async () => {
    const impostor: CertificateWithKey = { ...ca, keyPem: generateRsaKeyPair(2048).privateKeyPem };
    const dir = store({ "client.pem": leaf(impostor, day(0), 300), "client.key.pem": leafKey.privateKeyPem });
    const r = await status(dir, day(1));
    expect(r.code).toBe(2);
    expect(r.json.problems[0]).toMatch(
      new RegExp(`^${join(dir, "client.pem").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: is not issued by .*ca\\.pem`),
    );
  });

  it("2 for an unreadable certificate, a missing store and an empty one", async () => {
    const bad = store({ "client.pem": "garbage\n", "client.key.pem": leafKey.privateKeyPem });
    const r = await status(bad, day(1));
    expect(r.code).toBe(2);
    expect(r.json.problems[0]).toContain(`${join(bad, "client.pem")}: is not a PEM certificate`);
    const missing = await status(join(dirs.make(), "nowhere"), day(1));
    expect(missing.code).toBe(2);
    expect(missing.json.problems[0]).toMatch(/nowhere: does not exist \(no certificates\)/);
    const empty = await status(dirs.make(), day(1));
    expect(empty.code).toBe(2);
    expect(empty.json.problems[0]).toMatch(/holds no certificate/);
  });

  it("0 with an expired retired certificate: retired ones are listed but never change the code", async () => {
    const dir = store({
      ...client(0, 300),
      "client-retired.pem": leaf(ca, day(-400), 300),
      "client-retired.key.pem": leafKey.privateKeyPem,
    });
    const r = await status(dir, day(1));
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.certificates.map((x) => [x.role, x.state, x.condition])).toEqual([
      ["ca", "active", "ok"],
      ["client", "active", "ok"],
      ["client", "retired", "expired"],
    ]);
  });

  it("warns, exit code unchanged, when the origin key is there but its certificate is not (its renewal cannot be judged)", async () => {
    const origin = generateRsaKeyPair(2048);
    const dir = store({ ...client(0, 300), "origin.key.pem": origin.privateKeyPem });
    const r = await status(dir, day(10));
    expect(r.code).toBe(0);
    expect(r.json.warnings).toEqual([
      `warning: ${join(dir, "origin.pem")}: the origin certificate is not in the store (got only origin.key.pem), so its renewal is not checked. After each deploy that issues one, save it: gcloud certificate-manager certificates list --project <project> --filter="name~-edge-origin-" --format="value(pemCertificate)" > ${join(dir, "origin.pem")}`,
    ]);
    expect(r.stderr).toContain("the origin certificate is not in the store");
  });

  it("lists a rotation under way with its next certificate (state next)", async () => {
    const dir = store({ ...client(0, 300), "client-next.pem": leaf(ca, day(200), 300), "client-next.key.pem": leafKey.privateKeyPem });
    const r = await status(dir, day(201));
    expect(r.json.rotations).toEqual(["client"]);
    expect(r.json.certificates.map((x) => [x.role, x.state])).toEqual([
      ["ca", "active"],
      ["client", "active"],
      ["client", "next"],
    ]);
    expect(r.code).toBe(1); // the current one is due until finish makes the next one current
  });

  it("3 for a usage or configuration error", async () => {
    expect((await pki(["status", "--warn-days", "-1"], null)).code).toBe(3);
    expect((await pki(["status", "--env", "Bad_Name"], null)).code).toBe(3);
  });
});

/**
 * The net: no private key or secret value anywhere in the synthesized plan or in a snapshot.
 * The scanner is itself tested against real key material, so the net cannot silently tear.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPlan } from "../../app/plan.ts";
import { loadPublicCerts } from "../../config/public-certs.ts";
import { REPO_ROOT } from "../../lib/paths.ts";
import { createCa } from "../../pki/ca.ts";
import { createOriginCsr } from "../../pki/csr.ts";
import { encryptPrivateKeyPem, rsaKeyPairFromPem } from "../../pki/keys.ts";
import { issueClientCertificate } from "../../pki/issue.ts";
import { filesBelow, scanFiles, scanText } from "../../review/key-scan.ts";
import { exampleConfig } from "../support/config.ts";
import { planDir } from "../support/plan.ts";

const REPO = REPO_ROOT;
const work = mkdtempSync(join(tmpdir(), "plue-key-scan-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A whole environment's key material, made here with the pki library exactly as the pki commands
 * make it (CA key encrypted with a passphrase, client and origin keys in the clear), its public
 * files published to a temp public directory, and the plan synthesized from them: every private
 * value that exists while synth runs, and the plan it produced.
 */
function environmentWithKeys(): { secrets: string[]; plan: string } {
  const config = exampleConfig();
  const now = new Date();
  const passphrase = randomBytes(18).toString("base64url");
  const ca = createCa({ organization: config.pki.organization, validityDays: 365, now });
  const client = issueClientCertificate({
    ca: { certPem: ca.certPem, keyPem: ca.keyPem, name: "ca.pem" },
    organization: config.pki.organization,
    validityDays: 30,
    now,
  });
  const origin = createOriginCsr({ hostnames: config.pki.originHostnames, organization: config.pki.organization });
  const encryptedCaKey = encryptPrivateKeyPem(rsaKeyPairFromPem(ca.keyPem, "ca").privateKey, passphrase, { kdfIterations: 1000 });
  const publicDir = join(work, "repo", "pub");
  mkdirSync(publicDir, { recursive: true });
  writeFileSync(join(publicDir, "ca.pem"), ca.certPem);
  writeFileSync(join(publicDir, "client.pem"), client.certPem);
  writeFileSync(join(publicDir, "origin.csr.pem"), origin.csrPem);
  const envConfig = { ...config, pki: { ...config.pki, publicDir: "pub" } };
  const plan = join(work, "plan");
  buildPlan(envConfig, loadPublicCerts(envConfig, { repoRoot: join(work, "repo") }), plan).app.synth();
  // Each key as PEM and as its bare base64 body (one line), and the passphrase.
  const body = (pem: string) =>
    pem
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("-----"))
      .join("");
  const keys = [ca.keyPem, encryptedCaKey, client.keyPem, origin.keyPem];
  return { secrets: [passphrase, ...keys.map(body), ...keys.flatMap((k) => k.split("\n").filter((l) => l.length >= 60))], plan };
}

function snapshotFiles(): string[] {
  return filesBelow(join(REPO, "test")).filter((f) => f.includes("__snapshots__"));
}

describe("key-material scan", () => {
  it("finds no private key in the synthesized plan", () => {
    const files = filesBelow(planDir());
    expect(files.length).toBeGreaterThan(3);
    expect(scanFiles([planDir()], planDir())).toEqual([]);
  });

  it("finds none of an environment's private keys nor its passphrase in the plan synthesized beside them", () => {
    const { secrets, plan } = environmentWithKeys();
    expect(secrets.length).toBeGreaterThan(8);
    expect(filesBelow(plan).length).toBeGreaterThan(3);
    expect(scanFiles([plan], plan, secrets)).toEqual([]);
  });

  it("finds no private key in any snapshot", () => {
    const snaps = snapshotFiles();
    expect(snaps.length).toBeGreaterThan(5);
    expect(scanFiles(snaps, REPO)).toEqual([]);
  });

  it("finds no private key in the committed public PKI material", () => {
    const files = filesBelow(join(REPO, "config", "pki"));
    expect(files.map((f) => f.slice(REPO.length))).toEqual(
      expect.arrayContaining(["config/pki/example/ca.pem", "config/pki/example/client.pem"]),
    );
    expect(scanFiles(files, REPO)).toEqual([]);
  });

  it("catches real private keys in every PEM encoding, also inside JSON strings", () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pkcs8 = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const pkcs1 = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    const encrypted = privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "correct horse" }).toString();
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "sec1", format: "pem" }).toString();
    for (const pem of [pkcs8, pkcs1, encrypted, ec]) expect(scanText(pem)).not.toEqual([]);
    expect(scanText(JSON.stringify({ value: pkcs8 }))).not.toEqual([]);
    // The bare base64 body without its armour, as a careless template might embed it.
    const bare = (pem: string) => JSON.stringify({ value: pem.split("\n").slice(1, -2).join("") });
    const ec8 = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    expect(scanText(bare(pkcs8))).toEqual([{ line: 1, what: "base64 PKCS#8 RSA private key" }]);
    expect(scanText(bare(pkcs1))).toEqual([{ line: 1, what: "base64 PKCS#1 RSA private key" }]);
    expect(scanText(bare(ec))).toEqual([{ line: 1, what: "base64 SEC1 EC private key" }]);
    expect(scanText(bare(ec8))).toEqual([{ line: 1, what: "base64 PKCS#8 EC private key" }]);
  });

  it("catches a known secret value and reports file and line", () => {
    const dir = mkdtempSync(join(tmpdir(), "plue-scan-"));
    try {
      const secret = randomBytes(16).toString("hex");
      writeFileSync(join(dir, "cdk.tf.json"), `{\n  "a": 1,\n  "secret_data": "${secret}"\n}\n`);
      expect(scanFiles([dir], dir, [secret])).toEqual([{ file: "cdk.tf.json", line: 3, what: "a known secret value" }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("does not flag public certificates", () => {
    expect(scanText("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")).toEqual([]);
  });
});

/**
 * The net: no private key or secret value anywhere in the synthesized plan or in a snapshot.
 * The scanner is itself tested against real key material, so the net cannot silently tear.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { filesBelow, scanFiles, scanText } from "../../review/key-scan.ts";
import { planDir } from "../support/plan.ts";

const REPO = join(import.meta.dirname, "..", "..");

/** Secret values a run may know: the PKI passphrase, database URL, etc. when set. */
const KNOWN_SECRETS = [process.env.PLUE_PKI_PASSPHRASE, process.env.DATABASE_URL].filter((s): s is string => !!s);

function snapshotFiles(): string[] {
  return filesBelow(join(REPO, "test")).filter((f) => f.includes("__snapshots__"));
}

describe("key-material scan", () => {
  it("finds no private key or secret value in the synthesized plan", () => {
    const files = filesBelow(planDir());
    expect(files.length).toBeGreaterThan(3);
    expect(scanFiles([planDir()], planDir(), KNOWN_SECRETS)).toEqual([]);
  });

  it("finds no private key or secret value in any snapshot", () => {
    const snaps = snapshotFiles();
    expect(snaps.length).toBeGreaterThan(0);
    expect(scanFiles(snaps, REPO, KNOWN_SECRETS)).toEqual([]);
  });

  it("finds no private key in the committed public PKI material", () => {
    const dir = join(REPO, "config", "pki");
    if (!existsSync(dir)) return;
    expect(scanFiles([dir], REPO)).toEqual([]);
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

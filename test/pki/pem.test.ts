import { describe, it, expect } from "vitest";
import { createPrivateKey } from "node:crypto";
import { encryptPrivateKeyPem, generateRsaKeyPair } from "../../pki/keys.ts";
import { containsPrivateKeyBlock, normalisePem, parsePemBlocks, PemError } from "../../lib/pem.ts";

const BODY = `${"A".repeat(64) + "B".repeat(64)}CCCC`;
const CANONICAL = `-----BEGIN CERTIFICATE-----\n${"A".repeat(64)}\n${"B".repeat(64)}\nCCCC\n-----END CERTIFICATE-----\n`;

/** Builds PEM markers at run time so that this file never holds a key block itself. */
function block(label: string, body: string, eol = "\n"): string {
  return [`-----BEGIN ${label}-----`, body, `-----END ${label}-----`].join(eol);
}

describe("normalisePem", () => {
  it("keeps canonical text byte for byte", () => {
    expect(normalisePem(CANONICAL)).toBe(CANONICAL);
  });

  it("turns CRLF into LF and ends with exactly one newline", () => {
    const crlf = CANONICAL.replace(/\n/g, "\r\n");
    expect(normalisePem(crlf)).toBe(CANONICAL);
    expect(normalisePem(CANONICAL.trimEnd())).toBe(CANONICAL);
    expect(normalisePem(`${CANONICAL}\n\n\n`)).toBe(CANONICAL);
    expect(normalisePem(`\n\n  ${CANONICAL.replace(/\n/g, "  \n")}`)).toBe(CANONICAL);
  });

  it("re-wraps base64 at 64 columns", () => {
    expect(normalisePem(block("CERTIFICATE", BODY))).toBe(CANONICAL);
    expect(normalisePem(block("CERTIFICATE", BODY.match(/.{1,20}/g)?.join("\n") ?? ""))).toBe(CANONICAL);
  });

  it("drops text outside blocks and keeps several blocks in order", () => {
    const two = `subject=CN = x\n${block("CERTIFICATE", "AAAA")}\nBag Attributes\n${block("CERTIFICATE REQUEST", "BBBB")}`;
    expect(normalisePem(two)).toBe(
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE REQUEST-----\nBBBB\n-----END CERTIFICATE REQUEST-----\n",
    );
    expect(parsePemBlocks(two).map((b) => b.label)).toEqual(["CERTIFICATE", "CERTIFICATE REQUEST"]);
  });

  it("fails if there is no block, a block is unterminated, labels differ or base64 is bad", () => {
    expect(() => normalisePem("hello world\n")).toThrow(PemError);
    expect(() => normalisePem("")).toThrow(/no PEM block/);
    expect(() => normalisePem("-----BEGIN CERTIFICATE-----\nAAAA\n")).toThrow(/never ended/);
    expect(() => normalisePem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n")).toThrow(/inside a 'CERTIFICATE' block/);
    expect(() => normalisePem(block("CERTIFICATE", "not base64 !!"))).toThrow(/not base64/);
    expect(() => normalisePem(block("CERTIFICATE", "AAA"))).toThrow(/valid base64/);
    expect(() => normalisePem(block("CERTIFICATE", ""))).toThrow(/valid base64/);
  });
});

describe("containsPrivateKeyBlock", () => {
  it("finds PKCS#1, PKCS#8, encrypted and EC private key blocks", () => {
    for (const label of ["PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY"]) {
      expect(containsPrivateKeyBlock(`junk\n${block(label, "AAAA")}\n`), label).toBe(true);
    }
  });

  it("finds real keys: PKCS#8 as written, encrypted PKCS#8, PKCS#1, inside other text", () => {
    const pair = generateRsaKeyPair(2048);
    const pkcs1 = createPrivateKey(pair.privateKeyPem).export({ type: "pkcs1", format: "pem" }).toString();
    const encrypted = encryptPrivateKeyPem(pair.privateKey, "a long passphrase", { kdfIterations: 1000 });
    for (const pem of [pair.privateKeyPem, pkcs1, encrypted, `certificate first\n${CANONICAL}${pair.privateKeyPem}trailer`]) {
      expect(containsPrivateKeyBlock(pem)).toBe(true);
    }
  });

  it("finds a legacy encrypted PKCS#1 block with headers, and CRLF blocks", () => {
    expect(containsPrivateKeyBlock(block("RSA PRIVATE KEY", "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00FF\n\nAAAA"))).toBe(true);
    expect(containsPrivateKeyBlock(block("PRIVATE KEY", "AAAA\r\nBBBB", "\r\n"))).toBe(true);
  });

  it("ignores markers quoted in code, with no base64 body between them", () => {
    const begin = block("PRIVATE KEY", "x").split("\n")[0] ?? "";
    const end = block("PRIVATE KEY", "x").split("\n")[2] ?? "";
    expect(containsPrivateKeyBlock(`expect(text.startsWith("${begin}\\n")).toBe(true);\nexpect(text.endsWith("${end}\\n"));`)).toBe(false);
  });

  it("ignores certificates, CSRs and a lone BEGIN line", () => {
    expect(containsPrivateKeyBlock(CANONICAL)).toBe(false);
    expect(containsPrivateKeyBlock(block("CERTIFICATE REQUEST", "AAAA"))).toBe(false);
    expect(containsPrivateKeyBlock("-----BEGIN PRIVATE KEY-----")).toBe(false);
  });
});

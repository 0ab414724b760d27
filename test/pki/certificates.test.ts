import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCa, type CertificateWithKey } from "../../pki/ca.ts";
import { createOriginCsr } from "../../pki/csr.ts";
import { OperationalError, UsageError } from "../../pki/errors.ts";
import { issueCertificate, issueClientCertificate, type IssuedCertificate } from "../../pki/issue.ts";
import { decryptPrivateKeyPem, encryptPrivateKeyPem, rsaKeyPairFromPem } from "../../pki/keys.ts";
import { randomSerialHex } from "../../pki/certificate.ts";
import { normalisePem } from "../../lib/pem.ts";
import { DAY_MS, openssl, tempDirs } from "./helpers.ts";

const dirs = tempDirs();
const NOW = new Date();
const ORG = "Plue Test";
const CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2";
const SERVER_AUTH_OID = "1.3.6.1.5.5.7.3.1";

let ca: CertificateWithKey;
let client: IssuedCertificate;
let dir: string;
let caPath: string;
let clientPath: string;
let caText: string;
let clientText: string;

/** Writes `text` to a file in the test dir and returns its path. */
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** `openssl x509 -text -noout` of a PEM file. */
async function x509Text(path: string): Promise<string> {
  const r = await openssl(["x509", "-in", path, "-text", "-noout"]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** The value line(s) under an `X509v3 <name>:` heading of openssl's text. */
function extension(text: string, name: string): { critical: boolean; value: string } {
  const m = new RegExp(`X509v3 ${name}:( critical)?\\s*\\n\\s+(.+)`).exec(text);
  if (!m) throw new Error(`no ${name} extension in:\n${text}`);
  return { critical: m[1] !== undefined, value: (m[2] ?? "").trim() };
}

/** The serial number bytes as openssl prints them. */
function serialBytes(text: string): string[] {
  const m = /Serial Number:\s*\n\s+([0-9a-f:]+)/.exec(text);
  if (!m) throw new Error(`no multi-byte serial in:\n${text}`);
  return (m[1] ?? "").split(":");
}

beforeAll(async () => {
  dir = dirs.make();
  ca = createCa({ organization: ORG, validityDays: 3650, now: NOW });
  client = issueClientCertificate({ ca: { certPem: ca.certPem, keyPem: ca.keyPem }, organization: ORG, validityDays: 365, now: NOW });
  caPath = file("ca.pem", ca.certPem);
  clientPath = file("client.pem", client.certPem);
  caText = await x509Text(caPath);
  clientText = await x509Text(clientPath);
});
afterAll(() => dirs.cleanup());

describe("createCa", () => {
  it("makes a critical basicConstraints CA:TRUE, pathlen:0", () => {
    expect(extension(caText, "Basic Constraints")).toEqual({ critical: true, value: "CA:TRUE, pathlen:0" });
  });

  it("makes a critical keyUsage of Certificate Sign and CRL Sign only", () => {
    expect(extension(caText, "Key Usage")).toEqual({ critical: true, value: "Certificate Sign, CRL Sign" });
  });

  it("signs with SHA-256, uses RSA 3072 by default, and carries a subject key identifier", () => {
    expect(caText).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(caText).not.toMatch(/sha1With/i);
    expect(caText).toContain("Public-Key: (3072 bit)");
    expect(extension(caText, "Subject Key Identifier").value).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
  });

  it("names itself '<organization> Origin Pull CA', O=<organization>, self-issued", () => {
    const x = new X509Certificate(ca.certPem);
    expect(x.subject).toBe(`O=${ORG}\nCN=${ORG} Origin Pull CA`);
    expect(x.issuer).toBe(x.subject);
    expect(x.ca).toBe(true);
    expect(x.verify(x.publicKey)).toBe(true);
  });

  it("is valid from now (to the second) for validityDays", () => {
    const x = new X509Certificate(ca.certPem);
    const notBefore = Math.floor(NOW.getTime() / 1000) * 1000;
    expect(Date.parse(x.validFrom)).toBe(notBefore);
    expect(Date.parse(x.validTo)).toBe(notBefore + 3650 * DAY_MS);
  });

  it("has a positive 16-byte serial", () => {
    const bytes = serialBytes(caText);
    expect(bytes).toHaveLength(16);
    expect(parseInt(bytes[0] ?? "", 16)).toBeGreaterThan(0);
    expect(parseInt(bytes[0] ?? "", 16)).toBeLessThan(0x80);
    expect(caText).not.toContain("(Negative)");
  });

  it("gives a 3072-bit key that matches the certificate", () => {
    const key = createPrivateKey(ca.keyPem);
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect(new X509Certificate(ca.certPem).checkPrivateKey(key)).toBe(true);
    expect(ca.keyPem.startsWith("-----BEGIN PRIVATE KEY-----\n")).toBe(true);
  });

  it("makes a 4096-bit CA when asked", async () => {
    const big = createCa({ organization: ORG, validityDays: 30, now: NOW, bits: 4096 });
    expect(await x509Text(file("ca4096.pem", big.certPem))).toContain("Public-Key: (4096 bit)");
  });

  it("fails if bits is not 3072 or 4096", () => {
    expect(() => createCa({ organization: ORG, validityDays: 30, now: NOW, bits: 2048 })).toThrow(UsageError);
    expect(() => createCa({ organization: ORG, validityDays: 30, now: NOW, bits: 2048 })).toThrow(
      "'--bits' is not an allowed CA key size (got 2048)",
    );
  });

  it("fails if the organization makes the common name longer than 64 characters", () => {
    expect(() => createCa({ organization: "x".repeat(50), validityDays: 30, now: NOW })).toThrow(/'commonName' is not 1 to 64 characters/);
  });

  it("keeps a non-ASCII organization intact through issuing (UTF8String names)", async () => {
    const org = "Plüe Ünïcode & Co";
    const uca = createCa({ organization: org, validityDays: 30, now: NOW });
    const leaf = issueClientCertificate({
      ca: { certPem: uca.certPem, keyPem: uca.keyPem },
      organization: org,
      validityDays: 10,
      now: NOW,
    });
    expect(new X509Certificate(uca.certPem).subject).toBe(`O=${org}\nCN=${org} Origin Pull CA`);
    expect(new X509Certificate(leaf.certPem).issuer).toBe(`O=${org}\nCN=${org} Origin Pull CA`);
    const r = await openssl(["verify", "-CAfile", file("uca.pem", uca.certPem), "-purpose", "sslclient", file("uleaf.pem", leaf.certPem)]);
    expect(r.stdout.trim()).toMatch(/: OK$/);
  });
});

describe("issueClientCertificate", () => {
  it("verifies against the CA with openssl, for the sslclient purpose", async () => {
    const r = await openssl(["verify", "-CAfile", caPath, "-purpose", "sslclient", clientPath]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${clientPath}: OK`);
  });

  it("fails openssl verification for the sslserver purpose (clientAuth only)", async () => {
    const r = await openssl(["verify", "-CAfile", caPath, "-purpose", "sslserver", clientPath]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/(unsupported|unsuitable) certificate purpose/);
  });

  it("fails openssl verification against another CA", async () => {
    const other = createCa({ organization: ORG, validityDays: 30, now: NOW });
    const r = await openssl(["verify", "-CAfile", file("other-ca.pem", other.certPem), clientPath]);
    expect(r.code).not.toBe(0);
  });

  it("is CA:FALSE (critical), Digital Signature (critical), TLS Web Client Authentication only", () => {
    expect(extension(clientText, "Basic Constraints")).toEqual({ critical: true, value: "CA:FALSE" });
    expect(extension(clientText, "Key Usage")).toEqual({ critical: true, value: "Digital Signature" });
    expect(extension(clientText, "Extended Key Usage").value).toBe("TLS Web Client Authentication");
  });

  it("signs with sha256WithRSAEncryption and has a 2048-bit key", () => {
    expect(clientText).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(clientText).not.toMatch(/sha1With/i);
    expect(clientText).toContain("Public-Key: (2048 bit)");
    expect(createPrivateKey(client.keyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(new X509Certificate(client.certPem).checkPrivateKey(createPrivateKey(client.keyPem))).toBe(true);
  });

  it("has an authority key identifier equal to the CA's subject key identifier, not its own", () => {
    const aki = extension(clientText, "Authority Key Identifier").value.replace(/^keyid:/, "");
    expect(aki).toBe(extension(caText, "Subject Key Identifier").value);
    expect(aki).not.toBe(extension(clientText, "Subject Key Identifier").value);
  });

  it("has a positive 16-byte serial", () => {
    const bytes = serialBytes(clientText);
    expect(bytes).toHaveLength(16);
    expect(parseInt(bytes[0] ?? "", 16)).toBeGreaterThan(0);
    expect(parseInt(bytes[0] ?? "", 16)).toBeLessThan(0x80);
    expect(client.serialHex).toBe(bytes.join(""));
  });

  it("agrees with Node's X509Certificate: issued by the CA, not a CA, clientAuth", () => {
    const x = new X509Certificate(client.certPem);
    const issuer = new X509Certificate(ca.certPem);
    expect(x.checkIssued(issuer)).toBe(true);
    expect(x.verify(issuer.publicKey)).toBe(true);
    expect(x.ca).toBe(false);
    expect(x.keyUsage).toEqual([CLIENT_AUTH_OID]);
    expect(x.subject).toBe(`O=${ORG}\nCN=${ORG} Origin Pull Client`);
    expect(Date.parse(x.validTo) - Date.parse(x.validFrom)).toBe(365 * DAY_MS);
    expect(client.clamped).toBe(false);
  });

  it("never ends after the CA: near the CA's expiry notAfter is cut back to the CA's", async () => {
    const start = new Date("2031-03-01T00:00:00Z");
    const shortCa = createCa({ organization: ORG, validityDays: 30, now: start });
    const late = new Date(start.getTime() + 25 * DAY_MS);
    const leaf = issueClientCertificate({
      ca: { certPem: shortCa.certPem, keyPem: shortCa.keyPem },
      organization: ORG,
      validityDays: 365,
      now: late,
    });
    expect(leaf.clamped).toBe(true);
    expect(leaf.notAfter.toISOString()).toBe(shortCa.notAfter.toISOString());
    expect(leaf.requestedNotAfter.toISOString()).toBe(new Date(late.getTime() + 365 * DAY_MS).toISOString());
    // Read back independently.
    expect(new X509Certificate(leaf.certPem).validTo).toBe(new X509Certificate(shortCa.certPem).validTo);
    const leafText = await x509Text(file("clamped.pem", leaf.certPem));
    const notAfter = (t: string): string => /Not After : (.+)/.exec(t)?.[1] ?? "?";
    expect(notAfter(leafText)).toBe(notAfter(await x509Text(file("short-ca.pem", shortCa.certPem))));
  });

  it("fails if the CA has expired or is not valid yet at 'now'", () => {
    const start = new Date("2031-03-01T00:00:00Z");
    const shortCa = createCa({ organization: ORG, validityDays: 30, now: start });
    const issuing = { certPem: shortCa.certPem, keyPem: shortCa.keyPem, name: "ca.pem" };
    expect(() =>
      issueClientCertificate({ ca: issuing, organization: ORG, validityDays: 1, now: new Date(start.getTime() + 31 * DAY_MS) }),
    ).toThrow(/^ca\.pem: expired on 2031-03-31T00:00:00\.000Z/);
    expect(() =>
      issueClientCertificate({ ca: issuing, organization: ORG, validityDays: 1, now: new Date(start.getTime() - 1000) }),
    ).toThrow(/^ca\.pem: is not valid yet/);
  });

  it("fails if the CA key does not belong to the CA certificate", () => {
    const other = createCa({ organization: ORG, validityDays: 30, now: NOW });
    expect(() =>
      issueClientCertificate({
        ca: { certPem: ca.certPem, keyPem: other.keyPem, name: "ca.pem" },
        organization: ORG,
        validityDays: 1,
        now: NOW,
      }),
    ).toThrow("ca.pem: does not match the CA private key");
  });

  it("fails if the issuing certificate is not a CA", () => {
    expect(() =>
      issueClientCertificate({
        ca: { certPem: client.certPem, keyPem: client.keyPem, name: "client.pem" },
        organization: ORG,
        validityDays: 1,
        now: NOW,
      }),
    ).toThrow("client.pem: is not a CA certificate");
  });

  it("fails if the CA certificate is garbage, naming it", () => {
    expect(() =>
      issueClientCertificate({
        ca: { certPem: "garbage", keyPem: ca.keyPem, name: "/s/ca.pem" },
        organization: ORG,
        validityDays: 1,
        now: NOW,
      }),
    ).toThrow(/^\/s\/ca\.pem: is not a PEM certificate/);
  });
});

describe("issueCertificate", () => {
  it("issues a server certificate with SANs, serverAuth and keyEncipherment", () => {
    const server = issueCertificate({
      ca: { certPem: ca.certPem, keyPem: ca.keyPem },
      commonName: "localhost",
      extendedKeyUsage: ["serverAuth"],
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      validityDays: 1,
      now: NOW,
    });
    const x = new X509Certificate(server.certPem);
    expect(x.keyUsage).toEqual([SERVER_AUTH_OID]);
    expect(x.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1");
    expect(x.checkHost("localhost")).toBe("localhost");
    expect(x.checkIP("127.0.0.1")).toBe("127.0.0.1");
  });

  it("fails if no extended key usage is given", () => {
    expect(() =>
      issueCertificate({
        ca: { certPem: ca.certPem, keyPem: ca.keyPem },
        commonName: "x",
        extendedKeyUsage: [],
        validityDays: 1,
        now: NOW,
      }),
    ).toThrow(UsageError);
  });
});

describe("randomSerialHex", () => {
  it("always gives 32 hex digits with a first byte from 01 to 7f (positive, 16 bytes in DER)", () => {
    const serials = Array.from({ length: 2000 }, () => randomSerialHex());
    for (const s of serials) {
      expect(s).toMatch(/^[0-9a-f]{32}$/);
      const first = parseInt(s.slice(0, 2), 16);
      expect(first >= 0x01 && first <= 0x7f, s).toBe(true);
    }
    expect(new Set(serials).size).toBe(serials.length);
  });
});

describe("CA key encryption", () => {
  const FAST = { kdfIterations: 1000 };

  it("writes encrypted PKCS#8 that Node and openssl decrypt with the passphrase", async () => {
    const key = rsaKeyPairFromPem(ca.keyPem, "ca key");
    const pem = encryptPrivateKeyPem(key.privateKey, "a long enough passphrase", FAST);
    expect(pem.startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")).toBe(true);
    expect(pem).toBe(normalisePem(pem));
    const node = createPrivateKey({ key: pem, passphrase: "a long enough passphrase" });
    expect(new X509Certificate(ca.certPem).checkPrivateKey(node)).toBe(true);
    const path = file("enc.key.pem", pem);
    const ok = await openssl(["pkey", "-in", path, "-passin", "env:PASS", "-noout"], { PASS: "a long enough passphrase" });
    expect(ok.code, ok.stderr).toBe(0);
    const bad = await openssl(["pkey", "-in", path, "-passin", "env:PASS", "-noout"], { PASS: "not the passphrase" });
    expect(bad.code).not.toBe(0);
  });

  it("uses PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC", async () => {
    const pem = encryptPrivateKeyPem(rsaKeyPairFromPem(ca.keyPem, "ca key").privateKey, "a long enough passphrase", FAST);
    const r = await openssl(["asn1parse", "-in", file("enc2.key.pem", pem)]);
    expect(r.stdout).toMatch(/:PBES2/);
    expect(r.stdout).toMatch(/:PBKDF2/);
    expect(r.stdout).toMatch(/:hmacWithSHA256/);
    expect(r.stdout).toMatch(/:aes-256-cbc/);
  });

  it("treats the passphrase as UTF-8, as openssl does", async () => {
    const phrase = "pässwörd-ünïcode-✓";
    const pem = encryptPrivateKeyPem(rsaKeyPairFromPem(ca.keyPem, "ca key").privateKey, phrase, FAST);
    const r = await openssl(["pkey", "-in", file("utf8.key.pem", pem), "-passin", "env:PASS", "-noout"], { PASS: phrase });
    expect(r.code, r.stderr).toBe(0);
    expect(decryptPrivateKeyPem(pem, phrase, "utf8.key.pem").privateKeyPem).toBe(ca.keyPem);
  });

  it("round-trips, and fails with a clear message on a wrong passphrase", () => {
    const pem = encryptPrivateKeyPem(rsaKeyPairFromPem(ca.keyPem, "ca key").privateKey, "right passphrase!", FAST);
    expect(decryptPrivateKeyPem(pem, "right passphrase!", "/s/ca.key.pem").privateKeyPem).toBe(ca.keyPem);
    const wrong = () => decryptPrivateKeyPem(pem, "wrong passphrase!", "/s/ca.key.pem", "PLUE_PKI_PASSPHRASE");
    expect(wrong).toThrow(OperationalError);
    expect(wrong).toThrow(/^cannot decrypt \/s\/ca\.key\.pem: wrong PLUE_PKI_PASSPHRASE or corrupted key/);
  });

  it("fails if the key file is not an encrypted key, naming the file", () => {
    expect(() => decryptPrivateKeyPem("not pem at all", "x", "/s/ca.key.pem")).toThrow(/^\/s\/ca\.key\.pem: is not a PEM private key/);
    expect(() => decryptPrivateKeyPem(ca.keyPem, "x", "/s/ca.key.pem")).toThrow(
      /^\/s\/ca\.key\.pem: is not an encrypted PKCS#8 key \(got a 'PRIVATE KEY' block\)/,
    );
  });
});

describe("createOriginCsr", () => {
  it("makes a SHA-256 CSR with every hostname as a SAN and the first as CN", async () => {
    const csr = createOriginCsr({ hostnames: ["plue.example.com", "*.plue.example.com"], organization: ORG });
    const path = file("origin.csr.pem", csr.csrPem);
    const r = await openssl(["req", "-in", path, "-noout", "-text", "-verify"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/verify OK/i);
    expect(r.stdout).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(r.stdout).toContain("Subject: O = Plue Test, CN = plue.example.com");
    expect(r.stdout).toContain("DNS:plue.example.com, DNS:*.plue.example.com");
    expect(r.stdout).toContain("Public-Key: (2048 bit)");
    expect(createPrivateKey(csr.keyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it("fails if there is no hostname", () => {
    expect(() => createOriginCsr({ hostnames: [] })).toThrow(/'pki.originHostnames' is empty/);
  });
});

/**
 * Building blocks shared by the CA, the issuer and the CSR: serial numbers, names, validity,
 * typed X.509 extensions for node-forge, and reading a certificate with a clear error.
 */
import { sign as nodeSign, randomBytes } from "node:crypto";
import forge from "node-forge";
import { OperationalError, UsageError } from "./errors.ts";
import { normalisePem, parsePemBlocks, PemError } from "../lib/pem.ts";

const DAY_MS = 86_400_000;

/** Longest X.509 common name (RFC 5280 `ub-common-name`). */
export const MAX_COMMON_NAME = 64;

/**
 * An X.509 extension as node-forge encodes it; typed here because `@types/node-forge`
 * declares extensions as `any`.
 */
export type CertificateExtension =
  | { readonly name: "basicConstraints"; readonly critical: boolean; readonly cA: boolean; readonly pathLenConstraint?: number }
  | {
      readonly name: "keyUsage";
      readonly critical: boolean;
      readonly digitalSignature?: boolean;
      readonly keyEncipherment?: boolean;
      readonly keyCertSign?: boolean;
      readonly cRLSign?: boolean;
    }
  | { readonly name: "extKeyUsage"; readonly critical: boolean; readonly clientAuth?: boolean; readonly serverAuth?: boolean }
  /** node-forge computes the identifier from the certificate's own public key (SHA-1, RFC 5280 method 1). */
  | { readonly name: "subjectKeyIdentifier" }
  /** `keyIdentifier` is the issuer's subject key identifier as a binary string (never `true`). */
  | { readonly name: "authorityKeyIdentifier"; readonly keyIdentifier: string }
  | { readonly name: "subjectAltName"; readonly altNames: readonly SubjectAltName[] };

/** A subjectAltName entry: a DNS name (type 2) or an IP address (type 7). */
export type SubjectAltName = { readonly type: 2; readonly value: string } | { readonly type: 7; readonly ip: string };

/**
 * `@types/node-forge` types `valueTagClass` as an ASN.1 class, but node-forge reads it as the
 * universal tag of the value; UTF8String (12) lets names hold any character (RFC 5280 4.1.2.4).
 */
const UTF8_STRING = forge.asn1.Type.UTF8 as number as forge.asn1.Class;

/**
 * A random, positive, 128-bit serial number as 32 hex digits: 16 bytes from the CSPRNG with
 * the top bit cleared (a first hex digit of 8 or more would encode a negative INTEGER) and a
 * non-zero first byte (so the DER INTEGER is exactly 16 bytes).
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  const first = (bytes[0] ?? 0) & 0x7f;
  bytes[0] = first === 0 ? 0x01 : first;
  return bytes.toString("hex");
}

/** Subject or issuer attributes: `O=<organization>` (when given), then `CN=<commonName>`, as UTF8String. */
export function distinguishedName(commonName: string, organization?: string): forge.pki.CertificateField[] {
  if (commonName.length === 0 || commonName.length > MAX_COMMON_NAME) {
    throw new UsageError(
      `pki: 'commonName' is not 1 to ${MAX_COMMON_NAME} characters long (got ${JSON.stringify(commonName)}, ${commonName.length} characters). Use a shorter pki.organization.`,
    );
  }
  const fields: forge.pki.CertificateField[] = [];
  if (organization !== undefined) fields.push({ name: "organizationName", value: organization, valueTagClass: UTF8_STRING });
  fields.push({ name: "commonName", value: commonName, valueTagClass: UTF8_STRING });
  return fields;
}

/** The validity of a new certificate. */
export interface Validity {
  /** `now`, truncated to the second (X.509 times have second precision). */
  readonly notBefore: Date;
  /** `notBefore + days`, or the issuer's notAfter when that comes first. */
  readonly notAfter: Date;
  /** True when notAfter was cut back to the issuer's notAfter. */
  readonly clamped: boolean;
  /** The notAfter that `days` asked for. */
  readonly requestedNotAfter: Date;
}

/**
 * Computes a validity period of `days` days from `now`, never past `issuerNotAfter`.
 * @throws UsageError when `days` is not a positive whole number
 */
export function computeValidity(now: Date, days: number, issuerNotAfter?: Date): Validity {
  if (!Number.isInteger(days) || days < 1) {
    throw new UsageError(
      `pki: 'validityDays' is not a whole number of days from 1 (got ${days}). Set it in the environment's pki section.`,
    );
  }
  if (Number.isNaN(now.getTime())) throw new UsageError("pki: 'now' is not a valid date (got Invalid Date). Pass a real Date.");
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const requestedNotAfter = new Date(notBefore.getTime() + days * DAY_MS);
  const clamped = issuerNotAfter !== undefined && requestedNotAfter.getTime() > issuerNotAfter.getTime();
  return { notBefore, notAfter: clamped ? new Date(issuerNotAfter.getTime()) : requestedNotAfter, clamped, requestedNotAfter };
}

/**
 * The subject of `cert` as attributes to set as the issuer of a certificate it signs.
 * node-forge keeps a parsed UTF8String value as its raw UTF-8 bytes but encodes the value
 * again when writing, so the values are decoded first (otherwise "ü" would become "Ã¼").
 */
export function issuerOf(cert: forge.pki.Certificate): forge.pki.CertificateField[] {
  return cert.subject.attributes.map((attr) =>
    attr.valueTagClass === UTF8_STRING && typeof attr.value === "string" ? { ...attr, value: forge.util.decodeUtf8(attr.value) } : attr,
  );
}

/** Sets the extensions of a certificate (typed front for `Certificate.setExtensions`). */
export function setExtensions(cert: forge.pki.Certificate, extensions: readonly CertificateExtension[]): void {
  cert.setExtensions([...extensions]);
}

/**
 * Parses a PEM certificate with node-forge.
 * @param where names the source in error messages (usually the file path)
 * @throws OperationalError naming `where` when the text is not one RSA certificate
 */
export function parseCertificatePem(pem: string, where: string): forge.pki.Certificate {
  let label: string | undefined;
  let normalised: string;
  try {
    normalised = normalisePem(pem);
    label = parsePemBlocks(normalised)[0]?.label;
  } catch (error) {
    if (!(error instanceof PemError)) throw error;
    throw new OperationalError(`${where}: is not a PEM certificate (${error.message}). Restore the file or create it again.`);
  }
  if (label !== "CERTIFICATE") {
    throw new OperationalError(`${where}: is not a PEM certificate (got a '${label ?? "?"}' block). Check the file name.`);
  }
  try {
    return forge.pki.certificateFromPem(normalised);
  } catch {
    throw new OperationalError(
      `${where}: holds a corrupted or non-RSA certificate that cannot be parsed. Restore the file or create it again.`,
    );
  }
}

/** The RSA public key of a certificate. */
export function certificateRsaKey(cert: forge.pki.Certificate, where: string): forge.pki.rsa.PublicKey {
  const key = cert.publicKey;
  if ("n" in key && "e" in key) return key;
  throw new OperationalError(`${where}: does not hold an RSA public key. node-forge issues with RSA only.`);
}

/** The subject key identifier of a certificate as a binary string: its extension, or computed from its key. */
export function subjectKeyIdentifier(cert: forge.pki.Certificate): string {
  const ext: unknown = cert.getExtension("subjectKeyIdentifier");
  if (typeof ext === "object" && ext !== null && "subjectKeyIdentifier" in ext && typeof ext.subjectKeyIdentifier === "string") {
    return forge.util.hexToBytes(ext.subjectKeyIdentifier);
  }
  return cert.generateSubjectKeyIdentifier().getBytes();
}

/** True when the certificate carries `basicConstraints` with `cA` set. */
export function isCaCertificate(cert: forge.pki.Certificate): boolean {
  const ext: unknown = cert.getExtension("basicConstraints");
  return typeof ext === "object" && ext !== null && "cA" in ext && ext.cA === true;
}

/** The PEM of a signed certificate, normalised. */
export function certificatePem(cert: forge.pki.Certificate): string {
  return normalisePem(forge.pki.certificateToPem(cert));
}

/** A signed certificate, as the commands report it. */
export interface SignedCertificate {
  /** `-----BEGIN CERTIFICATE-----`, normalised. */
  readonly certPem: string;
  /** Serial number, lowercase hex (32 digits). */
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** What {@link signCertificate} puts into a certificate. */
export interface CertificateContents {
  readonly publicKey: forge.pki.rsa.PublicKey;
  readonly subject: forge.pki.CertificateField[];
  readonly issuer: forge.pki.CertificateField[];
  readonly validity: { readonly notBefore: Date; readonly notAfter: Date };
  readonly extensions: readonly CertificateExtension[];
  /** The issuer's private key, unencrypted PKCS#8 or PKCS#1 PEM (the subject's own for a self-signed CA). */
  readonly signingKeyPem: string;
}

/**
 * Builds a certificate with a random positive serial and signs it with SHA-256 RSA
 * (sha256WithRSAEncryption, PKCS#1 v1.5), as node-forge's `cert.sign(key, sha256)` does but
 * with node's native RSA: forge's own big-number signing with a 3072-bit CA key takes about
 * 150 ms here, most of a client rotation's budget.
 */
export function signCertificate(c: CertificateContents): SignedCertificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = c.publicKey;
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = c.validity.notBefore;
  cert.validity.notAfter = c.validity.notAfter;
  cert.setSubject(c.subject);
  cert.setIssuer(c.issuer);
  setExtensions(cert, c.extensions);
  cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption as string;
  cert.siginfo.algorithmOid = cert.signatureOid;
  cert.tbsCertificate = tbsCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), "binary");
  cert.signature = nodeSign("sha256", tbs, c.signingKeyPem).toString("binary");
  return { certPem: certificatePem(cert), serialHex: cert.serialNumber, notBefore: c.validity.notBefore, notAfter: c.validity.notAfter };
}

/** node-forge's `pki.getTBSCertificate`, which `@types/node-forge` leaves out. */
const tbsCertificate = (forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate;

/** SHA-256, the only digest used for signatures (node-forge's default is SHA-1). */
export function sha256(): forge.md.MessageDigest {
  return forge.md.sha256.create();
}

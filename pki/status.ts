/**
 * Certificate status for `pki status`, read with Node's `crypto.X509Certificate` (OpenSSL),
 * independently of node-forge which wrote the certificates.
 */
import { X509Certificate } from "node:crypto";
import { OperationalError } from "./errors.ts";
import { normalisePem, parsePemBlocks, PemError } from "../lib/pem.ts";

const DAY_MS = 86_400_000;

/** What a certificate is for. */
export type CertificateRole = "ca" | "client" | "origin";

/** One line of `pki status` (also its `--json` element). */
export interface CertificateStatus {
  /** `ca`, `client` or `origin`. */
  readonly role: CertificateRole;
  /** Path of the certificate file. */
  readonly path: string;
  /** Path of its private key file, or null when there is none beside it. */
  readonly keyPath: string | null;
  /** Subject, one `KEY=value` per line joined with `, ` (OpenSSL's order). */
  readonly subject: string;
  /** Issuer, in the same form. */
  readonly issuer: string;
  /** Serial number, uppercase hex as OpenSSL prints it (no colons). */
  readonly serial: string;
  /** Start of validity, ISO 8601 UTC. */
  readonly notBefore: string;
  /** End of validity, ISO 8601 UTC. */
  readonly notAfter: string;
  /** Whole days from `now` to notAfter, rounded down; negative once expired. */
  readonly daysLeft: number;
  /** SHA-256 of the DER certificate: colon-separated uppercase hex, as `openssl x509 -fingerprint -sha256` prints. */
  readonly fingerprintSha256: string;
}

/** Where a certificate was found and the clock to measure it against. */
export interface DescribeCertificateOptions {
  /** Its role. */
  readonly role: CertificateRole;
  /** Its file (for the output and error messages). */
  readonly path: string;
  /** Its key file, or null. */
  readonly keyPath: string | null;
  /** The clock for `daysLeft`. */
  readonly now: Date;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * Parses OpenSSL's time text (`Nov 22 08:24:00 2036 GMT`), as `X509Certificate.validFrom`
 * and `validTo` give it on Node 20.
 */
export function parseOpensslTime(text: string): Date {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4}) GMT$/.exec(text);
  const month = m ? MONTHS.indexOf(m[1] ?? "") : -1;
  if (!m || month < 0)
    throw new OperationalError(`pki: 'validity' is not an OpenSSL time (got ${JSON.stringify(text)}). Report this as a bug.`);
  return new Date(Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
}

/**
 * Reads one PEM certificate with `X509Certificate`.
 * @throws OperationalError naming `path` when it is not a readable certificate
 */
export function readX509(pem: string, path: string): X509Certificate {
  let normalised: string;
  try {
    normalised = normalisePem(pem);
  } catch (error) {
    if (!(error instanceof PemError)) throw error;
    throw new OperationalError(`${path}: is not a PEM certificate (${error.message}). Restore the file or create it again.`);
  }
  const label = parsePemBlocks(normalised)[0]?.label;
  if (label !== "CERTIFICATE")
    throw new OperationalError(`${path}: is not a PEM certificate (got a '${label ?? "?"}' block). Check the file name.`);
  try {
    return new X509Certificate(normalised);
  } catch {
    throw new OperationalError(`${path}: holds a corrupted certificate that cannot be parsed. Restore the file or create it again.`);
  }
}

/** Describes a certificate for `pki status`. */
export function describeCertificate(pem: string, options: DescribeCertificateOptions): CertificateStatus {
  const x509 = readX509(pem, options.path);
  const notBefore = parseOpensslTime(x509.validFrom);
  const notAfter = parseOpensslTime(x509.validTo);
  return {
    role: options.role,
    path: options.path,
    keyPath: options.keyPath,
    subject: x509.subject.split("\n").join(", "),
    issuer: x509.issuer.split("\n").join(", "),
    serial: x509.serialNumber.toUpperCase(),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - options.now.getTime()) / DAY_MS),
    fingerprintSha256: x509.fingerprint256,
  };
}

/** Formats statuses as a fixed-width table (one header line, one line per certificate). */
export function formatStatusTable(statuses: readonly CertificateStatus[]): string {
  const header = ["ROLE", "SERIAL", "NOT AFTER", "DAYS LEFT", "PATH", "KEY"];
  const rows = statuses.map((s) => [s.role, s.serial, s.notAfter, String(s.daysLeft), s.path, s.keyPath ?? "-"]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

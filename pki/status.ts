/**
 * `pki status`: every certificate of a store, judged at a given time, read with Node's
 * `crypto.X509Certificate` (OpenSSL), independently of node-forge which wrote them.
 *
 * Renewal is due at two thirds of a certificate's lifetime or `warnDays` (30) days before it
 * stops working, whichever comes first (cert-manager renews at 2/3; step's `needs-renewal`
 * at 2/3 too); a leaf stops working when it or its CA expires, so a CA that expires first
 * brings the leaf's date forward. The store is inconsistent when a certificate has no key
 * beside it or a key that is not its own, a client certificate was not issued by its CA, a
 * file cannot be read, or a rotation's journal is present (an interrupted rotation).
 */
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { OperationalError } from "./errors.ts";
import { readJournal } from "./journal.ts";
import { STORE_FILES, pathExists } from "./store.ts";
import { normalisePem, parsePemBlocks, PemError } from "../lib/pem.ts";

const DAY_MS = 86_400_000;

/** Days before expiry when renewal is due at the latest (`--warn-days`). */
export const DEFAULT_WARN_DAYS = 30;

/** What a certificate is for. */
export type CertificateRole = "ca" | "client" | "origin";

/** Where a certificate stands in its rotation. */
export type CertificateState = "active" | "next" | "retired";

/** How a certificate stands against the clock. */
export type CertificateCondition = "ok" | "renewal-due" | "expired";

/** One certificate of `pki status` (also its `--json` element). */
export interface CertificateStatus {
  /** `ca`, `client` or `origin`. */
  readonly role: CertificateRole;
  /** `active` (in use), `next` (a rotation under way adds it), `retired` (a rotation removed it; the next deploy deletes it). */
  readonly state: CertificateState;
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
  /** Whole days from now to notAfter, rounded down; negative once expired. */
  readonly daysLeft: number;
  /** When renewal is due: 2/3 of the lifetime, or `warnDays` before it stops working (its own or its CA's notAfter), whichever is first. */
  readonly renewalDue: string;
  /** `ok`, `renewal-due` (now is at or past `renewalDue`), `expired`. */
  readonly condition: CertificateCondition;
  /** For a leaf: the store's CA certificate that issued it, or null (origin: Cloudflare's Origin CA). */
  readonly caPath: string | null;
  /** For a leaf: that CA's notAfter, or null. */
  readonly caNotAfter: string | null;
  /** SHA-256 of the DER certificate: colon-separated uppercase hex, as `openssl x509 -fingerprint -sha256` prints. */
  readonly fingerprintSha256: string;
}

/** An interrupted rotation: its journal is in the store. */
export interface InterruptedRotation {
  /** The command to run again: `rotate client begin`. */
  readonly command: string;
  readonly startedAt: string;
  readonly stepsDone: number;
  readonly steps: number;
}

/** The whole answer of `pki status`. */
export interface StoreStatus {
  readonly store: string;
  readonly now: string;
  readonly warnDays: number;
  readonly certificates: readonly CertificateStatus[];
  /** Rotations under way (their `*-next` files exist): `client`, `ca`, `origin`. */
  readonly rotations: readonly ("client" | "ca" | "origin")[];
  readonly interrupted: InterruptedRotation | null;
  /** Why the store is inconsistent (exit 2), one line each. */
  readonly problems: readonly string[];
  /** What needs doing soon or is worth knowing (expired, due, a CA expiring before its leaf, loose key modes), one line each. */
  readonly warnings: readonly string[];
  /** 0 all fine, 1 renewal due, 2 expired or inconsistent. */
  readonly exitCode: 0 | 1 | 2;
}

/** The certificate files of a store, in the order status lists them. */
export const STATUS_FILES: readonly {
  readonly role: CertificateRole;
  readonly state: CertificateState;
  readonly cert: string;
  readonly key: string;
  /** True when the key is stored encrypted (it cannot be matched without the passphrase). */
  readonly encrypted: boolean;
}[] = [
  { role: "ca", state: "active", cert: STORE_FILES.caCert, key: STORE_FILES.caKey, encrypted: true },
  { role: "ca", state: "next", cert: STORE_FILES.caNextCert, key: STORE_FILES.caNextKey, encrypted: true },
  { role: "ca", state: "retired", cert: STORE_FILES.caRetiredCert, key: STORE_FILES.caRetiredKey, encrypted: true },
  { role: "client", state: "active", cert: STORE_FILES.clientCert, key: STORE_FILES.clientKey, encrypted: false },
  { role: "client", state: "next", cert: STORE_FILES.clientNextCert, key: STORE_FILES.clientNextKey, encrypted: false },
  { role: "client", state: "retired", cert: STORE_FILES.clientRetiredCert, key: STORE_FILES.clientRetiredKey, encrypted: false },
  { role: "origin", state: "active", cert: STORE_FILES.originCert, key: STORE_FILES.originKey, encrypted: false },
  { role: "origin", state: "next", cert: STORE_FILES.originNextCert, key: STORE_FILES.originNextKey, encrypted: false },
  { role: "origin", state: "retired", cert: STORE_FILES.originRetiredCert, key: STORE_FILES.originRetiredKey, encrypted: false },
];

/** When renewal of a certificate valid from `notBefore` to `notAfter` (its CA's, if earlier) is due. */
export function renewalDueDate(notBefore: Date, notAfter: Date, warnDays: number): Date {
  const twoThirds = notBefore.getTime() + Math.floor(((notAfter.getTime() - notBefore.getTime()) * 2) / 3);
  return new Date(Math.min(twoThirds, notAfter.getTime() - warnDays * DAY_MS));
}

interface Loaded {
  readonly spec: (typeof STATUS_FILES)[number];
  readonly path: string;
  readonly keyPath: string;
  readonly x509: X509Certificate;
}

/**
 * Reads every certificate of the store in `dir` and judges it at `now`.
 * @throws OperationalError only for a bug (an OpenSSL time it cannot read); every problem of
 * the store is a line in `problems`
 */
export function assessStore(dir: string, now: Date, warnDays: number = DEFAULT_WARN_DAYS): StoreStatus {
  const problems: string[] = [];
  const warnings: string[] = [];
  const rotations: ("client" | "ca" | "origin")[] = [];
  let interrupted: InterruptedRotation | null = null;
  const base = { store: dir, now: now.toISOString(), warnDays };
  if (!pathExists(dir)) {
    problems.push(`${dir}: does not exist (no certificates). Run npm run pki -- init-ca, or pass the right --env/--dir.`);
    return { ...base, certificates: [], rotations, interrupted, problems, warnings, exitCode: 2 };
  }

  try {
    const journal = readJournal(join(dir, STORE_FILES.journal));
    if (journal !== undefined) {
      interrupted = { command: journal.command, startedAt: journal.startedAt, stepsDone: journal.done, steps: journal.steps.length };
      problems.push(
        `${join(dir, STORE_FILES.journal)}: '${journal.command}' was interrupted after step ${journal.done} of ${journal.steps.length} (started ${journal.startedAt}). Run npm run pki -- ${journal.command} again to complete it.`,
      );
    }
  } catch (error) {
    problems.push((error as Error).message);
  }

  const loaded: Loaded[] = [];
  for (const spec of STATUS_FILES) {
    const path = join(dir, spec.cert);
    const keyPath = join(dir, spec.key);
    if (!pathExists(path)) {
      if (pathExists(keyPath) && spec.state === "next" && spec.role === "origin") continue; // a next origin key waits for its certificate
      continue;
    }
    let x509: X509Certificate;
    try {
      x509 = readX509(readFileSync(path, "utf8"), path);
    } catch (error) {
      problems.push(error instanceof OperationalError ? error.message : `${path}: cannot be read (${(error as Error).message}).`);
      continue;
    }
    loaded.push({ spec, path, keyPath, x509 });
    if (!pathExists(keyPath)) {
      problems.push(
        `${path}: has no key beside it (got no ${spec.key}). Restore ${spec.key} from its backup (${spec.key}.bak-*), or issue the certificate again.`,
      );
    } else if (!spec.encrypted && !keyMatches(keyPath, x509)) {
      problems.push(
        `${keyPath}: is not the key of ${path} (got another public key). Restore the matching key from its backup, or issue the certificate again.`,
      );
    } else {
      const mode = statSync(keyPath).mode & 0o777;
      if ((mode & 0o077) !== 0)
        warnings.push(`warning: ${keyPath}: private key file has mode 0${mode.toString(8).padStart(3, "0")}; run chmod 600 on it.`);
    }
  }

  const find = (role: CertificateRole, state: CertificateState): Loaded | undefined =>
    loaded.find((l) => l.spec.role === role && l.spec.state === state);
  const cas = loaded.filter((l) => l.spec.role === "ca");
  const issuerOf = (leaf: Loaded): Loaded | undefined =>
    cas.find((ca) => leaf.x509.checkIssued(ca.x509) && leaf.x509.verify(ca.x509.publicKey));

  for (const [role, label] of [
    ["client", "client"],
    ["ca", "ca"],
    ["origin", "origin"],
  ] as const) {
    if (
      pathExists(join(dir, STATUS_FILES.find((f) => f.role === role && f.state === "next")?.cert ?? "")) ||
      (role === "origin" && pathExists(join(dir, STORE_FILES.originNextKey)))
    ) {
      rotations.push(label);
    }
  }
  if (rotations.includes("ca") && !pathExists(join(dir, STORE_FILES.clientNextCert)) && interrupted === null) {
    warnings.push(
      `warning: ${join(dir, STORE_FILES.caNextCert)}: a CA abort is half done (its client certificate is withdrawn, the next CA is still trusted). Once the edge deploy has deleted that certificate at Cloudflare, run npm run pki -- rotate ca abort again.`,
    );
  }
  const checkIssuer = (leaf: Loaded | undefined, expected: Loaded | undefined): void => {
    if (leaf === undefined || expected === undefined) return;
    if (!(leaf.x509.checkIssued(expected.x509) && leaf.x509.verify(expected.x509.publicKey))) {
      problems.push(
        `${leaf.path}: is not issued by ${expected.path} (got issuer ${leaf.x509.issuer.split("\n").join(", ")}). The origin would reject it; issue it again with that CA.`,
      );
    }
  };
  checkIssuer(find("client", "active"), find("ca", "active"));
  checkIssuer(find("client", "next"), find("ca", "next") ?? find("ca", "active"));

  const certificates: CertificateStatus[] = [];
  let due = false;
  let expired = false;
  for (const l of loaded) {
    const notBefore = parseOpensslTime(l.x509.validFrom);
    const notAfter = parseOpensslTime(l.x509.validTo);
    const ca = l.spec.role === "ca" ? undefined : issuerOf(l);
    const caNotAfter = ca === undefined ? null : parseOpensslTime(ca.x509.validTo);
    const worksUntil = caNotAfter !== null && caNotAfter < notAfter ? caNotAfter : notAfter;
    const renewal = renewalDueDate(notBefore, worksUntil, warnDays);
    // A leaf stops working with its CA: expired once either has.
    const condition: CertificateCondition = now >= worksUntil ? "expired" : now >= renewal ? "renewal-due" : "ok";
    certificates.push({
      role: l.spec.role,
      state: l.spec.state,
      path: l.path,
      keyPath: pathExists(l.keyPath) ? l.keyPath : null,
      subject: l.x509.subject.split("\n").join(", "),
      issuer: l.x509.issuer.split("\n").join(", "),
      serial: l.x509.serialNumber.toUpperCase(),
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
      daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS),
      renewalDue: renewal.toISOString(),
      condition,
      caPath: ca?.path ?? null,
      caNotAfter: caNotAfter?.toISOString() ?? null,
      fingerprintSha256: l.x509.fingerprint256,
    });
    if (ca !== undefined && caNotAfter !== null && caNotAfter < notAfter && l.spec.state !== "retired") {
      warnings.push(
        `warning: ${l.spec.role} certificate ${l.path} expires ${notAfter.toISOString()}, after its CA ${ca.path} (${caNotAfter.toISOString()}): it stops working with the CA. Rotate the CA (npm run pki -- rotate ca begin) before ${renewalDueDate(parseOpensslTime(ca.x509.validFrom), caNotAfter, warnDays).toISOString().slice(0, 10)}.`,
      );
    }
    if (l.spec.state === "retired" || condition === "ok") continue;
    if (condition === "expired") expired = true;
    else due = true;
    const when =
      condition === "expired"
        ? `expired on ${worksUntil.toISOString()}${worksUntil < notAfter ? ` with its CA ${ca?.path ?? ""}` : ""}`
        : `is due for renewal since ${renewal.toISOString().slice(0, 10)} (2/3 of its lifetime or ${warnDays} days before ${worksUntil.toISOString().slice(0, 10)}), ${Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS)} days left`;
    warnings.push(`warning: ${l.spec.state === "next" ? "next " : ""}${l.spec.role} certificate ${l.path} ${when}. ${FIX[l.spec.role]}`);
  }
  // The Origin CA certificate is issued at deploy time (Terraform); the store has it only when
  // the operator saved it. Without it its renewal cannot be judged: say so, every time.
  if (pathExists(join(dir, STORE_FILES.originKey)) && !pathExists(join(dir, STORE_FILES.originCert))) {
    warnings.push(
      `warning: ${join(dir, STORE_FILES.originCert)}: the origin certificate is not in the store (got only ${STORE_FILES.originKey}), so its renewal is not checked. After each deploy that issues one, save it: gcloud certificate-manager certificates list --project <project> --filter="name~-edge-origin-" --format="value(pemCertificate)" > ${join(dir, STORE_FILES.originCert)}`,
    );
  }
  if (loaded.length === 0 && problems.length === 0) {
    problems.push(
      `${dir}: holds no certificate (ca.pem, client.pem, origin.pem). Run npm run pki -- init-ca, or pass the right --env/--dir.`,
    );
  }
  const exitCode = problems.length > 0 || expired ? 2 : due ? 1 : 0;
  return { ...base, certificates, rotations, interrupted, problems, warnings, exitCode };
}

const FIX: Record<CertificateRole, string> = {
  ca: "Rotate it: npm run pki -- rotate ca begin.",
  client: "Rotate it: npm run pki -- rotate client begin.",
  origin: "Rotate it: npm run pki -- rotate origin begin.",
};

/** True when the unencrypted key at `keyPath` is the private half of `cert`'s public key. */
function keyMatches(keyPath: string, cert: X509Certificate): boolean {
  try {
    const key = createPrivateKey(readFileSync(keyPath, "utf8"));
    const spki = (k: ReturnType<typeof createPublicKey>): string => k.export({ type: "spki", format: "der" }).toString("base64");
    return spki(createPublicKey(key)) === spki(cert.publicKey);
  } catch {
    return false;
  }
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

/** Formats the certificates as a fixed-width table (one header line, one line per certificate). */
export function formatStatusTable(statuses: readonly CertificateStatus[]): string {
  const header = ["ROLE", "STATE", "CONDITION", "NOT AFTER", "DAYS LEFT", "RENEW BY", "CA NOT AFTER", "SERIAL", "PATH", "KEY"];
  const rows = statuses.map((s) => [
    s.role,
    s.state,
    s.condition,
    s.notAfter.slice(0, 10),
    String(s.daysLeft),
    s.renewalDue.slice(0, 10),
    s.caNotAfter?.slice(0, 10) ?? "-",
    s.serial,
    s.path,
    s.keyPath ?? "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

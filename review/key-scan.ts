/**
 * Finds key material in files: PEM private-key blocks of any kind, and any of a list of
 * known secret values. The net under the rule that no key or secret reaches the synthesized
 * plan, a snapshot, or a log.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/** PEM armour of private keys: PKCS#1, PKCS#8 (plain and encrypted), EC, DSA, OpenSSH. */
const PRIVATE_KEY_PEM = /-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----/;
/**
 * A private key's base64 DER body without its armour, as a careless template might embed it:
 * PKCS#8 (RSA or EC), PKCS#1 RSA, and SEC1 EC (P-256, P-384).
 */
const BARE_KEYS: readonly [RegExp, string][] = [
  [/MII[A-Za-z0-9+/]{3}IBADANBgkqhkiG9w0BAQEFAASC/, "base64 PKCS#8 RSA private key"],
  [/MIG[A-Za-z0-9+/]AgEAMBMGByqGSM49AgE/, "base64 PKCS#8 EC private key"],
  [/MII[A-Za-z0-9+/]{2,3}IBAAKC/, "base64 PKCS#1 RSA private key"],
  [/MHcCAQEEI|MIGkAgEBBD/, "base64 SEC1 EC private key"],
];

/** One finding: the file (relative to the scanned root), the line, and what was found. */
export interface KeyFinding {
  readonly file: string;
  readonly line: number;
  readonly what: string;
}

/** Every regular file below `dir`, sorted. */
export function filesBelow(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const path = join(dir, e.name);
      if (e.isDirectory()) return filesBelow(path);
      return e.isFile() ? [path] : [];
    })
    .sort();
}

/** Scans one text for private keys and for the given secret values (ignoring values under 8 characters). */
export function scanText(text: string, secrets: readonly string[] = []): { line: number; what: string }[] {
  const found: { line: number; what: string }[] = [];
  // Escaped newlines (JSON strings) are lines too.
  const lines = text.replace(/\\n/g, "\n").split("\n");
  lines.forEach((l, i) => {
    if (PRIVATE_KEY_PEM.test(l)) found.push({ line: i + 1, what: "PEM private key block" });
    else {
      const bare = BARE_KEYS.find(([re]) => re.test(l));
      if (bare) found.push({ line: i + 1, what: bare[1] });
    }
    for (const s of secrets) if (s.length >= 8 && l.includes(s)) found.push({ line: i + 1, what: "a known secret value" });
  });
  return found;
}

/** Scans every file below each root; file names in findings are relative to `base`. */
export function scanFiles(roots: readonly string[], base: string, secrets: readonly string[] = []): KeyFinding[] {
  return roots.flatMap((root) =>
    (statSync(root).isDirectory() ? filesBelow(root) : [root]).flatMap((file) =>
      scanText(readFileSync(file, "utf8"), secrets).map((f) => ({ file: relative(base, file), ...f })),
    ),
  );
}

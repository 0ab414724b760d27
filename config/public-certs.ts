/**
 * Loads the committed PUBLIC certificates of origin protection from the environment's
 * `pki.publicDir`, once, in the synth path (`lib/plan.ts` calls it; constructs never read
 * files). Every PEM is normalised (`pki/pem.ts`), so equal content always gives byte-identical
 * text in the plan — Cloudflare's provider replaces a certificate whose PEM differs by a
 * trailing newline. A file holding a private key is refused: keys reach Terraform only at
 * apply time, from Secret Manager.
 */
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { PlueConfig } from "./schema.ts";
import { ConfigError } from "./errors.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import { containsPrivateKeyBlock, normalisePem, parsePemBlocks, PemError } from "../lib/pem.ts";

/** The repository root: `pki.publicDir` is relative to it. */

/** File names in `pki.publicDir` (the names `npm run pki -- publish` writes). */
export const PUBLIC_CERT_FILES = {
  /** The origin-pull CA certificate: the load balancer's TrustConfig anchor. */
  ca: "ca.pem",
  /**
   * The next CA certificate, during a CA rotation only: trusted beside `ca.pem`.
   * Written by `npm run pki -- rotate ca begin` (docs/adr/0016-certificate-rotation.md).
   */
  nextCa: "ca-next.pem",
  /** The client certificate Cloudflare presents on origin pulls. */
  client: "client.pem",
  /**
   * The next client certificate, during a client or CA rotation only (`npm run pki -- rotate
   * client|ca begin` writes it): uploaded beside `client.pem` as a second AOP certificate.
   */
  nextClient: "client-next.pem",
  /** The CSR of the Cloudflare Origin CA certificate the load balancer serves. */
  originCsr: "origin.csr.pem",
} as const;

/** The committed public material of one environment, as normalised PEM text. */
export interface PublicCerts {
  /** `ca.pem`: one CERTIFICATE block. */
  readonly caPem: string;
  /**
   * `ca-next.pem`: one CERTIFICATE block, present only while a CA rotation is under way.
   * @default - no rotation under way: the TrustConfig holds `ca.pem` only
   */
  readonly nextCaPem?: string;
  /** `client.pem`: one CERTIFICATE block, issued by `ca.pem` (or by `ca-next.pem`). */
  readonly clientPem: string;
  /**
   * `client-next.pem`: one CERTIFICATE block, present only while a client or CA rotation is
   * under way; issued by `ca-next.pem` when there is one, else by `ca.pem`.
   * @default - no rotation under way: one AOP certificate
   */
  readonly nextClientPem?: string;
  /** `origin.csr.pem`: one CERTIFICATE REQUEST block. */
  readonly originCsrPem: string;
}

/** The public certificates cannot be used: `problems` holds one line per problem (an input error, like a config error). */
export class PublicCertsError extends ConfigError {
  constructor(problems: readonly string[]) {
    super(problems);
    this.name = "PublicCertsError";
  }
}

/** The `npm run pki` commands that make each file. */
const MAKE: Record<keyof typeof PUBLIC_CERT_FILES, string> = {
  ca: "`npm run pki -- init-ca` then `npm run pki -- publish`",
  nextCa: "`npm run pki -- rotate ca begin` (or `rotate ca abort` to withdraw it)",
  client: "`npm run pki -- issue-client` then `npm run pki -- publish`",
  nextClient: "`npm run pki -- rotate client begin` (or `rotate client abort` to withdraw it)",
  originCsr: "`npm run pki -- origin-csr` then `npm run pki -- publish`",
};

/** The label each file must hold exactly one block of. */
const LABEL: Record<keyof typeof PUBLIC_CERT_FILES, string> = {
  ca: "CERTIFICATE",
  nextCa: "CERTIFICATE",
  client: "CERTIFICATE",
  nextClient: "CERTIFICATE",
  originCsr: "CERTIFICATE REQUEST",
};

/** Options of {@link loadPublicCerts}. */
export interface LoadPublicCertsOptions {
  /**
   * Directory that `pki.publicDir` is relative to.
   * @default the repository root ({@link REPO_ROOT})
   */
  readonly repoRoot?: string;
}

/**
 * Reads `<repo>/<pki.publicDir>/{ca.pem,client.pem,origin.csr.pem}` (and `ca-next.pem`,
 * `client-next.pem` when a rotation is under way), checks them and returns them normalised. Every problem is collected, then thrown
 * once, as `<file>: '<field>' <problem> (got <value>). <fix>`.
 * @throws PublicCertsError when a file is missing, is not the expected PEM, holds a private
 * key, or the client certificate was not issued by the CA
 */
export function loadPublicCerts(config: PlueConfig, options: LoadPublicCertsOptions = {}): PublicCerts {
  const root = options.repoRoot ?? REPO_ROOT;
  const publicDir = config.pki.publicDir.replace(/\/+$/, "");
  const problems: string[] = [];
  const pems: Partial<Record<keyof typeof PUBLIC_CERT_FILES, string>> = {};

  for (const key of Object.keys(PUBLIC_CERT_FILES) as (keyof typeof PUBLIC_CERT_FILES)[]) {
    const name = PUBLIC_CERT_FILES[key];
    const shown = `${publicDir}/${name}`;
    const path = join(root, publicDir, name);
    if (!existsSync(path)) {
      if (key === "nextCa" || key === "nextClient") continue; // optional: only during a rotation
      problems.push(`${shown}: 'pki.publicDir' has no ${name} (got ${publicDir}). Run ${MAKE[key]}, and commit the public copy.`);
      continue;
    }
    const text = readFileSync(path, "utf8");
    let labels: string[];
    try {
      labels = parsePemBlocks(text).map((b) => b.label);
    } catch (e) {
      if (!(e instanceof PemError)) throw e;
      problems.push(`${shown}: is not PEM text (got ${e.message}). Run ${MAKE[key]} to write it again.`);
      continue;
    }
    // Refuse before anything else: the key must never travel further than this check.
    const keyLabel = labels.find((l) => l.endsWith("PRIVATE KEY"));
    if (keyLabel !== undefined || containsPrivateKeyBlock(text)) {
      problems.push(
        `${shown}: holds a private key block (got ${keyLabel ?? "PRIVATE KEY"}). Remove the key from the file: only public certificates belong in pki.publicDir (\`npm run pki -- publish\` copies only those); treat the key as exposed and rotate it.`,
      );
      continue;
    }
    if (labels.length !== 1 || labels[0] !== LABEL[key]) {
      problems.push(
        `${shown}: does not hold exactly one ${LABEL[key]} block (got ${labels.join(", ")}). Run ${MAKE[key]} to write it again.`,
      );
      continue;
    }
    pems[key] = normalisePem(text);
  }

  if (pems.client !== undefined && pems.ca !== undefined) {
    const client = new X509Certificate(pems.client);
    const issuers = [pems.ca, pems.nextCa].filter((p): p is string => p !== undefined).map((p) => new X509Certificate(p));
    if (!issuers.some((ca) => client.checkIssued(ca) && client.verify(ca.publicKey))) {
      const shown = `${publicDir}/${PUBLIC_CERT_FILES.client}`;
      problems.push(
        `${shown}: is not issued by ${PUBLIC_CERT_FILES.ca}${pems.nextCa ? ` nor ${PUBLIC_CERT_FILES.nextCa}` : ""} (got issuer ${client.issuer.replace(/\n/g, ", ")}). Run \`npm run pki -- issue-client --force\` with the CA of this environment, then \`npm run pki -- publish --force\`.`,
      );
    }
  }
  if (pems.nextClient !== undefined && pems.ca !== undefined) {
    const next = new X509Certificate(pems.nextClient);
    const issuerFile = pems.nextCa !== undefined ? PUBLIC_CERT_FILES.nextCa : PUBLIC_CERT_FILES.ca;
    const issuer = new X509Certificate(pems.nextCa ?? pems.ca);
    if (!(next.checkIssued(issuer) && next.verify(issuer.publicKey))) {
      problems.push(
        `${publicDir}/${PUBLIC_CERT_FILES.nextClient}: is not issued by ${issuerFile} (got issuer ${next.issuer.replace(/\n/g, ", ")}). The origin would reject it once Cloudflare uses it: run \`npm run pki -- rotate ${pems.nextCa !== undefined ? "ca" : "client"} abort\`, then begin again.`,
      );
    }
  }
  // The same certificate twice is what an interrupted finish leaves between two of its steps.
  for (const [a, b] of [
    ["client", "nextClient"],
    ["ca", "nextCa"],
  ] as const) {
    if (pems[a] !== undefined && pems[a] === pems[b]) {
      problems.push(
        `${publicDir}/${PUBLIC_CERT_FILES[b]}: is the same certificate as ${PUBLIC_CERT_FILES[a]} (got two copies). A rotation's finish was interrupted: run the same \`npm run pki -- rotate … finish\` again to complete it.`,
      );
    }
  }

  if (problems.length > 0 || pems.ca === undefined || pems.client === undefined || pems.originCsr === undefined) {
    throw new PublicCertsError(problems);
  }
  return {
    caPem: pems.ca,
    ...(pems.nextCa !== undefined ? { nextCaPem: pems.nextCa } : {}),
    clientPem: pems.client,
    ...(pems.nextClient !== undefined ? { nextClientPem: pems.nextClient } : {}),
    originCsrPem: pems.originCsr,
  };
}

/**
 * The certificate signing request for the Cloudflare Origin CA certificate that the load
 * balancer serves to Cloudflare (SSL mode Full (strict) checks it).
 * @see https://developers.cloudflare.com/ssl/origin-configuration/origin-ca/
 */
import forge from "node-forge";
import { UsageError } from "./errors.ts";
import { generateRsaKeyPair } from "./keys.ts";
import { distinguishedName, sha256 } from "./certificate.ts";
import { normalisePem } from "../lib/pem.ts";

/** Options of {@link createOriginCsr}. */
export interface CreateOriginCsrOptions {
  /** subjectAltName DNS names (config `pki.originHostnames`); the first is also the `CN`. */
  readonly hostnames: readonly string[];
  /**
   * Subject `O`.
   * @default - no organization in the subject
   */
  readonly organization?: string;
  /**
   * RSA key size.
   * @default 2048
   */
  readonly bits?: number;
}

/** A CSR with its new private key, both PEM (normalised). */
export interface CsrWithKey {
  /** `-----BEGIN CERTIFICATE REQUEST-----`. */
  readonly csrPem: string;
  /** `-----BEGIN PRIVATE KEY-----`, unencrypted PKCS#8. */
  readonly keyPem: string;
}

/**
 * Creates an RSA key and a SHA-256 CSR whose subjectAltName lists every hostname (requested
 * through the PKCS#9 extensionRequest attribute) and whose CN is the first hostname.
 * @throws UsageError when `hostnames` is empty
 */
export function createOriginCsr(options: CreateOriginCsrOptions): CsrWithKey {
  const [first] = options.hostnames;
  if (first === undefined)
    throw new UsageError("pki origin-csr: 'pki.originHostnames' is empty (got []). List the hostnames Cloudflare connects to.");
  const keys = generateRsaKeyPair(options.bits ?? 2048);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = keys.publicKey;
  csr.setSubject(distinguishedName(first, options.organization));
  csr.setAttributes([
    {
      name: "extensionRequest",
      extensions: [{ name: "subjectAltName", altNames: options.hostnames.map((value) => ({ type: 2, value })) }],
    },
  ]);
  csr.sign(keys.privateKey, sha256());
  return { csrPem: normalisePem(forge.pki.certificationRequestToPem(csr)), keyPem: keys.privateKeyPem };
}

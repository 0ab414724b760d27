/**
 * The private CA of Authenticated Origin Pulls: its certificate is the trust anchor the load
 * balancer's `TrustConfig` holds; its key signs the client certificate Cloudflare presents.
 * @see https://developers.cloudflare.com/ssl/origin-configuration/authenticated-origin-pull/set-up/zone-level/
 */
import { UsageError } from "./errors.ts";
import { generateRsaKeyPair, type RsaKeyPair } from "./keys.ts";
import { computeValidity, distinguishedName, signCertificate, type SignedCertificate } from "./certificate.ts";

/** RSA sizes allowed for the CA key. */
export const CA_KEY_BITS = [3072, 4096] as const;

/** An allowed CA key size. */
export type CaKeyBits = (typeof CA_KEY_BITS)[number];

/** Options of {@link createCa}. */
export interface CreateCaOptions {
  /** Subject `O`, and the start of the subject `CN`. */
  readonly organization: string;
  /** Days from `now` to notAfter. */
  readonly validityDays: number;
  /** The clock: notBefore (truncated to the second). */
  readonly now: Date;
  /**
   * RSA key size.
   * @default 3072
   */
  readonly bits?: number;
  /**
   * Subject common name.
   * @default `${organization} Origin Pull CA`
   */
  readonly commonName?: string;
}

/** A certificate with its private key, both PEM (normalised). */
export interface CertificateWithKey extends SignedCertificate {
  /** `-----BEGIN PRIVATE KEY-----`, unencrypted PKCS#8: encrypt it before it reaches a disk. */
  readonly keyPem: string;
}

/**
 * Creates a self-signed RSA CA: SHA-256, `basicConstraints` CA:TRUE pathlen:0 (critical),
 * `keyUsage` keyCertSign + cRLSign (critical), subjectKeyIdentifier, a positive random
 * 128-bit serial.
 * @throws UsageError when `bits` is not 3072 or 4096, or the validity is not positive
 */
export function createCa(options: CreateCaOptions): CertificateWithKey {
  const bits = options.bits ?? 3072;
  if (!CA_KEY_BITS.some((b) => b === bits)) {
    throw new UsageError(`pki init-ca: '--bits' is not an allowed CA key size (got ${bits}). Use 3072 or 4096.`);
  }
  return selfSignCa(generateRsaKeyPair(bits), options);
}

/**
 * The self-signed CA certificate of {@link createCa} on a key pair that already exists (the
 * tests sign many CAs with one key); `createCa` checks the key size.
 */
export function selfSignCa(keys: RsaKeyPair, options: Omit<CreateCaOptions, "bits">): CertificateWithKey {
  const name = distinguishedName(options.commonName ?? `${options.organization} Origin Pull CA`, options.organization);
  const signed = signCertificate({
    publicKey: keys.publicKey,
    subject: name,
    issuer: name,
    validity: computeValidity(options.now, options.validityDays),
    extensions: [
      { name: "basicConstraints", critical: true, cA: true, pathLenConstraint: 0 },
      { name: "keyUsage", critical: true, keyCertSign: true, cRLSign: true },
      { name: "subjectKeyIdentifier" },
    ],
    signingKeyPem: keys.privateKeyPem,
  });
  return { ...signed, keyPem: keys.privateKeyPem };
}

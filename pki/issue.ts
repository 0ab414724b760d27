/**
 * Issuing end-entity certificates from the private CA: the Cloudflare origin-pull client
 * certificate ({@link issueClientCertificate}), and, for tests and labs, any TLS leaf
 * ({@link issueCertificate}).
 * @see https://developers.cloudflare.com/ssl/origin-configuration/authenticated-origin-pull/set-up/zone-level/
 */
import { OperationalError, UsageError } from "./errors.ts";
import { generateRsaKeyPair, rsaKeyPairFromPem, samePublicKey } from "./keys.ts";
import {
  certificateRsaKey,
  computeValidity,
  distinguishedName,
  isCaCertificate,
  issuerOf,
  parseCertificatePem,
  signCertificate,
  subjectKeyIdentifier,
  type CertificateExtension,
  type SubjectAltName,
} from "./certificate.ts";
import type { CertificateWithKey } from "./ca.ts";

/** The CA that signs: its certificate and its unencrypted private key, both PEM. */
export interface IssuingCa {
  /** The CA certificate (`ca.pem`). */
  readonly certPem: string;
  /** The CA private key, decrypted (PKCS#8 or PKCS#1 PEM). */
  readonly keyPem: string;
  /**
   * Names the CA certificate in error messages (usually its path).
   * @default "CA certificate"
   */
  readonly name?: string;
}

/** An extended key usage purpose. */
export type ExtendedKeyUsage = "clientAuth" | "serverAuth";

/** Options of {@link issueCertificate}. */
export interface IssueCertificateOptions {
  /** The issuing CA. */
  readonly ca: IssuingCa;
  /** Subject `CN`. */
  readonly commonName: string;
  /**
   * Subject `O`.
   * @default - no organization in the subject
   */
  readonly organization?: string;
  /** `extendedKeyUsage` purposes; at least one. */
  readonly extendedKeyUsage: readonly ExtendedKeyUsage[];
  /**
   * subjectAltName DNS names.
   * @default - none
   */
  readonly dnsNames?: readonly string[];
  /**
   * subjectAltName IP addresses.
   * @default - none
   */
  readonly ipAddresses?: readonly string[];
  /** Days from `now` to notAfter; cut back to the CA's notAfter if it would pass it. */
  readonly validityDays: number;
  /** The clock: notBefore (truncated to the second). Must fall within the CA's validity. */
  readonly now: Date;
  /**
   * RSA key size of the new key.
   * @default 2048
   */
  readonly bits?: number;
}

/** A certificate issued by the CA, with its new key. */
export interface IssuedCertificate extends CertificateWithKey {
  /** True when notAfter was cut back to the CA's notAfter. */
  readonly clamped: boolean;
  /** The notAfter that `validityDays` asked for (equals `notAfter` unless clamped). */
  readonly requestedNotAfter: Date;
}

/**
 * Issues an RSA end-entity certificate signed by `ca`: SHA-256, `basicConstraints` CA:FALSE
 * (critical), `keyUsage` digitalSignature (+ keyEncipherment for serverAuth; critical),
 * `extendedKeyUsage` as given, subjectKeyIdentifier, authorityKeyIdentifier = the CA's subject
 * key identifier, a positive random 128-bit serial, notAfter never past the CA's.
 *
 * The CLI only issues the client certificate ({@link issueClientCertificate}); tests use this
 * for a server certificate and for a certificate lacking `clientAuth`.
 * @throws OperationalError when the CA certificate is not a CA, its key does not match, or
 *   `now` is outside its validity
 * @throws UsageError on an empty `extendedKeyUsage` or a bad validity
 */
export function issueCertificate(options: IssueCertificateOptions): IssuedCertificate {
  const caName = options.ca.name ?? "CA certificate";
  const caCert = parseCertificatePem(options.ca.certPem, caName);
  if (!isCaCertificate(caCert)) {
    throw new OperationalError(`${caName}: is not a CA certificate (no basicConstraints CA:TRUE). Point to the ca.pem made by init-ca.`);
  }
  const caKey = rsaKeyPairFromPem(options.ca.keyPem, `key of ${caName}`);
  if (!samePublicKey(caKey.publicKey, certificateRsaKey(caCert, caName))) {
    throw new OperationalError(
      `${caName}: does not match the CA private key. Restore the ca.pem that belongs to ca.key.pem, or create the CA again.`,
    );
  }
  if (options.now.getTime() < caCert.validity.notBefore.getTime()) {
    throw new OperationalError(
      `${caName}: is not valid yet (notBefore ${caCert.validity.notBefore.toISOString()}, now ${options.now.toISOString()}). Check the clock.`,
    );
  }
  if (options.now.getTime() >= caCert.validity.notAfter.getTime()) {
    throw new OperationalError(
      `${caName}: expired on ${caCert.validity.notAfter.toISOString()}. Create a new CA (init-ca --force) and issue again.`,
    );
  }
  if (options.extendedKeyUsage.length === 0) {
    throw new UsageError("pki: 'extendedKeyUsage' is empty (got []). Give at least one purpose, e.g. clientAuth.");
  }
  const validity = computeValidity(options.now, options.validityDays, caCert.validity.notAfter);
  const subject = distinguishedName(options.commonName, options.organization);
  const keys = generateRsaKeyPair(options.bits ?? 2048);

  const serverAuth = options.extendedKeyUsage.includes("serverAuth");
  const clientAuth = options.extendedKeyUsage.includes("clientAuth");
  const altNames: SubjectAltName[] = [
    ...(options.dnsNames ?? []).map((value): SubjectAltName => ({ type: 2, value })),
    ...(options.ipAddresses ?? []).map((ip): SubjectAltName => ({ type: 7, ip })),
  ];
  const extensions: CertificateExtension[] = [
    { name: "basicConstraints", critical: true, cA: false },
    { name: "keyUsage", critical: true, digitalSignature: true, ...(serverAuth ? { keyEncipherment: true } : {}) },
    { name: "extKeyUsage", critical: false, ...(clientAuth ? { clientAuth: true } : {}), ...(serverAuth ? { serverAuth: true } : {}) },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: subjectKeyIdentifier(caCert) },
    ...(altNames.length > 0 ? [{ name: "subjectAltName", altNames } as const] : []),
  ];

  const signed = signCertificate({
    publicKey: keys.publicKey,
    subject,
    issuer: issuerOf(caCert),
    validity,
    extensions,
    signingKeyPem: caKey.privateKeyPem,
  });
  return { ...signed, keyPem: keys.privateKeyPem, clamped: validity.clamped, requestedNotAfter: validity.requestedNotAfter };
}

/** Options of {@link issueClientCertificate}. */
export interface IssueClientCertificateOptions {
  /** The issuing CA. */
  readonly ca: IssuingCa;
  /** Subject `O`, and the start of the subject `CN`. */
  readonly organization: string;
  /** Days from `now` to notAfter (config `pki.clientValidityDays`); cut back to the CA's notAfter. */
  readonly validityDays: number;
  /** The clock: notBefore. */
  readonly now: Date;
  /**
   * Subject common name.
   * @default `${organization} Origin Pull Client`
   */
  readonly commonName?: string;
}

/**
 * Issues the client certificate Cloudflare presents on every origin pull: RSA 2048,
 * `extendedKeyUsage` clientAuth only, otherwise as {@link issueCertificate}.
 */
export function issueClientCertificate(options: IssueClientCertificateOptions): IssuedCertificate {
  if (options.organization.length === 0) throw new UsageError("pki: 'organization' is empty (got \"\"). Set pki.organization.");
  return issueCertificate({
    ca: options.ca,
    commonName: options.commonName ?? `${options.organization} Origin Pull Client`,
    organization: options.organization,
    extendedKeyUsage: ["clientAuth"],
    validityDays: options.validityDays,
    now: options.now,
    bits: 2048,
  });
}

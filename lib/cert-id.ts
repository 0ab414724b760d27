/**
 * The stable id of a certificate: the first 16 hex digits of the SHA-256 of its DER bytes
 * (the fingerprint `openssl x509 -fingerprint -sha256` prints, lowercase, without colons).
 * The edge stack keys each Cloudflare AOP certificate by it, so a certificate keeps its
 * Terraform address from the day it is uploaded as `client-next.pem` to the day it is retired.
 */
import { createHash } from "node:crypto";
import { parsePemBlocks, pemBlockDer } from "./pem.ts";

/** Hex digits of the fingerprint kept in the id (64 bits: no collision among a zone's few certificates). */
export const CERTIFICATE_ID_LENGTH = 16;

/** SHA-256 of the DER bytes of the first CERTIFICATE block of `pem`, lowercase hex. */
export function certificateSha256(pem: string): string {
  const block = parsePemBlocks(pem).find((b) => b.label === "CERTIFICATE");
  if (block === undefined) throw new Error(`certificateSha256: 'pem' holds no CERTIFICATE block (got ${pem.slice(0, 30)}...)`);
  return createHash("sha256").update(pemBlockDer(block)).digest("hex");
}

/** The certificate's stable id: the first {@link CERTIFICATE_ID_LENGTH} hex digits of {@link certificateSha256}. */
export function certificateId(pem: string): string {
  return certificateSha256(pem).slice(0, CERTIFICATE_ID_LENGTH);
}

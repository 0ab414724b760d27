/**
 * Asks Cloudflare whether a zone-level Authenticated Origin Pulls certificate is `active`,
 * through the official TypeScript SDK (npm `cloudflare`): `GET
 * /zones/{zone_id}/origin_tls_client_auth` (`client.originTLSClientAuth.zoneCertificates.list`),
 * whose elements carry the uploaded `certificate` and its `status` (`initializing`,
 * `pending_deployment`, `active`, `pending_deletion`, `deleted`, `deployment_timed_out`,
 * `deletion_timed_out`). The certificate is found by its SHA-256 fingerprint, so an upload of
 * the same certificate under any id counts. Cloudflare's zero-downtime procedure deletes the
 * old certificate only once the new one is active; this is that check.
 *
 * The SDK is loaded only here, on demand: it takes about a second to load.
 * @see https://developers.cloudflare.com/ssl/origin-configuration/authenticated-origin-pull/set-up/manage-certificates/
 * @see https://developers.cloudflare.com/api/resources/origin_tls_client_auth/subresources/zone_certificates/methods/list/
 */
import { certificateSha256 } from "../lib/cert-id.ts";
import { normalisePem } from "../lib/pem.ts";
import { OperationalError } from "./errors.ts";

/** Where and how to ask. */
export interface AopStatusQuery {
  /** The zone (32 hex digits). */
  readonly zoneId: string;
  /** API token with "SSL and Certificates Read" on the zone. */
  readonly apiToken: string;
  /**
   * The API's base URL.
   * @default "https://api.cloudflare.com/client/v4" (the SDK's)
   */
  readonly baseUrl?: string;
  /** The certificate to look for (PEM). */
  readonly certificatePem: string;
  /**
   * Milliseconds to wait for each request.
   * @default 30000
   */
  readonly timeoutMs?: number;
}

/** What Cloudflare says of the certificate. */
export interface AopStatus {
  /** Cloudflare's id of the upload, or null when the certificate is not uploaded. */
  readonly id: string | null;
  /** Its `status`, or `not-uploaded`. */
  readonly status: string;
  /** Every certificate of the zone with its status (id, status, expires_on), for the report. */
  readonly zone: readonly { readonly id: string; readonly status: string; readonly expiresOn: string | null }[];
}

/**
 * Lists the zone's AOP certificates and returns the status of the one whose fingerprint is
 * `certificatePem`'s.
 * @throws OperationalError when the API cannot be reached or answers an error (the message
 * names the HTTP status and Cloudflare's first error, never the token)
 */
export async function aopCertificateStatus(query: AopStatusQuery): Promise<AopStatus> {
  const { default: Cloudflare } = await import("cloudflare");
  const client = new Cloudflare({
    apiToken: query.apiToken,
    apiKey: null,
    apiEmail: null,
    userServiceKey: null,
    ...(query.baseUrl === undefined ? {} : { baseURL: query.baseUrl }),
    timeout: query.timeoutMs ?? 30_000,
    maxRetries: 2,
  });
  const wanted = certificateSha256(query.certificatePem);
  const zone: { id: string; status: string; expiresOn: string | null }[] = [];
  // The same certificate may be listed twice (an old upload pending deletion, a new one): an
  // active one wins.
  let found: { id: string; status: string } | undefined;
  try {
    for await (const cert of client.originTLSClientAuth.zoneCertificates.list({ zone_id: query.zoneId })) {
      const id = cert.id ?? "?";
      const status = cert.status ?? "unknown";
      zone.push({ id, status, expiresOn: cert.expires_on ?? null });
      if (typeof cert.certificate === "string" && fingerprintOf(cert.certificate) === wanted && found?.status !== "active")
        found = { id, status };
    }
  } catch (error) {
    throw new OperationalError(
      `cloudflare: ${apiProblem(error).replaceAll(query.apiToken, "<token>")} (zone ${query.zoneId}). Check CLOUDFLARE_API_TOKEN (SSL and Certificates Read on the zone) and edge.cloudflareZoneId, or confirm by hand and pass --confirmed-active.`,
    );
  }
  return { id: found?.id ?? null, status: found?.status ?? "not-uploaded", zone };
}

/** The SHA-256 fingerprint of a listed certificate, or undefined when it is not one PEM can read. */
function fingerprintOf(pem: string): string | undefined {
  try {
    return certificateSha256(normalisePem(pem));
  } catch {
    return undefined;
  }
}

/** The SDK's error as one line: `GET … answered 403: <Cloudflare's first error message>`. */
function apiProblem(error: unknown): string {
  const e = error as { status?: number; errors?: { message?: string; code?: number }[]; message?: string; name?: string };
  if (typeof e.status === "number") {
    const first = Array.isArray(e.errors) ? e.errors[0] : undefined;
    const detail = first?.message !== undefined ? `${first.code ?? ""} ${first.message}`.trim() : (e.message ?? "").split("\n")[0];
    return `the API answered ${e.status} (${detail})`;
  }
  return `the API could not be reached (${e.name ?? "error"}: ${(e.message ?? String(error)).split("\n")[0]})`;
}

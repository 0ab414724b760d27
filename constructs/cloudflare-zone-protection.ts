import { Construct } from "constructs";
import { Token, type ITerraformDependable } from "cdktf";
import { ZoneSetting } from "@cdktf/provider-cloudflare/lib/zone-setting";
import { UrlNormalizationSettings } from "@cdktf/provider-cloudflare/lib/url-normalization-settings";
import { AuthenticatedOriginPullsCertificate } from "@cdktf/provider-cloudflare/lib/authenticated-origin-pulls-certificate";
import { AuthenticatedOriginPullsSettings } from "@cdktf/provider-cloudflare/lib/authenticated-origin-pulls-settings";
import { DnsRecord } from "@cdktf/provider-cloudflare/lib/dns-record";

/** Props of {@link CloudflareZoneProtection}. */
export interface CloudflareZoneProtectionProps {
  /** The Cloudflare zone id (32 hex digits). */
  readonly zoneId: string;
  /** The proxied name (an `A` record) that points at the origin. */
  readonly domain: string;
  /** The origin's IPv4 address (the load balancer's reserved address). */
  readonly originAddress: string;
  /**
   * The client certificates Cloudflare may present on origin pulls (normalised PEM, public),
   * keyed by a stable id of each certificate (its fingerprint prefix): one, or two while a
   * rotation is under way. A certificate keeps its resource (and its upload) while its id stays
   * in the map; Cloudflare uses the newest active one.
   */
  readonly clientCertificates: Readonly<Record<string, string>>;
  /**
   * The private key a certificate is uploaded with: a reference resolved at apply time (a
   * Secret Manager data source, its newest version), never literal key text. It is read when a
   * certificate is created; a certificate already uploaded ignores later changes of it
   * (`ignore_changes`), so the newest version may already hold the next certificate's key.
   */
  readonly clientPrivateKey: string;
  /**
   * What must be in place before a client certificate is uploaded: the origin's TrustConfig,
   * so a certificate of a new CA is uploaded only after the origin trusts that CA.
   * @default - no ordering beyond the zone's own
   */
  readonly uploadAfter?: readonly ITerraformDependable[];
  /**
   * Oldest TLS version Cloudflare accepts from visitors.
   * @default "1.2"
   */
  readonly minTlsVersion?: "1.2" | "1.3";
  /**
   * Resources that must exist before visitors are sent to the origin (the DNS record waits
   * for them): the origin's listener, typically.
   * @default - the record waits for the zone settings and AOP only
   */
  readonly originReady?: readonly ITerraformDependable[];
}

/**
 * A Cloudflare zone set up to front an origin that requires origin mTLS:
 * - SSL mode Full (strict), minimum TLS 1.2, Always Use HTTPS;
 * - URL normalisation (Cloudflare's rules) applied to incoming URLs *and* to the URLs sent to
 *   the origin, so path-based rules at the origin see the path Cloudflare checked;
 * - zone-level Authenticated Origin Pulls with our own client certificate (the provider's
 *   5.14 resources; per-hostname upload arrives in 5.17), enabled only after the upload;
 * - a proxied `A` record (TTL 1 = automatic) for the domain, created last, so no visitor is
 *   sent to the origin before AOP and Full (strict) are in place.
 * @see https://developers.cloudflare.com/ssl/origin-configuration/authenticated-origin-pull/set-up/zone-level/
 * @see https://developers.cloudflare.com/ssl/origin-configuration/ssl-modes/full-strict/
 */
export class CloudflareZoneProtection extends Construct {
  /** Zone settings by setting id. */
  readonly settings: ReadonlyMap<string, ZoneSetting>;
  /** The uploaded origin-pull client certificates, by the ids of `clientCertificates`. */
  readonly originPullCertificates: ReadonlyMap<string, AuthenticatedOriginPullsCertificate>;
  /** Zone-level AOP switch. */
  readonly originPullSettings: AuthenticatedOriginPullsSettings;
  /** The proxied DNS record. */
  readonly record: DnsRecord;

  constructor(scope: Construct, id: string, props: CloudflareZoneProtectionProps) {
    super(scope, id);
    const zoneId = props.zoneId;

    // cloudflare 5.x: one resource per setting; `value` is dynamic (a string here). The binding
    // types it as a map, so the string goes through as an opaque token.
    const values: Record<string, string> = {
      ssl: "strict",
      min_tls_version: props.minTlsVersion ?? "1.2",
      always_use_https: "on",
    };
    const settings = new Map<string, ZoneSetting>();
    for (const [settingId, value] of Object.entries(values)) {
      settings.set(
        settingId,
        new ZoneSetting(this, `setting-${settingId.replace(/_/g, "-")}`, {
          zoneId,
          settingId,
          value: Token.asAnyMap(Token.asAny(value)),
        }),
      );
    }
    this.settings = settings;

    const normalisation = new UrlNormalizationSettings(this, "url-normalization", { zoneId, scope: "both", type: "cloudflare" });

    const ids = Object.keys(props.clientCertificates).sort();
    if (ids.length === 0) {
      throw new Error(
        `CloudflareZoneProtection ${id}: 'clientCertificates' is empty (got {}). Pass the client certificate, or Cloudflare presents its shared one.`,
      );
    }
    const certificates = new Map<string, AuthenticatedOriginPullsCertificate>();
    for (const certId of ids) {
      certificates.set(
        certId,
        new AuthenticatedOriginPullsCertificate(this, `origin-pull-certificate-${certId}`, {
          zoneId,
          certificate: props.clientCertificates[certId] as string,
          privateKey: props.clientPrivateKey,
          ...(props.uploadAfter === undefined || props.uploadAfter.length === 0 ? {} : { dependsOn: [...props.uploadAfter] }),
          // A rotation adds the next certificate under its own id, so it is uploaded before the
          // old one is deleted (a later deploy, once it is active): the zone is never left without
          // our certificate. The key is needed only when a certificate is uploaded (cloudflare
          // 5.14's Update does nothing), and the newest key version may already be the next one.
          lifecycle: { createBeforeDestroy: true, ignoreChanges: ["private_key"] },
        }),
      );
    }
    this.originPullCertificates = certificates;
    this.originPullSettings = new AuthenticatedOriginPullsSettings(this, "origin-pull-settings", {
      zoneId,
      enabled: true,
      dependsOn: [...certificates.values()],
    });

    this.record = new DnsRecord(this, "record", {
      zoneId,
      name: props.domain,
      type: "A",
      content: props.originAddress,
      proxied: true,
      ttl: 1,
      comment: "Managed by plue-infra: proxied to the origin load balancer (origin mTLS).",
      dependsOn: [...settings.values(), normalisation, this.originPullSettings, ...(props.originReady ?? [])],
    });
  }
}

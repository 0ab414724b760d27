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
  /** The client certificate Cloudflare presents on origin pulls: normalised PEM, public. */
  readonly clientCertificatePem: string;
  /**
   * The client certificate's private key: a reference resolved at apply time (a Secret
   * Manager data source or a sensitive variable), never literal key text.
   */
  readonly clientPrivateKey: string;
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
  /** The uploaded origin-pull client certificate. */
  readonly originPullCertificate: AuthenticatedOriginPullsCertificate;
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

    this.originPullCertificate = new AuthenticatedOriginPullsCertificate(this, "origin-pull-certificate", {
      zoneId,
      certificate: props.clientCertificatePem,
      privateKey: props.clientPrivateKey,
      // A new client certificate (rotation) is uploaded before the old one is deleted, so the
      // zone is never left without our certificate (Cloudflare would fall back to its shared
      // one, which the origin rejects).
      lifecycle: { createBeforeDestroy: true },
    });
    this.originPullSettings = new AuthenticatedOriginPullsSettings(this, "origin-pull-settings", {
      zoneId,
      enabled: true,
      dependsOn: [this.originPullCertificate],
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

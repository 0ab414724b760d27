import type { Construct } from "constructs";
import { dependable, TerraformOutput } from "cdktf";
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
import { OriginCaCertificate } from "@cdktf/provider-cloudflare/lib/origin-ca-certificate";
import { ComputeGlobalAddress } from "@cdktf/provider-google/lib/compute-global-address";
import { ComputeFirewall } from "@cdktf/provider-google/lib/compute-firewall";
import { DataGoogleComputeNetworkEndpointGroup } from "@cdktf/provider-google/lib/data-google-compute-network-endpoint-group";
import { DataGoogleSecretManagerSecretVersion } from "@cdktf/provider-google/lib/data-google-secret-manager-secret-version";
import { PlueStack, type PlueStackProps } from "./plue-stack.ts";
import { CloudArmorSecurityPolicy } from "../constructs/cloud-armor-security-policy.ts";
import { CloudflareZoneProtection } from "../constructs/cloudflare-zone-protection.ts";
import { OriginMtlsLoadBalancer } from "../constructs/origin-mtls-load-balancer.ts";
import { TerraformData } from "../constructs/terraform-data.ts";
import type { PublicCerts } from "../config/public-certs.ts";
import { names, networkId, secretId, serviceAccountEmail } from "../config/names.ts";
import { EDGE_SECRETS } from "../config/secrets.ts";
import { certificateId } from "../lib/cert-id.ts";
import { K8S } from "../lib/k8s-names.ts";
import { GOOGLE_LB_RANGES } from "../lib/ranges.ts";

/**
 * Security headers the load balancer adds to every response (Plue's security architecture,
 * "Security Headers").
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": "default-src 'self'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "X-XSS-Protection": "1; mode=block",
  "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
};

/** Path prefix of the SIWE auth endpoints (`/api/auth/nonce`, `/api/auth/verify`, ...). */
export const AUTH_PATH_PREFIX = "/api/auth/";

/** Header Cloudflare sets to the visitor's address; the rate limit is keyed on it. */
export const CLIENT_IP_HEADER = "CF-Connecting-IP";

/** The renewal marker's value until `edge.originCertRenewal` is first set. */
export const NO_RENEWAL_YET = "none";

/** Props of {@link EdgeStack}. */
export interface EdgeStackProps extends PlueStackProps {
  /** The environment's committed public certificates (`lib/public-certs.ts`). */
  readonly certs: PublicCerts;
}

/**
 * The `edge` stack: Cloudflare in front, a global external Application Load Balancer that
 * accepts only Cloudflare's client certificate (origin mTLS), Cloud Armor admitting only
 * Cloudflare's ranges, and the API's network endpoint groups behind it.
 *
 * Key material never enters the plan: the two private keys are read from Secret Manager at
 * apply time (data sources); the certificates in the plan are public. The Cloudflare
 * provider takes its token from `CLOUDFLARE_API_TOKEN` at apply time.
 * @see docs/adr/0008-origin-mtls.md
 */
export class EdgeStack extends PlueStack {
  /** The reserved global address the proxied DNS record points at. */
  readonly address: ComputeGlobalAddress;
  /** The origin load balancer. */
  readonly loadBalancer: OriginMtlsLoadBalancer;
  /** The Cloud Armor policy of its backend service. */
  readonly securityPolicy: CloudArmorSecurityPolicy;
  /** The Cloudflare Origin CA certificate the load balancer serves. */
  readonly originCertificate: OriginCaCertificate;
  /** The Cloudflare side. */
  readonly cloudflare: CloudflareZoneProtection;

  constructor(scope: Construct, id: string, props: EdgeStackProps) {
    super(scope, id, props);
    const { config, certs } = props;
    const n = names(config);
    const prefix = n.edgePrefix;

    // No credential in code or plan: the provider reads CLOUDFLARE_API_TOKEN at apply time.
    new CloudflareProvider(this, "cloudflare", {});

    const clientKey = new DataGoogleSecretManagerSecretVersion(this, "origin-client-key", {
      secret: secretId(config, EDGE_SECRETS.clientKey),
    });
    const originKey = new DataGoogleSecretManagerSecretVersion(this, "origin-key", { secret: secretId(config, EDGE_SECRETS.originKey) });

    this.address = new ComputeGlobalAddress(this, "address", {
      name: prefix,
      description: "The origin's address (Cloudflare's proxied record points here)",
      addressType: "EXTERNAL",
      ipVersion: "IPV4",
    });

    this.securityPolicy = new CloudArmorSecurityPolicy(this, "cloud-armor", {
      name: `${prefix}-cloudflare-only`,
      allowedSourceRanges: config.edge.cloudflareRanges.cidrs,
      sourceDescription: `Cloudflare (${config.edge.cloudflareRanges.source}, ${config.edge.cloudflareRanges.retrieved})`,
      rateLimit: {
        pathPrefix: AUTH_PATH_PREFIX,
        count: config.edge.authRateLimitPerMinute,
        intervalSec: 60,
        clientKeyHeader: CLIENT_IP_HEADER,
      },
    });

    // The API's standalone NEGs, one per zone, created by GKE from the Service annotation.
    const backends: Record<string, string> = {};
    for (const zone of [...config.project.zones].sort()) {
      backends[zone] = new DataGoogleComputeNetworkEndpointGroup(this, `api-neg-${zone}`, { name: K8S.apiNeg, zone }).selfLink;
    }

    const trustAnchors: Record<string, string> = {
      current: certs.caPem,
      ...(certs.nextCaPem !== undefined ? { next: certs.nextCaPem } : {}),
    };

    // The certificate the load balancer serves: Cloudflare's Origin CA signs our CSR (its key
    // stays in Secret Manager); Full (strict) trusts it.
    // Cloudflare's provider never renews it (update is a no-op): a new renewal marker replaces it,
    // and so does a new CSR (a new key); the new one is issued before the old one is revoked.
    const renewal = new TerraformData(this, "origin-certificate-renewal", {
      input: { renewal: config.edge.originCertRenewal ?? NO_RENEWAL_YET },
    });
    this.originCertificate = new OriginCaCertificate(this, "origin-certificate", {
      csr: certs.originCsrPem,
      // In the order the API returns them (sorted): hostnames is RequiresReplace and read back
      // from the API, so any other order replaces the certificate on every deploy
      // (cloudflare/terraform-provider-cloudflare#6239, #5392).
      hostnames: [...config.pki.originHostnames].sort(),
      requestType: "origin-rsa",
      requestedValidity: config.edge.originCertValidityDays,
      // A plain address (Terraform reads replace_triggered_by as references, like depends_on).
      lifecycle: { createBeforeDestroy: true, replaceTriggeredBy: [dependable(renewal)] },
    });

    this.loadBalancer = new OriginMtlsLoadBalancer(this, "origin-lb", {
      namePrefix: prefix,
      address: this.address.address,
      certificatePem: this.originCertificate.certificate,
      privateKeyPem: originKey.secretData,
      trustAnchors,
      backends,
      port: config.api.port,
      healthCheckPath: config.api.healthPath,
      securityPolicy: this.securityPolicy.policy.id,
      responseHeaders: SECURITY_HEADERS,
    });

    // One AOP certificate, two while a rotation is under way (client-next.pem), each keyed by its
    // fingerprint so it keeps its resource from upload to retirement (docs/adr/0016).
    const clientCertificates: Record<string, string> = {};
    for (const pem of [certs.clientPem, certs.nextClientPem]) if (pem !== undefined) clientCertificates[certificateId(pem)] = pem;

    this.cloudflare = new CloudflareZoneProtection(this, "cloudflare-zone", {
      zoneId: config.edge.cloudflareZoneId,
      domain: config.edge.domain,
      originAddress: this.address.address,
      clientCertificates,
      clientPrivateKey: clientKey.secretData,
      // A certificate of a new CA is uploaded only after the TrustConfig holds that CA.
      uploadAfter: [this.loadBalancer.trustConfig],
      originReady: [this.loadBalancer.forwardingRule],
    });

    // Load balancer proxies and health checks reach the API pods (container-native load
    // balancing: packets are addressed to pod IPs on the API port).
    new ComputeFirewall(this, "allow-lb-to-api", {
      name: n.lbToApiFirewall,
      description: "Google front ends and health checks to the API pods (standalone NEGs)",
      network: networkId(config),
      direction: "INGRESS",
      priority: 1000,
      sourceRanges: [...GOOGLE_LB_RANGES],
      destinationRanges: [config.network.podCidr],
      targetServiceAccounts: [serviceAccountEmail(config, n.nodeServiceAccount)],
      allow: [{ protocol: "tcp", ports: [String(config.api.port)] }],
      logConfig: { metadata: "INCLUDE_ALL_METADATA" },
    });

    new TerraformOutput(this, "origin-address", { value: this.address.address });
  }
}

import { Fn } from "cdktf";
import { Construct } from "constructs";
import { CertificateManagerCertificate } from "@cdktf/provider-google/lib/certificate-manager-certificate";
import { CertificateManagerCertificateMap } from "@cdktf/provider-google/lib/certificate-manager-certificate-map";
import { CertificateManagerCertificateMapEntry } from "@cdktf/provider-google/lib/certificate-manager-certificate-map-entry";
import { CertificateManagerTrustConfig } from "@cdktf/provider-google/lib/certificate-manager-trust-config";
import { NetworkSecurityServerTlsPolicy } from "@cdktf/provider-google/lib/network-security-server-tls-policy";
import { ComputeSslPolicy } from "@cdktf/provider-google/lib/compute-ssl-policy";
import { ComputeHealthCheck } from "@cdktf/provider-google/lib/compute-health-check";
import { ComputeBackendService } from "@cdktf/provider-google/lib/compute-backend-service";
import { ComputeUrlMap } from "@cdktf/provider-google/lib/compute-url-map";
import { ComputeTargetHttpsProxy } from "@cdktf/provider-google/lib/compute-target-https-proxy";
import { ComputeGlobalForwardingRule } from "@cdktf/provider-google/lib/compute-global-forwarding-rule";

/** Props of {@link OriginMtlsLoadBalancer}. */
export interface OriginMtlsLoadBalancerProps {
  /** Prefix of every resource name (`<prefix>-<part>`). */
  readonly namePrefix: string;
  /** The reserved global IPv4 address the HTTPS listener uses (its IP). */
  readonly address: string;
  /** The certificate the load balancer serves (PEM; may be a reference, e.g. Cloudflare's Origin CA certificate). */
  readonly certificatePem: string;
  /**
   * Its private key: a reference resolved at apply time (a Secret Manager data source or a
   * sensitive variable), never literal key text. It is read when the served certificate is
   * created (a new certificate replaces it); a change of the key alone is ignored, so the next
   * key may be stored before the certificate for it exists.
   */
  readonly privateKeyPem: string;
  /**
   * CA certificates (normalised PEM) that client certificates must chain to, keyed by a
   * stable slot name (e.g. `current`, `next` during a CA rotation). Anchors appear in the
   * TrustConfig in key order.
   */
  readonly trustAnchors: Readonly<Record<string, string>>;
  /** Backends: network endpoint group self links keyed by a stable name (the zone). */
  readonly backends: Readonly<Record<string, string>>;
  /** The port the endpoints serve on and the health check probes. */
  readonly port: number;
  /** Path the health check requests (must answer 200). */
  readonly healthCheckPath: string;
  /** The Cloud Armor security policy (id) attached to the backend service. */
  readonly securityPolicy: string;
  /**
   * Headers the load balancer adds to every response, by name.
   * @default - none
   */
  readonly responseHeaders?: Readonly<Record<string, string>>;
  /**
   * Target requests per second per endpoint (`balancing_mode = "RATE"`).
   * @default 100
   */
  readonly maxRatePerEndpoint?: number;
  /**
   * Backend timeout, in seconds.
   * @default 30
   */
  readonly timeoutSec?: number;
}

/**
 * A global external Application Load Balancer (`EXTERNAL_MANAGED`) that serves HTTPS on one
 * reserved address and **requires a client certificate** from a CA we own (frontend mTLS):
 * - the served certificate is a self-managed Certificate Manager certificate, attached
 *   through a certificate map (global `EXTERNAL_MANAGED` target proxies take a map; the
 *   proxy's `certificate_manager_certificates` list applies to `INTERNAL_MANAGED` only in
 *   provider 6.50);
 * - a `ServerTlsPolicy` with `client_validation_mode = "REJECT_INVALID"` and a Certificate
 *   Manager `TrustConfig` holding the CA(s): a connection without a valid client certificate
 *   fails in the TLS handshake, before any HTTP is read;
 * - an SSL policy `RESTRICTED` with TLS 1.2 minimum; QUIC off (every connection takes the
 *   TCP + TLS path where the client certificate is checked);
 * - one backend service (HTTP to the endpoints, Cloud Armor attached, logging on, security
 *   response headers) with one `RATE` backend per network endpoint group, and an HTTP health
 *   check on the serving port.
 * It listens on 443 only; there is no HTTP (port 80) listener to redirect.
 * @see https://cloud.google.com/load-balancing/docs/https/setting-up-mtls-global-ext-https
 * @see https://cloud.google.com/load-balancing/docs/mtls
 * @see https://cloud.google.com/certificate-manager/docs/trust-configs
 */
export class OriginMtlsLoadBalancer extends Construct {
  /** The TrustConfig holding the client CA anchors. */
  readonly trustConfig: CertificateManagerTrustConfig;
  /** The mTLS policy of the HTTPS proxy. */
  readonly serverTlsPolicy: NetworkSecurityServerTlsPolicy;
  /** The SSL policy of the HTTPS proxy. */
  readonly sslPolicy: ComputeSslPolicy;
  /** The served certificate. */
  readonly certificate: CertificateManagerCertificate;
  /** The backend service. */
  readonly backendService: ComputeBackendService;
  /** The HTTPS proxy. */
  readonly proxy: ComputeTargetHttpsProxy;
  /** The HTTPS listener (port 443). */
  readonly forwardingRule: ComputeGlobalForwardingRule;

  constructor(scope: Construct, id: string, props: OriginMtlsLoadBalancerProps) {
    super(scope, id);
    const p = props.namePrefix;
    const where = `OriginMtlsLoadBalancer ${p}`;
    const anchors = Object.keys(props.trustAnchors).sort();
    if (anchors.length === 0)
      throw new Error(`${where}: 'trustAnchors' is empty (got {}). Pass the client CA certificate, or every client is rejected.`);
    const backends = Object.keys(props.backends).sort();
    if (backends.length === 0) throw new Error(`${where}: 'backends' is empty (got {}). Pass one network endpoint group per zone.`);

    // The certificate is ForceNew and the map entry uses it: a new certificate gets a new name
    // (from its own text, at apply time) and is created before the old one goes, so the entry
    // switches in place and the listener always serves one (docs/adr/0010, item 4). The key is
    // ignored on its own (a replacement still takes the configured one, docs/adr/0016): a new
    // origin key goes into Secret Manager before the CSR that needs it is deployed.
    this.certificate = new CertificateManagerCertificate(this, "certificate", {
      name: `${p}-origin-${Fn.substr(Fn.sha256(props.certificatePem), 0, 8)}`,
      description: "Origin certificate (Cloudflare Origin CA) served to Cloudflare",
      scope: "DEFAULT",
      selfManaged: { pemCertificate: props.certificatePem, pemPrivateKey: props.privateKeyPem },
      lifecycle: { createBeforeDestroy: true, ignoreChanges: ["self_managed[0].pem_private_key"] },
    });
    const map = new CertificateManagerCertificateMap(this, "certificate-map", {
      name: p,
      description: "Certificates of the origin listener",
    });
    new CertificateManagerCertificateMapEntry(this, "certificate-map-entry", {
      name: `${p}-primary`,
      description: "Served for every SNI name (Cloudflare connects with the origin hostname)",
      map: map.name,
      matcher: "PRIMARY",
      certificates: [this.certificate.id],
    });

    this.trustConfig = new CertificateManagerTrustConfig(this, "trust-config", {
      name: `${p}-client-ca`,
      location: "global",
      description: `Client CA(s) of origin mTLS: ${anchors.join(", ")}`,
      trustStores: [{ trustAnchors: anchors.map((k) => ({ pemCertificate: props.trustAnchors[k] as string })) }],
    });

    this.serverTlsPolicy = new NetworkSecurityServerTlsPolicy(this, "server-tls-policy", {
      name: `${p}-mtls`,
      location: "global",
      description: "Reject any connection without a client certificate from our CA",
      mtlsPolicy: { clientValidationMode: "REJECT_INVALID", clientValidationTrustConfig: this.trustConfig.id },
    });

    this.sslPolicy = new ComputeSslPolicy(this, "ssl-policy", {
      name: `${p}-restricted`,
      description: "TLS 1.2+ with the RESTRICTED cipher profile",
      profile: "RESTRICTED",
      minTlsVersion: "TLS_1_2",
    });

    const healthCheck = new ComputeHealthCheck(this, "health-check", {
      name: `${p}-api`,
      description: "HTTP health check of the API endpoints",
      checkIntervalSec: 10,
      timeoutSec: 5,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
      httpHealthCheck: { port: props.port, requestPath: props.healthCheckPath },
    });

    const headers = props.responseHeaders ?? {};
    this.backendService = new ComputeBackendService(this, "backend-service", {
      name: `${p}-api`,
      description: "The API's network endpoint groups",
      loadBalancingScheme: "EXTERNAL_MANAGED",
      protocol: "HTTP",
      timeoutSec: props.timeoutSec ?? 30,
      connectionDrainingTimeoutSec: 30,
      healthChecks: [healthCheck.id],
      securityPolicy: props.securityPolicy,
      customResponseHeaders: Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      logConfig: { enable: true, sampleRate: 1 },
      backend: backends.map((key) => ({
        group: props.backends[key] as string,
        balancingMode: "RATE",
        maxRatePerEndpoint: props.maxRatePerEndpoint ?? 100,
        capacityScaler: 1,
      })),
    });

    const urlMap = new ComputeUrlMap(this, "url-map", {
      name: p,
      description: "Everything to the API",
      defaultService: this.backendService.id,
    });

    this.proxy = new ComputeTargetHttpsProxy(this, "https-proxy", {
      name: `${p}-https`,
      urlMap: urlMap.id,
      certificateMap: `//certificatemanager.googleapis.com/${map.id}`,
      serverTlsPolicy: this.serverTlsPolicy.id,
      sslPolicy: this.sslPolicy.id,
      quicOverride: "DISABLE",
    });

    this.forwardingRule = new ComputeGlobalForwardingRule(this, "https-forwarding-rule", {
      name: `${p}-https`,
      loadBalancingScheme: "EXTERNAL_MANAGED",
      ipProtocol: "TCP",
      ipAddress: props.address,
      portRange: "443",
      target: this.proxy.id,
    });
  }
}

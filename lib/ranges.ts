/**
 * Published address ranges the policies allow, each with its source. Kept in one place so a
 * reviewer can check them against the source in one read.
 */

/**
 * Anthropic's API ingress ranges (api.anthropic.com).
 * @see https://docs.anthropic.com/en/api/ip-addresses
 */
export const ANTHROPIC_API_RANGES = ["160.79.104.0/23", "2607:6bc0::/48"] as const;

/** The DNS name runner pods may reach (FQDNNetworkPolicy). */
export const ANTHROPIC_API_HOST = "api.anthropic.com";

/**
 * Google Front End and health-check ranges: where the external Application Load Balancer's
 * proxies and its health checks connect from (container-native load balancing, standalone NEGs).
 * @see https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges
 */
export const GOOGLE_LB_RANGES = ["35.191.0.0/16", "130.211.0.0/22"] as const;

/**
 * private.googleapis.com and restricted.googleapis.com VIPs (Private Google Access).
 * @see https://cloud.google.com/vpc/docs/configure-private-google-access#domain-options
 */
export const GOOGLE_API_VIPS = ["199.36.153.8/30", "199.36.153.4/30"] as const;

/** The GKE metadata server (Workload Identity tokens), port 80. */
export const METADATA_SERVER_IP = "169.254.169.254";

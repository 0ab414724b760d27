/**
 * The secrets the plan itself depends on, and who may consume a secret: shared by the config
 * schema's rules and by the names and props derived from a valid config.
 */

/**
 * Who reads a configured secret: the API, the schema Job, the runners' egress gateway (through
 * External Secrets), or Terraform at apply time (edge, data).
 */
export const SECRET_CONSUMERS = ["api", "migrate", "egress", "edge", "data"] as const;

/** A consumer of a configured secret. */
export type SecretConsumer = (typeof SECRET_CONSUMERS)[number];

/** The secret Terraform writes the Cloud SQL private IP into (not a secret value); no configured secret may take its name. */
export const HOST_SECRET = "db-host";

/** The configured secret that holds the database user's password. */
export const DB_PASSWORD_SECRET = "db-password";

/** Secret Manager secrets (by config name) whose values Terraform reads at apply time in the edge stack. */
export const EDGE_SECRETS = {
  /** Private key of the origin-pull client certificate (uploaded to Cloudflare). */
  clientKey: "origin-client-key",
  /** Private key of the origin certificate (served by the load balancer). */
  originKey: "origin-key",
} as const;

/**
 * The Anthropic API key. Only the egress gateway reads it (consumer `egress`, and nothing else):
 * runners reach the API through the gateway, which adds the key; whoever else could read it could
 * hand it to a runner.
 */
export const ANTHROPIC_KEY_SECRET = "anthropic-api-key";

/** The only consumer whose Secret carries environment variables (`secrets.items.*.env`). */
export const ENV_CONSUMER = "api";

/** Consumers that build the database connection string, and so read the database host secret too. */
export const DATABASE_CONSUMERS = ["api", "migrate"] as const;

/** Environment variable names the External Secrets template writes itself. */
export const RESERVED_SECRET_ENVS = ["DATABASE_HOST", "DATABASE_URL"] as const;

/**
 * Secrets the plan cannot do without, and the consumers each must list: the connection string
 * of the API and the schema Job, the Anthropic API key of the egress gateway, and the two private
 * keys the edge stack reads at apply.
 */
export const REQUIRED_SECRETS: Readonly<Record<string, readonly SecretConsumer[]>> = {
  [DB_PASSWORD_SECRET]: ["api", "migrate", "data"],
  [ANTHROPIC_KEY_SECRET]: ["egress"],
  [EDGE_SECRETS.clientKey]: ["edge"],
  [EDGE_SECRETS.originKey]: ["edge"],
};

/**
 * Admission rules that keep credentials and DNS out of runner pods: the runner admission policy
 * (runner-sandbox chart) adds them to its validations. A runner reaches the Anthropic API only
 * through the egress gateway, which holds the key; so a runner pod may reference no Secret and
 * no service-account token in any form, and may not resolve names (DNS is an exfiltration
 * channel: `<data>.attacker.example`).
 *
 * The expressions use the policy's variable `containers` (every container and init container of
 * the pod), which the runner policy defines.
 * @see https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
 */

/** The only nameserver a runner pod may list: its own loopback, where nothing answers. */
export const RUNNER_DNS_NAMESERVER = "127.0.0.1";

/** A CEL validation and the message the API server returns when it is false. */
export interface AdmissionRule {
  readonly expression: string;
  readonly message: string;
}

/**
 * Volume sources a runner pod may use: scratch space and non-secret projections. Everything else
 * is refused — `secret`, `projected` secret or service-account-token sources, and the sources
 * that can carry credentials or data from outside (`csi`, e.g. the Secret Manager CSI driver;
 * `persistentVolumeClaim`, `ephemeral`, `hostPath`, network filesystems).
 */
const ALLOWED_VOLUME =
  "has(v.emptyDir) || has(v.configMap) || has(v.downwardAPI) || " +
  "(has(v.projected) && (!has(v.projected.sources) || v.projected.sources.all(s, has(s.configMap) || has(s.downwardAPI))))";

/** The rules, each a separate validation so a denial names the way the pod tried. */
export const RUNNER_SECRET_RULES: readonly AdmissionRule[] = [
  {
    expression: "variables.containers.all(c, !has(c.env) || c.env.all(e, !has(e.valueFrom) || !has(e.valueFrom.secretKeyRef)))",
    message: "runner containers must not read a Secret into an environment variable (env valueFrom.secretKeyRef)",
  },
  {
    expression: "variables.containers.all(c, !has(c.envFrom) || c.envFrom.all(e, !has(e.secretRef)))",
    message: "runner containers must not load a Secret into the environment (envFrom secretRef)",
  },
  {
    expression: "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.secret))",
    message: "runner pods must not mount a Secret volume",
  },
  {
    expression:
      "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.projected) || !has(v.projected.sources) || " +
      "v.projected.sources.all(s, !has(s.secret) && !has(s.serviceAccountToken)))",
    message: "runner pods must not project a Secret or a service-account token into a volume",
  },
  {
    expression: `!has(object.spec.volumes) || object.spec.volumes.all(v, ${ALLOWED_VOLUME})`,
    message: "runner pods may only use emptyDir, configMap, downwardAPI and (configMap or downwardAPI) projected volumes",
  },
  {
    expression: "has(object.spec.dnsPolicy) && object.spec.dnsPolicy == 'None'",
    message: "runner pods must set dnsPolicy: None (no cluster DNS)",
  },
  {
    expression: `has(object.spec.dnsConfig) && has(object.spec.dnsConfig.nameservers) && object.spec.dnsConfig.nameservers.all(n, n == '${RUNNER_DNS_NAMESERVER}')`,
    message: `runner pods must list no nameserver but ${RUNNER_DNS_NAMESERVER} (dnsConfig.nameservers)`,
  },
];

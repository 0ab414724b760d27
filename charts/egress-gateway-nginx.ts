/**
 * The egress gateway's nginx configuration, as a pure function of its settings. Stock nginx
 * (no Lua, no njs): every rule here is a core directive of nginx 1.22 (Debian bookworm, which the
 * tests run) and later.
 *
 * What it does, in request order:
 * 1. `map` over the raw request line (`$request_method $request_uri`, before any normalisation):
 *    only the allowlisted method + path pairs (optionally with a query string) are proxied;
 *    anything else is answered 403 in the rewrite phase, before the body is read or the
 *    upstream is touched. Matching the raw URI means `/v1/messages/../models`, `//`, `%2F` or a
 *    different case never reach a normalised allowed path.
 * 2. `limit_req` per source address (the runner pod's IP: ClusterIP traffic is not SNATed).
 * 3. `client_max_body_size`, with request buffering ON: the whole body is read and its size
 *    checked before anything is sent upstream, so an oversized chunked body gets 413 without a
 *    byte forwarded (with `proxy_request_buffering off` nginx would already have streamed part
 *    of it). Responses are NOT buffered (`proxy_buffering off`): SSE events reach the client as
 *    the upstream sends them.
 * 4. Every credential header a client sends is dropped (`Authorization`, `Proxy-Authorization`,
 *    `Cookie`) and `x-api-key` is replaced by the gateway's own, from an included file that
 *    External Secrets renders (see {@link API_KEY_INCLUDE}). nginx does not pass a client header
 *    whose name (case-insensitively) it sets itself.
 * 5. TLS to the upstream: verified against the trusted roots (the image's system bundle in
 *    production), SNI and name check for `api.anthropic.com`, TLS 1.2+.
 *
 * Name resolution: the upstream's name is resolved once, when nginx starts (an `upstream`
 * block; the pod's resolver, i.e. kube-dns, which the gateway's egress policy allows). Runtime
 * re-resolution would need either a `resolver` with a hard-coded DNS server address and a
 * variable `proxy_pass` (which loses upstream keep-alive), or `server ... resolve` (nginx >=
 * 1.27.3, not in Debian's nginx that the tests run). Anthropic publishes its API addresses as
 * stable; if they change, restart the gateway (`kubectl rollout restart`), as for a key rotation.
 *
 * Paths: relative paths (pid, temp files) are relative to nginx's prefix (`-p`, the pod's
 * writable `/tmp`); the key include is relative to the configuration's own directory (`-c`).
 * There is no `user` directive: the master runs as the pod's non-root user and the workers
 * with it.
 * @see https://nginx.org/en/docs/http/ngx_http_proxy_module.html
 * @see https://nginx.org/en/docs/http/ngx_http_limit_req_module.html
 */
import { ANTHROPIC_API_HOST } from "../lib/ranges.ts";

/** One allowed request: an HTTP method and an exact path (a query string is allowed after it). */
export interface GatewayRoute {
  /** Upper-case HTTP method, e.g. `POST`. */
  readonly method: string;
  /** Exact path, e.g. `/v1/messages`; letters, digits, `/`, `_`, `-` and `.` only. */
  readonly path: string;
}

/** Where nginx connects for the API, and what it trusts there. */
export interface GatewayUpstream {
  /** Host name or IP address nginx connects to (resolved once at start). */
  readonly address: string;
  /** TCP port. */
  readonly port: number;
  /** PEM file of the trusted root certificates (absolute, or relative to the configuration's directory). */
  readonly trustedCertificate: string;
}

/** The system roots of the nginx image (Debian and Alpine both keep the bundle here). */
export const SYSTEM_TRUST_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** The production upstream: `api.anthropic.com:443`, verified against the system roots. */
export const ANTHROPIC_UPSTREAM: GatewayUpstream = { address: ANTHROPIC_API_HOST, port: 443, trustedCertificate: SYSTEM_TRUST_BUNDLE };

/**
 * The include file that sets the API key header, relative to the configuration's directory:
 * the Secret (written by External Secrets, key {@link API_KEY_FILE}) is mounted in a sibling
 * directory of the ConfigMap holding `nginx.conf`.
 */
export const API_KEY_DIR = "key";
/** Name of the include file (and of the Secret's key) that sets the API key header. */
export const API_KEY_FILE = "upstream-auth.conf";
/** The include path as nginx.conf names it. */
export const API_KEY_INCLUDE = `../${API_KEY_DIR}/${API_KEY_FILE}`;

/** Path of the health endpoint on the health port. */
export const HEALTH_PATH = "/healthz";

/** Settings of the gateway's nginx. */
export interface NginxConfProps {
  /**
   * Address nginx listens on.
   * @default - all addresses
   */
  readonly listenAddress?: string;
  /** Port the runners connect to (plain HTTP inside the cluster). */
  readonly port: number;
  /** Port of the health endpoint (probes only; not in the Service). */
  readonly healthPort: number;
  /** nginx worker processes (`auto` would count the node's CPUs, not the pod's limit). */
  readonly workerProcesses: number;
  /** The allowlist: every other method or path is refused with 403. */
  readonly routes: readonly GatewayRoute[];
  /** Largest request body, in MiB (`client_max_body_size`); larger gets 413. */
  readonly maxBodyMegabytes: number;
  /** Requests per minute per source address, and the burst allowed above it; beyond gets 429. */
  readonly rateLimit: { readonly requestsPerMinute: number; readonly burst: number };
  /** Longest wait between two reads from the upstream (a long generation, an SSE stream). */
  readonly upstreamReadTimeoutSeconds: number;
  /**
   * The upstream.
   * @default ANTHROPIC_UPSTREAM
   */
  readonly upstream?: GatewayUpstream;
}

const PATH = /^\/[A-Za-z0-9._/-]*$/;
const METHOD = /^[A-Z]+$/;
/** Characters allowed in an address or a file name written into the configuration. */
const TOKEN = /^[A-Za-z0-9._:/[\]-]+$/;

/**
 * Checks the settings that are written into the configuration text, all at once.
 * @throws Error naming every bad field (a value that could break out of its directive included)
 */
function check(props: NginxConfProps, upstream: GatewayUpstream): void {
  const errors: string[] = [];
  const bad = (field: string, problem: string, got: unknown, fix: string) =>
    errors.push(`egress gateway: '${field}' ${problem} (got ${JSON.stringify(got)}). ${fix}`);
  const port = (field: string, v: number) => {
    if (!Number.isInteger(v) || v < 1 || v > 65535) bad(field, "is not a TCP port", v, "Use an integer from 1 to 65535.");
  };
  const positive = (field: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) bad(field, "is not a positive integer", v, "Use a whole number of at least 1.");
  };
  port("port", props.port);
  port("healthPort", props.healthPort);
  if (props.port === props.healthPort) bad("healthPort", "equals 'port'", props.healthPort, "Give the health endpoint its own port.");
  port("upstream.port", upstream.port);
  positive("workerProcesses", props.workerProcesses);
  positive("maxBodyMegabytes", props.maxBodyMegabytes);
  positive("rateLimit.requestsPerMinute", props.rateLimit.requestsPerMinute);
  if (!Number.isInteger(props.rateLimit.burst) || props.rateLimit.burst < 0) {
    bad("rateLimit.burst", "is not a whole number", props.rateLimit.burst, "Use 0 or more.");
  }
  positive("upstreamReadTimeoutSeconds", props.upstreamReadTimeoutSeconds);
  if (props.listenAddress !== undefined && !TOKEN.test(props.listenAddress)) {
    bad("listenAddress", "is not an address", props.listenAddress, "Use an IP address, or leave it out to listen on all.");
  }
  if (!TOKEN.test(upstream.address)) bad("upstream.address", "is not a host name or address", upstream.address, "Use a DNS name or IP.");
  if (!TOKEN.test(upstream.trustedCertificate)) {
    bad("upstream.trustedCertificate", "is not a plain file path", upstream.trustedCertificate, "Use a path without spaces or quotes.");
  }
  if (props.routes.length === 0) bad("routes", "is empty", [], "Allow at least one method and path, e.g. POST /v1/messages.");
  const seen = new Set<string>();
  props.routes.forEach((r, i) => {
    if (!METHOD.test(r.method)) bad(`routes[${i}].method`, "is not an upper-case HTTP method", r.method, "Use e.g. POST.");
    if (!PATH.test(r.path)) {
      bad(`routes[${i}].path`, "is not an exact path", r.path, "Use a path of letters, digits, '/', '_', '-' and '.', starting with '/'.");
    }
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) bad(`routes[${i}]`, "repeats an earlier route", key, "List each method and path once.");
    seen.add(key);
  });
  if (errors.length > 0) throw new Error(errors.join("\n"));
}

/** The `map` pattern of one route: the raw request line, exact path, optional query string. */
function routePattern(route: GatewayRoute): string {
  return `"~^${route.method} ${route.path.replaceAll(".", "\\.")}(\\?[^ ]*)?$"`;
}

/** A JSON error body in the Anthropic API's own shape, so clients show a readable reason. */
function errorBody(type: string, message: string): string {
  return `'${JSON.stringify({ type: "error", error: { type, message: `egress gateway: ${message}` } })}'`;
}

/** Fields of every access-log line: no header, no body, no query string. */
export const ACCESS_LOG_FIELDS = [
  "time",
  "client",
  "method",
  "path",
  "status",
  "bytes_sent",
  "request_length",
  "duration",
  "upstream_status",
  "upstream_duration",
] as const;

/**
 * Renders `nginx.conf` for the egress gateway.
 * @throws Error when a setting is out of range or could break out of its directive
 */
export function nginxConf(props: NginxConfProps): string {
  const upstream = props.upstream ?? ANTHROPIC_UPSTREAM;
  check(props, upstream);
  const listen = (port: number) => (props.listenAddress === undefined ? `${port}` : `${props.listenAddress}:${port}`);
  const routes = props.routes.map((r) => `        ${routePattern(r)} 1;`).join("\n");
  const readTimeout = `${props.upstreamReadTimeoutSeconds}s`;

  return `# Egress gateway for runner pods (generated by plue-infra; do not edit).
# Only upstream: ${ANTHROPIC_API_HOST}. Only allowlisted methods and paths. The API key comes from
# an included file rendered by External Secrets; clients' credentials are dropped.
daemon off;
pid nginx.pid;
worker_processes ${props.workerProcesses};
error_log stderr warn;

events {
    worker_connections 1024;
}

http {
    server_tokens off;
    default_type application/json;

    # Writable paths, relative to the prefix (-p, the pod's /tmp emptyDir).
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;

    # One JSON line per request: no header, no body, no query string.
    log_format gateway escape=json '{"time":"$time_iso8601","client":"$remote_addr","method":"$request_method","path":"$uri",'
                                   '"status":$status,"bytes_sent":$body_bytes_sent,"request_length":$request_length,'
                                   '"duration":$request_time,"upstream_status":"$upstream_status","upstream_duration":"$upstream_response_time"}';
    access_log off;

    client_header_timeout 10s;
    client_body_timeout 60s;
    send_timeout 60s;
    keepalive_timeout 65s;
    ignore_invalid_headers on;
    underscores_in_headers off;

    # The allowlist, on the raw request line (before nginx normalises the path).
    map "$request_method $request_uri" $gateway_route_allowed {
        default 0;
${routes}
    }

    limit_req_zone $binary_remote_addr zone=gateway_per_client:10m rate=${props.rateLimit.requestsPerMinute}r/m;
    limit_req_status 429;
    limit_req_log_level warn;

    upstream anthropic {
        # Resolved once at start (see the chart's documentation).
        server ${upstream.address}:${upstream.port};
        keepalive 16;
        keepalive_timeout 60s;
    }

    server {
        listen ${listen(props.port)} default_server;
        server_name _;
        access_log /dev/stdout gateway;

        client_max_body_size ${props.maxBodyMegabytes}m;
        client_body_buffer_size 1m;

        error_page 413 @too_large;
        error_page 429 @rate_limited;
        error_page 502 @bad_gateway;
        error_page 504 @gateway_timeout;

        location / {
            if ($gateway_route_allowed = 0) {
                return 403 ${errorBody("permission_error", "method or path not allowed")};
            }
            limit_req zone=gateway_per_client burst=${props.rateLimit.burst} nodelay;

            proxy_pass https://anthropic;
            proxy_http_version 1.1;

            # TLS to the upstream: verified chain, SNI and name check.
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate ${upstream.trustedCertificate};
            proxy_ssl_verify_depth 3;
            proxy_ssl_server_name on;
            proxy_ssl_name ${ANTHROPIC_API_HOST};
            proxy_ssl_protocols TLSv1.2 TLSv1.3;
            proxy_ssl_session_reuse on;

            # Whole body first (size checked before anything is forwarded); response streamed.
            proxy_request_buffering on;
            proxy_buffering off;
            proxy_cache off;
            proxy_connect_timeout 10s;
            proxy_send_timeout 60s;
            proxy_read_timeout ${readTimeout};
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;

            # Headers: the gateway's key replaces the client's; other credentials are dropped.
            # (Every proxy_set_header of this location is here: none is inherited from above.)
            proxy_set_header Host ${ANTHROPIC_API_HOST};
            proxy_set_header Connection "";
            proxy_set_header Authorization "";
            proxy_set_header Proxy-Authorization "";
            proxy_set_header Cookie "";
            proxy_set_header Forwarded "";
            proxy_set_header X-Forwarded-For "";
            proxy_set_header X-Real-IP "";
            include ${API_KEY_INCLUDE};
        }

        location @too_large {
            return 413 ${errorBody("request_too_large", `request body over ${props.maxBodyMegabytes} MiB`)};
        }
        location @rate_limited {
            return 429 ${errorBody("rate_limit_error", "too many requests from this runner")};
        }
        location @bad_gateway {
            return 502 ${errorBody("api_error", "upstream unreachable or its certificate refused")};
        }
        location @gateway_timeout {
            return 504 ${errorBody("timeout_error", "upstream timed out")};
        }
    }

    server {
        listen ${listen(props.healthPort)};
        server_name _;
        location = ${HEALTH_PATH} {
            return 200 '{"status":"ok"}';
        }
        location / {
            return 404 '{"status":"not found"}';
        }
    }
}
`;
}

/**
 * The Go template (External Secrets engine v2, Sprig functions) that renders the include file
 * from the API key `.<keyField>`: the key is trimmed and must be a plain token (letters, digits,
 * `_`, `-`, 20 to 256 characters), or the sync fails and the Secret keeps its last good value —
 * a value with a quote, `;`, `$` or a newline could otherwise break out of the directive.
 * @see https://external-secrets.io/latest/guides/templating/
 */
export function apiKeyIncludeTemplate(keyField: string): string {
  return [
    `{{- $key := .${keyField} | trim -}}`,
    `{{- if not (regexMatch "^[A-Za-z0-9_-]{20,256}$" $key) -}}`,
    `{{- fail "the Anthropic API key is not a plain token (letters, digits, '_' and '-', 20 to 256 characters)" -}}`,
    "{{- end -}}",
    "# Rendered by External Secrets from Secret Manager. Never log or print this file.",
    'proxy_set_header x-api-key "{{ $key }}";',
    "",
  ].join("\n");
}

/**
 * Decodes a libpq connection URI (`postgresql://user:password@host:port/dbname?param=value`)
 * into the libpq environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
 * PGSSLMODE, ...) that psql reads, so a URL never has to reach a command line.
 *
 * It follows libpq's own URI grammar (PostgreSQL docs, "Connection URIs";
 * `conninfo_uri_parse_options` in fe-connect.c) rather than the WHATWG URL parser, because the
 * two disagree where it matters here: libpq takes several `host:port` pairs separated by commas
 * (WHATWG rejects them), does not read `+` as a space in the query, and keeps an opaque host
 * (a percent-encoded Unix-socket directory such as `%2Fvar%2Frun%2Fpostgresql`) that WHATWG
 * would refuse or re-encode.
 *
 * - `postgresql://` or `postgres://` (lowercase, as libpq compares them);
 * - `user[:password]@` when an `@` comes before the first `/`;
 * - hosts: `host`, `host:port`, `[IPv6]`, `[IPv6]:port`, comma-separated; a percent-encoded
 *   absolute path is a socket directory; an empty host means libpq's default;
 * - `/dbname`;
 * - `?key=value&...` for every connection parameter that has an environment variable
 *   (`host=/var/run/postgresql` for a socket, `sslmode=verify-full`, `ssl=true` = sslmode
 *   require, as libpq accepts); a parameter without one is refused, naming it.
 * Every part is percent-decoded (UTF-8); `%00` and malformed escapes are refused.
 *
 * Errors never show a part of the URL: in a malformed URL a password with a raw `/` or `@` can
 * land in the host, the port or the database name, so {@link LibpqUrlError} says what kind of
 * thing was found, never its text (parameter names excepted).
 */

/** Connection parameters that libpq also reads from an environment variable. */
export const PARAMETER_ENV: Readonly<Record<string, string>> = {
  host: "PGHOST",
  hostaddr: "PGHOSTADDR",
  port: "PGPORT",
  dbname: "PGDATABASE",
  user: "PGUSER",
  password: "PGPASSWORD",
  passfile: "PGPASSFILE",
  require_auth: "PGREQUIREAUTH",
  channel_binding: "PGCHANNELBINDING",
  service: "PGSERVICE",
  options: "PGOPTIONS",
  application_name: "PGAPPNAME",
  sslmode: "PGSSLMODE",
  requiressl: "PGREQUIRESSL",
  sslnegotiation: "PGSSLNEGOTIATION",
  sslcompression: "PGSSLCOMPRESSION",
  sslcert: "PGSSLCERT",
  sslkey: "PGSSLKEY",
  sslcertmode: "PGSSLCERTMODE",
  sslrootcert: "PGSSLROOTCERT",
  sslcrl: "PGSSLCRL",
  sslcrldir: "PGSSLCRLDIR",
  sslsni: "PGSSLSNI",
  requirepeer: "PGREQUIREPEER",
  ssl_min_protocol_version: "PGSSLMINPROTOCOLVERSION",
  ssl_max_protocol_version: "PGSSLMAXPROTOCOLVERSION",
  gssencmode: "PGGSSENCMODE",
  krbsrvname: "PGKRBSRVNAME",
  gsslib: "PGGSSLIB",
  gssdelegation: "PGGSSDELEGATION",
  connect_timeout: "PGCONNECT_TIMEOUT",
  client_encoding: "PGCLIENTENCODING",
  target_session_attrs: "PGTARGETSESSIONATTRS",
  load_balance_hosts: "PGLOADBALANCEHOSTS",
};

/** Every variable {@link libpqUrlToEnv} may set. */
export const LIBPQ_ENV_NAMES: readonly string[] = [...new Set(Object.values(PARAMETER_ENV))].sort();

/** A URL libpq would not accept, or a parameter that has no environment variable. */
export class LibpqUrlError extends Error {
  constructor(
    /** What is wrong, e.g. `has a non-numeric port`. */
    readonly problem: string,
    /** What was found, safe to print (never the password). */
    readonly got: string,
    /** How to fix it. */
    readonly fix: string,
  ) {
    super(`${problem} (got ${got}). ${fix}`);
    this.name = "LibpqUrlError";
  }
}

/** Percent-decodes one part of the URL; `what` names it in errors (and whether it may be shown). */
function decode(text: string, what: string): string {
  const shown = `the ${what}, not shown`;
  if (/%(?![0-9a-fA-F]{2})/.test(text)) {
    throw new LibpqUrlError(`has an invalid percent-encoding in the ${what}`, shown, "Write a '%' as %25.");
  }
  if (/%00/.test(text)) throw new LibpqUrlError(`encodes a NUL character (%00) in the ${what}`, shown, "Remove it.");
  try {
    return decodeURIComponent(text);
  } catch {
    throw new LibpqUrlError(
      `has a percent-encoding that is not UTF-8 in the ${what}`,
      shown,
      "Percent-encode the UTF-8 bytes of each character.",
    );
  }
}

/**
 * The libpq environment variables of `url`: only the parts the URL gives (libpq's defaults and
 * any variables already set apply to the rest, as they would for the URL itself).
 * @throws LibpqUrlError when libpq would refuse the URL, or a parameter has no variable
 */
export function libpqUrlToEnv(url: string): Record<string, string> {
  const scheme = /^(postgresql|postgres):\/\//.exec(url);
  if (scheme === null) {
    const prefix = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1];
    throw new LibpqUrlError(
      "is not a postgresql:// URL",
      prefix === undefined ? "no scheme" : `a ${prefix}: URL`,
      "Start it with postgresql:// (or postgres://).",
    );
  }
  let rest = url.slice(scheme[0].length);
  const env: Record<string, string> = {};
  const set = (name: string, value: string): void => {
    if (value !== "") env[name] = value;
  };

  // [user[:password]@]: libpq looks for '@' before the first '/'.
  const at = /^[^@/]*@/.exec(rest);
  if (at !== null) {
    const userinfo = at[0].slice(0, -1);
    rest = rest.slice(at[0].length);
    const colon = userinfo.indexOf(":");
    set("PGUSER", decode(colon < 0 ? userinfo : userinfo.slice(0, colon), "user name"));
    if (colon >= 0) set("PGPASSWORD", decode(userinfo.slice(colon + 1), "password"));
  }

  // host[:port][,host[:port]...] up to '/' or '?'
  const netloc = /^[^/?]*/.exec(rest)?.[0] ?? "";
  rest = rest.slice(netloc.length);
  const hosts: string[] = [];
  const ports: string[] = [];
  for (const entry of netloc.split(",")) {
    let host: string;
    let port = "";
    if (entry.startsWith("[")) {
      const close = entry.indexOf("]");
      if (close < 0) throw new LibpqUrlError("has an unterminated [IPv6] host", "a host starting with '['", "Close the address with ']'.");
      host = entry.slice(1, close);
      if (host === "") throw new LibpqUrlError("has an empty [IPv6] host", "[]", "Put the address between the brackets.");
      const after = entry.slice(close + 1);
      if (after !== "") {
        if (!after.startsWith(":")) {
          throw new LibpqUrlError("has text after an [IPv6] host", "neither ':' nor the end after ']'", "Write [address]:port.");
        }
        port = after.slice(1);
      }
    } else {
      const colon = entry.indexOf(":");
      host = colon < 0 ? entry : entry.slice(0, colon);
      port = colon < 0 ? "" : entry.slice(colon + 1);
    }
    host = decode(host, "host");
    port = decode(port, "port");
    if (port !== "" && !/^\d{1,5}$/.test(port)) {
      throw new LibpqUrlError(
        "has a non-numeric port",
        `a port of ${port.length} characters, not shown`,
        "Give the port as a number, e.g. :5432; percent-encode '/', '@' and ':' in a password.",
      );
    }
    if (port !== "" && (Number(port) < 1 || Number(port) > 65535)) {
      throw new LibpqUrlError(
        "has a port outside 1-65535",
        "a number out of range, not shown",
        "Give the port the server listens on, e.g. :5432.",
      );
    }
    hosts.push(host);
    ports.push(port);
  }
  if (hosts.some((h) => h !== "")) set("PGHOST", hosts.join(","));
  if (ports.some((p) => p !== "")) set("PGPORT", ports.join(","));

  // [/dbname][?params]
  let query = "";
  if (rest.startsWith("/")) {
    const q = rest.indexOf("?");
    set("PGDATABASE", decode(q < 0 ? rest.slice(1) : rest.slice(1, q), "database name"));
    query = q < 0 ? "" : rest.slice(q + 1);
  } else if (rest.startsWith("?")) {
    query = rest.slice(1);
  }

  for (const pair of query.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq < 0) throw new LibpqUrlError("has a query parameter without a value", "a parameter without '='", "Write key=value.");
    if (pair.indexOf("=", eq + 1) >= 0) {
      throw new LibpqUrlError(
        "has a query parameter with two '='",
        `parameter ${JSON.stringify(pair.slice(0, eq))}`,
        "Percent-encode '=' in a value as %3D.",
      );
    }
    let key = decode(pair.slice(0, eq), "query");
    let value = decode(pair.slice(eq + 1), `'${key}' parameter`);
    if (key === "ssl") {
      if (value !== "true")
        throw new LibpqUrlError("has ssl set to something other than true", "another value, not shown", "Use ssl=true or sslmode=<mode>.");
      key = "sslmode";
      value = "require";
    }
    const name = PARAMETER_ENV[key];
    if (name === undefined) {
      throw new LibpqUrlError(
        "has a connection parameter that has no environment variable",
        `parameter ${JSON.stringify(key)}`,
        "Set it in a service file (PGSERVICE) or drop it; parameters with a PG* variable are accepted.",
      );
    }
    set(name, value);
  }
  return env;
}

/**
 * lib/libpq-url.ts: every part of a libpq connection URI decoded into its PG* variable, and
 * every way a URL can be refused, without the error showing a part of the URL.
 * (test/db/migrate.test.ts checks the same decoding against libpq itself, through psql.)
 */
import { describe, expect, it } from "vitest";
import { LIBPQ_ENV_NAMES, LibpqUrlError, libpqUrlToEnv, PARAMETER_ENV } from "../../lib/libpq-url.ts";

describe("libpqUrlToEnv decodes", () => {
  it("every component of a full URL", () => {
    expect(libpqUrlToEnv("postgresql://plue_app:hunter2@db.internal:6432/plue?sslmode=verify-full&application_name=migrate")).toEqual({
      PGUSER: "plue_app",
      PGPASSWORD: "hunter2",
      PGHOST: "db.internal",
      PGPORT: "6432",
      PGDATABASE: "plue",
      PGSSLMODE: "verify-full",
      PGAPPNAME: "migrate",
    });
  });

  it("postgres:// like postgresql://", () => {
    expect(libpqUrlToEnv("postgres://u@h/d")).toEqual({ PGUSER: "u", PGHOST: "h", PGDATABASE: "d" });
  });

  it("only what the URL gives (libpq's defaults and the environment fill the rest)", () => {
    expect(libpqUrlToEnv("postgresql://")).toEqual({});
    expect(libpqUrlToEnv("postgresql://localhost")).toEqual({ PGHOST: "localhost" });
    expect(libpqUrlToEnv("postgresql://localhost/")).toEqual({ PGHOST: "localhost" });
    expect(libpqUrlToEnv("postgresql:///plue")).toEqual({ PGDATABASE: "plue" });
    expect(libpqUrlToEnv("postgresql://:5433")).toEqual({ PGPORT: "5433" });
    expect(libpqUrlToEnv("postgresql://user@")).toEqual({ PGUSER: "user" });
    expect(libpqUrlToEnv("postgresql://user:@h")).toEqual({ PGUSER: "user", PGHOST: "h" });
    expect(libpqUrlToEnv("postgresql://:secret@h")).toEqual({ PGPASSWORD: "secret", PGHOST: "h" });
  });

  it("percent-encoded passwords: reserved characters, '%', '+', spaces, UTF-8", () => {
    const password = "p@ss:w/rd?#&=+%é 😀";
    const url = `postgresql://u:${encodeURIComponent(password)}@h/d`;
    expect(libpqUrlToEnv(url).PGPASSWORD).toBe(password);
    // '+' is a plus, not a space (libpq is not a form decoder)
    expect(libpqUrlToEnv("postgresql://u:a+b@h").PGPASSWORD).toBe("a+b");
    // a ':' after the first one belongs to the password
    expect(libpqUrlToEnv("postgresql://u:a:b@h").PGPASSWORD).toBe("a:b");
  });

  it("percent-encoded user names, database names and parameter values", () => {
    expect(libpqUrlToEnv("postgresql://%C3%A9mile@h/my%20db?options=-c%20search_path%3Dplue")).toEqual({
      PGUSER: "émile",
      PGHOST: "h",
      PGDATABASE: "my db",
      PGOPTIONS: "-c search_path=plue",
    });
  });

  it("IPv6 hosts in brackets, with and without a port", () => {
    expect(libpqUrlToEnv("postgresql://[::1]/d")).toEqual({ PGHOST: "::1", PGDATABASE: "d" });
    expect(libpqUrlToEnv("postgresql://[2001:db8::1234]:5433/d")).toEqual({ PGHOST: "2001:db8::1234", PGPORT: "5433", PGDATABASE: "d" });
    expect(libpqUrlToEnv("postgresql://u:pw@[fe80::1%25eth0]:5432")).toEqual({
      PGUSER: "u",
      PGPASSWORD: "pw",
      PGHOST: "fe80::1%eth0",
      PGPORT: "5432",
    });
  });

  it("several hosts, each with or without a port", () => {
    expect(libpqUrlToEnv("postgresql://h1:5432,[::1]:5433,h3/d?target_session_attrs=read-write")).toEqual({
      PGHOST: "h1,::1,h3",
      PGPORT: "5432,5433,",
      PGDATABASE: "d",
      PGTARGETSESSIONATTRS: "read-write",
    });
    expect(libpqUrlToEnv("postgresql://h1,h2")).toEqual({ PGHOST: "h1,h2" });
  });

  it("Unix-socket directories: percent-encoded in the host, or as the host= parameter", () => {
    expect(libpqUrlToEnv("postgresql://%2Fvar%2Frun%2Fpostgresql/plue")).toEqual({ PGHOST: "/var/run/postgresql", PGDATABASE: "plue" });
    expect(libpqUrlToEnv("postgresql:///plue?host=/var/run/postgresql&port=5433")).toEqual({
      PGHOST: "/var/run/postgresql",
      PGPORT: "5433",
      PGDATABASE: "plue",
    });
    // a query parameter given after the host part wins, as in libpq
    expect(libpqUrlToEnv("postgresql://tcp-host/plue?host=%2Ftmp")).toEqual({ PGHOST: "/tmp", PGDATABASE: "plue" });
  });

  it("query parameters without a path, empty ones skipped, ssl=true as sslmode=require", () => {
    expect(libpqUrlToEnv("postgresql://h?sslmode=require&&connect_timeout=5&")).toEqual({
      PGHOST: "h",
      PGSSLMODE: "require",
      PGCONNECT_TIMEOUT: "5",
    });
    expect(libpqUrlToEnv("postgresql://h/d?ssl=true")).toEqual({ PGHOST: "h", PGDATABASE: "d", PGSSLMODE: "require" });
    expect(libpqUrlToEnv("postgresql://h/d?password=from%40query&user=q")).toEqual({
      PGHOST: "h",
      PGDATABASE: "d",
      PGPASSWORD: "from@query",
      PGUSER: "q",
    });
  });

  it("every parameter that has a PG* variable", () => {
    for (const [key, name] of Object.entries(PARAMETER_ENV)) {
      expect(libpqUrlToEnv(`postgresql://h?${key}=v`), key).toEqual(key === "host" ? { PGHOST: "v" } : { PGHOST: "h", [name]: "v" });
    }
    expect(LIBPQ_ENV_NAMES.every((n) => /^PG[A-Z_]+$/.test(n))).toBe(true);
    expect(LIBPQ_ENV_NAMES).toContain("PGSSLROOTCERT");
  });
});

describe("libpqUrlToEnv refuses, without showing the URL", () => {
  const secret = "Sup3rS3cret";
  const cases: [string, string, string][] = [
    ["mysql://root:Sup3rS3cret@db/app", "is not a postgresql:// URL", "a mysql: URL"],
    ["Sup3rS3cret", "is not a postgresql:// URL", "no scheme"],
    ["POSTGRESQL://u:Sup3rS3cret@h/d", "is not a postgresql:// URL", "a POSTGRESQL: URL"],
    ["postgresql://u:Sup3rS3cret%zz@h/d", "has an invalid percent-encoding in the password", "the password, not shown"],
    ["postgresql://u:Sup3rS3cret%@h/d", "has an invalid percent-encoding in the password", "the password, not shown"],
    ["postgresql://u:Sup3rS3cret%00@h/d", "encodes a NUL character (%00) in the password", "the password, not shown"],
    ["postgresql://u:Sup3rS3cret%FF@h/d", "has a percent-encoding that is not UTF-8 in the password", "the password, not shown"],
    ["postgresql://u:pw@h:Sup3rS3cret/d", "has a non-numeric port", "a port of 11 characters, not shown"],
    // a raw '/' in the password moves it into the port: still not shown
    ["postgresql://u:Sup3r/S3cret@h/d", "has a non-numeric port", "a port of 5 characters, not shown"],
    ["postgresql://u:pw@h:70000/d", "has a port outside 1-65535", "a number out of range, not shown"],
    ["postgresql://u:pw@h:0/d", "has a port outside 1-65535", "a number out of range, not shown"],
    ["postgresql://u:pw@[::1/d", "has an unterminated [IPv6] host", "a host starting with '['"],
    ["postgresql://u:pw@[]:5432/d", "has an empty [IPv6] host", "[]"],
    ["postgresql://u:pw@[::1]x/d", "has text after an [IPv6] host", "neither ':' nor the end after ']'"],
    ["postgresql://u:pw@h/d?Sup3rS3cret", "has a query parameter without a value", "a parameter without '='"],
    ["postgresql://u:pw@h/d?password=a=Sup3rS3cret", "has a query parameter with two '='", 'parameter "password"'],
    ["postgresql://u:pw@h/d?ssl=Sup3rS3cret", "has ssl set to something other than true", "another value, not shown"],
    ["postgresql://u:pw@h/d?keepalives=1", "has a connection parameter that has no environment variable", 'parameter "keepalives"'],
    [
      "postgresql://u:pw@h/d?password=Sup3rS3cret%G0",
      "has an invalid percent-encoding in the 'password' parameter",
      "the 'password' parameter, not shown",
    ],
  ];
  it.each(cases)("%s", (url, problem, got) => {
    let error: unknown;
    try {
      libpqUrlToEnv(url);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LibpqUrlError);
    const e = error as LibpqUrlError;
    expect(e.problem).toBe(problem);
    expect(e.got).toBe(got);
    expect(e.fix).toMatch(/^[A-Z].*\.$/);
    expect(e.message).toBe(`${problem} (got ${got}). ${e.fix}`);
    expect(e.message).not.toContain(secret);
    expect(e.message).not.toContain(secret.slice(0, 5));
  });
});

/**
 * Schema semantics, on a real PostgreSQL server: the constraints the security
 * design relies on hold in the database itself, not just in application code.
 *
 * The migrations are applied once (by the real runner) to a template
 * database; each test gets a fresh copy of it.
 */
import { DatabaseError } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { runShell, uniqueDbName, withClient } from "./helpers.ts";

const TEMPLATE = "schema_template";
const CONSUME_NONCE = "UPDATE siwe_nonces SET used_at = now() WHERE nonce = $1 AND used_at IS NULL AND expires_at > now() RETURNING *";

let server: TestPostgres;

beforeAll(async () => {
  server = await startPostgres();
  const url = await server.createDatabase(TEMPLATE);
  const result = await runShell(url);
  if (result.code !== 0) throw new Error(`migrations failed:\n${result.stdout}${result.stderr}`);
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

function freshDb(): Promise<string> {
  return server.createDatabase(uniqueDbName("schema"), { template: TEMPLATE });
}

/** Awaits `promise`, which must fail with a PostgreSQL error; returns it. */
async function pgError(promise: Promise<unknown>): Promise<DatabaseError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DatabaseError) return err;
    throw err;
  }
  throw new Error("expected the statement to fail");
}

const WALLET_A = `0x${"a1".repeat(20)}`;
const WALLET_B = `0x${"b2".repeat(20)}`;
const FINGERPRINT = `SHA256:${"A".repeat(43)}`;
const TOKEN_HASH = "f".repeat(64);
const SESSION_KEY = "k".repeat(43);

async function insertUser(client: import("pg").Client, wallet: string): Promise<number> {
  const result = await client.query<{ id: string }>("INSERT INTO users (wallet_address) VALUES ($1) RETURNING id", [wallet]);
  return Number(result.rows[0]?.id);
}

describe("siwe_nonces", () => {
  it("a nonce can be consumed exactly once", async () => {
    await withClient(await freshDb(), async (client) => {
      await client.query("INSERT INTO siwe_nonces (nonce, wallet_address) VALUES ($1, $2)", ["n0nce12345678", WALLET_A]);
      const first = await client.query(CONSUME_NONCE, ["n0nce12345678"]);
      expect(first.rowCount).toBe(1);
      expect(first.rows[0]).toMatchObject({ nonce: "n0nce12345678", wallet_address: WALLET_A });
      const second = await client.query(CONSUME_NONCE, ["n0nce12345678"]);
      expect(second.rowCount).toBe(0);
      const unknown = await client.query(CONSUME_NONCE, ["neverissued1"]);
      expect(unknown.rowCount).toBe(0);
    });
  });

  it("an expired nonce cannot be consumed", async () => {
    await withClient(await freshDb(), async (client) => {
      await client.query(
        "INSERT INTO siwe_nonces (nonce, created_at, expires_at) VALUES ($1, now() - interval '10 minutes', now() - interval '5 minutes')",
        ["expired12345"],
      );
      const result = await client.query(CONSUME_NONCE, ["expired12345"]);
      expect(result.rowCount).toBe(0);
      const row = await client.query<{ used_at: Date | null }>("SELECT used_at FROM siwe_nonces WHERE nonce = $1", ["expired12345"]);
      expect(row.rows[0]?.used_at).toBeNull();
    });
  });

  it("defaults to a 5-minute lifetime and refuses longer or non-positive ones", async () => {
    await withClient(await freshDb(), async (client) => {
      const ttl = await client.query<{ seconds: string }>(
        "INSERT INTO siwe_nonces (nonce) VALUES ('defaultttl1') RETURNING extract(epoch FROM expires_at - created_at) AS seconds",
      );
      expect(Number(ttl.rows[0]?.seconds)).toBe(300);

      const tooLong = await pgError(
        client.query("INSERT INTO siwe_nonces (nonce, expires_at) VALUES ('toolong1234', now() + interval '6 minutes')"),
      );
      expect(tooLong.code).toBe("23514");
      expect(tooLong.constraint).toBe("siwe_nonces_ttl_at_most_5_minutes");

      const notAfter = await pgError(client.query("INSERT INTO siwe_nonces (nonce, expires_at) VALUES ('equal123456', now())"));
      expect(notAfter.code).toBe("23514");
      expect(notAfter.constraint).toBe("siwe_nonces_expires_after_created");
    });
  });

  it("rejects duplicate and malformed nonces", async () => {
    await withClient(await freshDb(), async (client) => {
      await client.query("INSERT INTO siwe_nonces (nonce) VALUES ('dup12345678')");
      expect((await pgError(client.query("INSERT INTO siwe_nonces (nonce) VALUES ('dup12345678')"))).code).toBe("23505");
      expect((await pgError(client.query("INSERT INTO siwe_nonces (nonce) VALUES ('short')"))).constraint).toBe("siwe_nonces_nonce_format");
    });
  });
});

describe("users", () => {
  it("requires a unique lowercase wallet address and keeps updated_at current", async () => {
    await withClient(await freshDb(), async (client) => {
      const id = await insertUser(client, WALLET_A);
      expect((await pgError(insertUser(client, WALLET_A))).code).toBe("23505");
      const upper = await pgError(insertUser(client, `0x${"A1".repeat(20)}`));
      expect(upper.code).toBe("23514");
      expect(upper.constraint).toBe("users_wallet_address_format");
      expect((await pgError(insertUser(client, "0x1234"))).code).toBe("23514");

      await client.query("UPDATE users SET username = 'alice' WHERE id = $1", [id]);
      const row = await client.query<{ changed: boolean }>("SELECT updated_at > created_at AS changed FROM users WHERE id = $1", [id]);
      expect(row.rows[0]?.changed).toBe(true);

      const other = await insertUser(client, WALLET_B);
      const clash = await pgError(client.query("UPDATE users SET username = 'Alice' WHERE id = $1", [other]));
      expect(clash.code).toBe("23505"); // usernames are unique regardless of case
    });
  });
});

describe("credentials belong to a user", () => {
  it("auth_sessions and access_tokens refuse expires_at <= created_at", async () => {
    await withClient(await freshDb(), async (client) => {
      const user = await insertUser(client, WALLET_A);
      const session = await pgError(
        client.query("INSERT INTO auth_sessions (session_key, user_id, expires_at) VALUES ($1, $2, now() - interval '1 second')", [
          SESSION_KEY,
          user,
        ]),
      );
      expect(session.code).toBe("23514");
      expect(session.constraint).toBe("auth_sessions_expires_after_created");

      const token = await pgError(
        client.query("INSERT INTO access_tokens (user_id, token_hash, expires_at) VALUES ($1, $2, now())", [user, TOKEN_HASH]),
      );
      expect(token.code).toBe("23514");
      expect(token.constraint).toBe("access_tokens_expires_after_created");
    });
  });

  it("rejects duplicate ssh key fingerprints and duplicate token hashes, even across users", async () => {
    await withClient(await freshDb(), async (client) => {
      const a = await insertUser(client, WALLET_A);
      const b = await insertUser(client, WALLET_B);
      const key = "INSERT INTO ssh_keys (user_id, title, public_key, fingerprint) VALUES ($1, $2, $3, $4)";
      await client.query(key, [a, "laptop", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG alice@laptop", FINGERPRINT]);
      const dupKey = await pgError(client.query(key, [b, "stolen", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG", FINGERPRINT]));
      expect(dupKey.code).toBe("23505");
      expect(dupKey.constraint).toBe("ssh_keys_fingerprint_key");

      const token = "INSERT INTO access_tokens (user_id, token_hash, scopes, expires_at) VALUES ($1, $2, $3, now() + interval '30 days')";
      await client.query(token, [a, TOKEN_HASH, JSON.stringify(["repo:read"])]);
      const dupToken = await pgError(client.query(token, [b, TOKEN_HASH, JSON.stringify([])]));
      expect(dupToken.code).toBe("23505");
      expect(dupToken.constraint).toBe("access_tokens_token_hash_key");

      const session = "INSERT INTO auth_sessions (session_key, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')";
      await client.query(session, [SESSION_KEY, a]);
      expect((await pgError(client.query(session, [SESSION_KEY, b]))).code).toBe("23505");
    });
  });

  it("token scopes must be a JSON array of strings", async () => {
    await withClient(await freshDb(), async (client) => {
      const user = await insertUser(client, WALLET_A);
      const insert = (hash: string, scopes: string): Promise<unknown> =>
        client.query(
          "INSERT INTO access_tokens (user_id, token_hash, scopes, expires_at) VALUES ($1, $2, $3::jsonb, now() + interval '1 day')",
          [user, hash, scopes],
        );
      await insert("1".repeat(64), '["repo:read", "repo:write"]');
      await insert("2".repeat(64), "[]");
      const object = await pgError(insert("3".repeat(64), '{"repo": "read"}'));
      expect(object.code).toBe("23514");
      expect(object.constraint).toBe("access_tokens_scopes_is_array");
      const scalar = await pgError(insert("4".repeat(64), '"repo:read"'));
      expect(scalar.constraint).toBe("access_tokens_scopes_is_array");
      const numbers = await pgError(insert("5".repeat(64), "[1, 2]"));
      expect(numbers.constraint).toBe("access_tokens_scopes_are_strings");
      const plaintext = await pgError(insert("not-a-sha256", "[]"));
      expect(plaintext.constraint).toBe("access_tokens_token_hash_format");
    });
  });

  it("deleting a user removes its sessions, tokens and ssh keys, and only those", async () => {
    await withClient(await freshDb(), async (client) => {
      const a = await insertUser(client, WALLET_A);
      const b = await insertUser(client, WALLET_B);
      for (const [user, n] of [
        [a, 1],
        [b, 2],
      ] as const) {
        await client.query("INSERT INTO auth_sessions (session_key, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')", [
          `${SESSION_KEY}${n}`,
          user,
        ]);
        await client.query("INSERT INTO access_tokens (user_id, token_hash, expires_at) VALUES ($1, $2, now() + interval '1 day')", [
          user,
          String(n).repeat(64),
        ]);
        await client.query("INSERT INTO ssh_keys (user_id, title, public_key, fingerprint) VALUES ($1, 'key', $2, $3)", [
          user,
          `ssh-ed25519 AAAA${n}`,
          `SHA256:${String(n).repeat(43)}`,
        ]);
      }

      await client.query("DELETE FROM users WHERE id = $1", [a]);
      const counts = await client.query<{ table: string; user_id: string; n: string }>(`
        SELECT 'auth_sessions' AS table, user_id, count(*) AS n FROM auth_sessions GROUP BY user_id
        UNION ALL SELECT 'access_tokens', user_id, count(*) FROM access_tokens GROUP BY user_id
        UNION ALL SELECT 'ssh_keys', user_id, count(*) FROM ssh_keys GROUP BY user_id
        ORDER BY 1`);
      expect(counts.rows.map((r) => [r.table, Number(r.user_id), Number(r.n)])).toEqual([
        ["access_tokens", b, 1],
        ["auth_sessions", b, 1],
        ["ssh_keys", b, 1],
      ]);
    });
  });

  it("refuses credentials for a user that does not exist", async () => {
    await withClient(await freshDb(), async (client) => {
      const err = await pgError(
        client.query("INSERT INTO auth_sessions (session_key, user_id, expires_at) VALUES ($1, 424242, now() + interval '1 day')", [
          SESSION_KEY,
        ]),
      );
      expect(err.code).toBe("23503");
    });
  });
});

describe("indexes", () => {
  it("has indexes for the expiry sweeps and the foreign-key lookups", async () => {
    await withClient(await freshDb(), async (client) => {
      const result = await client.query<{ tablename: string; column: string }>(`
        SELECT i.tablename, a.attname AS column
          FROM pg_indexes i
          JOIN pg_class c ON c.relname = i.indexname
          JOIN pg_index x ON x.indexrelid = c.oid
          JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
         WHERE i.schemaname = 'public'`);
      const leading = new Set(result.rows.map((r) => `${r.tablename}.${r.column}`));
      for (const expected of [
        "siwe_nonces.expires_at",
        "auth_sessions.expires_at",
        "access_tokens.expires_at",
        "auth_sessions.user_id",
        "access_tokens.user_id",
        "ssh_keys.user_id",
        "auth_sessions.session_key",
        "access_tokens.token_hash",
        "ssh_keys.fingerprint",
        "users.wallet_address",
      ]) {
        expect(leading, expected).toContain(expected);
      }
    });
  });
});

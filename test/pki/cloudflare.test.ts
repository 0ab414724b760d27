/**
 * The Cloudflare check of `rotate client finish`, through the real SDK (npm `cloudflare`)
 * against a local HTTP server that answers `GET /zones/{zone_id}/origin_tls_client_auth` the
 * way the API documents it (the v4 envelope; each certificate with its `status`). The store is
 * a real one after `rotate client begin`; the command runs in-process with CLOUDFLARE_API_TOKEN
 * and CLOUDFLARE_BASE_URL pointing at the server.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cpSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { capture } from "../../app/cli/kit.ts";
import { main } from "../../app/pki-command.ts";
import { loadConfig } from "../../config/load.ts";
import { aopCertificateStatus } from "../../pki/cloudflare.ts";
import { PASSPHRASE, pki, REPO, type RunResult, tempDirs, writeStore } from "./helpers.ts";

const TOKEN = "test-token-not-a-secret-0123456789";
const ZONE = loadConfig("example").edge.cloudflareZoneId;

const dirs = tempDirs();
let begun: string;
let server: Server;
let baseUrl: string;
/**
 * What the server answers next: the statuses of the old and the new certificate (and of an
 * earlier upload of the new one, listed first), or an error.
 */
let answer: { kind: "list"; old: string; next: string | null; earlierNext?: string } | { kind: "error"; status: number } = {
  kind: "list",
  old: "active",
  next: null,
};
const requests: { method: string; url: string; authorization: string | undefined }[] = [];

const read = (path: string): string => readFileSync(path, "utf8");

function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }).map(String).sort()) {
    if (statSync(join(dir, name)).isFile()) out[name] = read(join(dir, name));
  }
  return out;
}

function copy(from: string): string {
  const dir = join(dirs.make(), "store");
  cpSync(from, dir, { recursive: true });
  return dir;
}

/** One element of the list as the API documents it. */
function element(id: string, certificate: string, status: string): Record<string, unknown> {
  return {
    id,
    certificate,
    enabled: true,
    status,
    expires_on: "2031-01-01T00:00:00Z",
    issuer: "Plue Example",
    signature: "SHA256WithRSA",
    uploaded_on: "2030-01-01T00:00:00Z",
  };
}

function respond(req: IncomingMessage): { status: number; body: unknown } {
  if (req.method !== "GET" || req.url !== `/client/v4/zones/${ZONE}/origin_tls_client_auth`) {
    return {
      status: 404,
      body: { success: false, errors: [{ code: 7003, message: "No route for that URI" }], messages: [], result: null },
    };
  }
  if (answer.kind === "error") {
    return {
      status: answer.status,
      // Echoes the credential it was sent, so a message that passed it through would show it.
      body: {
        success: false,
        errors: [{ code: 10000, message: `Authentication error for ${req.headers.authorization ?? ""}` }],
        messages: [],
        result: null,
      },
    };
  }
  const result = [element("0b1d0000000000000000000000000001", read(join(begun, "client.pem")), answer.old)];
  if (answer.earlierNext !== undefined)
    result.push(element("0b1d0000000000000000000000000003", read(join(begun, "client-next.pem")), answer.earlierNext));
  if (answer.next !== null) result.push(element("0b1d0000000000000000000000000002", read(join(begun, "client-next.pem")), answer.next));
  return { status: 200, body: { success: true, errors: [], messages: [], result } };
}

beforeAll(async () => {
  const base = join(dirs.make(), "base");
  await writeStore(base, new Date());
  const r = await pki(["rotate", "client", "begin", "--dir", base], PASSPHRASE);
  expect(r.code, r.stderr).toBe(0);
  begun = base;

  server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
    const { status, body } = respond(req);
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  dirs.cleanup();
});

/** `rotate client finish` on a copy of the begun store, asking the local server. */
async function finish(dir: string, extra: readonly string[] = []): Promise<RunResult> {
  return capture(main, ["rotate", "client", "finish", "--dir", dir, ...extra], {
    env: { CLOUDFLARE_API_TOKEN: TOKEN, CLOUDFLARE_BASE_URL: baseUrl },
    cwd: REPO,
  });
}

describe("aopCertificateStatus (the real SDK, a local API)", () => {
  it("asks GET /zones/{zone}/origin_tls_client_auth with the bearer token and finds the certificate by fingerprint", async () => {
    answer = { kind: "list", old: "active", next: "pending_deployment" };
    requests.length = 0;
    const status = await aopCertificateStatus({
      zoneId: ZONE,
      apiToken: TOKEN,
      baseUrl,
      certificatePem: read(join(begun, "client-next.pem")),
    });
    expect(requests).toEqual([{ method: "GET", url: `/client/v4/zones/${ZONE}/origin_tls_client_auth`, authorization: `Bearer ${TOKEN}` }]);
    expect(status).toEqual({
      id: "0b1d0000000000000000000000000002",
      status: "pending_deployment",
      zone: [
        { id: "0b1d0000000000000000000000000001", status: "active", expiresOn: "2031-01-01T00:00:00Z" },
        { id: "0b1d0000000000000000000000000002", status: "pending_deployment", expiresOn: "2031-01-01T00:00:00Z" },
      ],
    });
  });

  it("takes the active upload when the certificate is listed twice (an earlier one pending deletion)", async () => {
    answer = { kind: "list", old: "active", next: "active", earlierNext: "pending_deletion" };
    const status = await aopCertificateStatus({
      zoneId: ZONE,
      apiToken: TOKEN,
      baseUrl,
      certificatePem: read(join(begun, "client-next.pem")),
    });
    expect({ id: status.id, status: status.status }).toEqual({ id: "0b1d0000000000000000000000000002", status: "active" });
  });

  it("reports not-uploaded when no certificate of the zone has the fingerprint", async () => {
    answer = { kind: "list", old: "active", next: null };
    const status = await aopCertificateStatus({
      zoneId: ZONE,
      apiToken: TOKEN,
      baseUrl,
      certificatePem: read(join(begun, "client-next.pem")),
    });
    expect(status.id).toBeNull();
    expect(status.status).toBe("not-uploaded");
  });

  it("names the HTTP status and Cloudflare's error, never the token", async () => {
    answer = { kind: "error", status: 403 };
    const error = await aopCertificateStatus({
      zoneId: ZONE,
      apiToken: TOKEN,
      baseUrl,
      certificatePem: read(join(begun, "client-next.pem")),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      `cloudflare: the API answered 403 (10000 Authentication error for Bearer <token>) (zone ${ZONE}). Check CLOUDFLARE_API_TOKEN (SSL and Certificates Read on the zone) and edge.cloudflareZoneId, or confirm by hand and pass --confirmed-active.`,
    );
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it("names an unreachable API", async () => {
    const error = await aopCertificateStatus({
      zoneId: ZONE,
      apiToken: TOKEN,
      baseUrl: "http://127.0.0.1:1/client/v4",
      certificatePem: read(join(begun, "client-next.pem")),
      timeoutMs: 2000,
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^cloudflare: the API could not be reached \(/);
  });
});

describe("rotate client finish asks Cloudflare", () => {
  it("pending_deployment: refuses (exit 1), changes nothing", async () => {
    answer = { kind: "list", old: "active", next: "pending_deployment" };
    const dir = copy(begun);
    const before = contents(dir);
    const r = await finish(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "is not active yet at Cloudflare (got pending_deployment). Wait a few minutes and run this again; nothing was changed.",
    );
    expect(contents(dir)).toEqual(before);
  });

  it("deployment_timed_out: refuses (exit 1) with the way out, changes nothing", async () => {
    answer = { kind: "list", old: "active", next: "deployment_timed_out" };
    const dir = copy(begun);
    const before = contents(dir);
    const r = await finish(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Cloudflare's deployment of the next client certificate");
    expect(r.stderr).toContain(
      "timed out (got deployment_timed_out). Withdraw it and start over: npm run pki -- rotate client abort, deploy the edge stack",
    );
    expect(contents(dir)).toEqual(before);
  });

  it("not uploaded: refuses (exit 1) and says to deploy the edge stack first", async () => {
    answer = { kind: "list", old: "active", next: null };
    const dir = copy(begun);
    const before = contents(dir);
    const r = await finish(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Commit the public files and deploy the edge stack first");
    expect(contents(dir)).toEqual(before);
  });

  it("an API error: exit 1, the token never printed, nothing changed", async () => {
    answer = { kind: "error", status: 403 };
    const dir = copy(begun);
    const before = contents(dir);
    const r = await finish(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the API answered 403");
    expect(`${r.stdout}${r.stderr}`).not.toContain(TOKEN);
    expect(contents(dir)).toEqual(before);
  });

  it("active: finishes — the next certificate becomes client.pem", async () => {
    answer = { kind: "list", old: "active", next: "active" };
    const dir = copy(begun);
    const next = read(join(dir, "client-next.pem"));
    const r = await finish(dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("is active (Cloudflare id 0b1d0000000000000000000000000002)");
    expect(read(join(dir, "client.pem"))).toBe(next);
    expect(read(join(dir, "public", "client.pem"))).toBe(next);
  });

  it("no token and no --confirmed-active: usage error (exit 3), nothing asked, nothing changed", async () => {
    const dir = copy(begun);
    const before = contents(dir);
    requests.length = 0;
    const r = await capture(main, ["rotate", "client", "finish", "--dir", dir], { env: { CLOUDFLARE_BASE_URL: baseUrl }, cwd: REPO });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("'CLOUDFLARE_API_TOKEN' is not set (got nothing).");
    expect(requests).toEqual([]);
    expect(contents(dir)).toEqual(before);
  });
});

/**
 * The egress gateway as the plan renders it, run under a real nginx (Debian's package) on
 * loopback, in front of a local HTTPS server standing in for the Anthropic API.
 *
 * The chart is built from the example environment's props as the plan maps them (app/charts.ts),
 * checked first to synthesize exactly the plan's `egress-gateway` objects. Then only the chart's
 * documented test parameters change: the listen address and ports (loopback, free ports: a fixed
 * 8080 would collide with anything else on the machine) and the upstream (`proxy.upstream`: a
 * local address and a test CA made here with openssl; the upstream's certificate names
 * api.anthropic.com, exactly as the real one must). The rendered nginx.conf is checked to differ
 * from the plan's ConfigMap in exactly those lines; routes, body limit, rate limit, timeouts and
 * headers are the plan's. Nothing else is re-rendered: the key include comes from the
 * ExternalSecret's template, and the command line, mounts and file layout from the Deployment
 * (every mount path re-rooted under a temp directory). As root, nginx runs as `nobody`, the way
 * the pod runs it: a non-root master with no `user` directive.
 *
 * Each test uses its own client source address (127.0.0.x) so the per-source rate limit of one
 * test never touches another.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer as createHttpsServer, type Server } from "node:https";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { App } from "cdk8s";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chartProps } from "../../app/charts.ts";
import { readSchemaInputs } from "../../app/plan.ts";
import { EgressGatewayChart } from "../../charts/egress-gateway-chart.ts";
import { ACCESS_LOG_FIELDS } from "../../charts/egress-gateway-nginx.ts";
import { exampleConfig } from "../support/config.ts";
import { chart } from "../support/plan.ts";

/** The gateway's key, made for this run only (the shape of a real key, random). */
const KEY = `sk-ant-api03-${randomBytes(30).toString("base64url")}`;
/** Credentials a client tries to send; none may reach the upstream. */
const CLIENT_KEY = `sk-ant-client-${randomBytes(12).toString("hex")}`;
const CLIENT_TOKEN = `client-token-${randomBytes(12).toString("hex")}`;
/** A marker in request bodies: it must reach the upstream, and never the access log. */
const BODY_MARKER = `body-marker-${randomBytes(6).toString("hex")}`;
/** The gateway's props exactly as the plan maps them from config/example.yaml. */
const PLAN_PROPS = chartProps(exampleConfig(), readSchemaInputs()).egressGateway;
const MAX_BODY_MB = PLAN_PROPS.proxy.maxBodyMegabytes;
const RATE = PLAN_PROPS.proxy.rateLimit;
/** nobody:nogroup, the user nginx runs as when the test runs as root. */
const NOBODY = 65534;

interface Received {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: readonly string[];
  readonly headers: Record<string, string | string[] | undefined>;
  readonly servername: string | false;
  readonly body: string;
}

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

let dir: string;
let nginx: ChildProcess;
let nginxStderr = "";
let accessLog: string;
let proxyPort: number;
let upstreamPort: number;
let healthPort: number;
let upstream: Server;
const received: Received[] = [];
/** Requests the upstream began to receive (headers in), whether or not their body completed. */
let started = 0;
/** TLS handshakes the upstream saw (complete or failed). */
let handshakes = 0;
let pki: Record<"ca" | "good" | "otherName" | "rogue", { cert: string; key: string }>;
/** nginx.conf as the plan's ConfigMap holds it, and as this test runs it. */
let planConf: string;
let testConf: string;

/** SSE lockstep: the upstream sends event n+1 only once the client has seen event n. */
const sse = {
  seen: 0,
  waiters: new Map<number, () => void>(),
  timedOut: false,
  upstreamDone: false,
  saw(n: number): void {
    this.seen = Math.max(this.seen, n);
    for (const [k, resolve] of this.waiters) if (k <= this.seen) resolve();
  },
  until(n: number): Promise<boolean> {
    if (this.seen >= n) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      this.waiters.set(n, () => {
        clearTimeout(timer);
        this.waiters.delete(n);
        resolve(true);
      });
    });
  },
};
const SSE_EVENTS = [1, 2, 3].map((n) => `event: content_block_delta\ndata: {"n":${n}}\n\n`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Test PKI with openssl (one child process): a CA, leaves for api.anthropic.com and another name, and a rogue CA's leaf. */
function makePki(into: string): typeof pki {
  const script = `set -euo pipefail
cd "$1"
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
ca() { ec "$1"; openssl req -x509 -new -key "$1.key" -out "$1.pem" -subj "/CN=$2" -days 2 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign; }
leaf() { ec "$1"; openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth\\nsubjectAltName=DNS:%s\\n' "$2" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "0x$(openssl rand -hex 16 | sed 's/^./1/')" -days 1 -extfile "$1.ext" -out "$1.pem" 2>/dev/null; }
ca ca "Gateway Test CA"
ca rogueca "Rogue CA"
leaf good api.anthropic.com ca
leaf otherName other.example ca
leaf rogue api.anthropic.com rogueca
`;
  execFileSync("bash", ["-c", script, "pki", into], { stdio: ["ignore", "ignore", "pipe"] });
  const read = (name: string) => ({
    cert: readFileSync(join(into, `${name}.pem`), "utf8"),
    key: readFileSync(join(into, `${name}.key`), "utf8"),
  });
  return { ca: read("ca"), good: read("good"), otherName: read("otherName"), rogue: read("rogue") };
}

/** Serves `which` certificate to new connections (every response closes its connection, so each request handshakes anew). */
function presentCertificate(which: "good" | "otherName" | "rogue"): void {
  upstream.setSecureContext({ cert: pki[which].cert, key: pki[which].key });
}

async function startUpstream(): Promise<number> {
  upstream = createHttpsServer({ cert: pki.good.cert, key: pki.good.key }, (req, res) => {
    started++;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      received.push({
        method: req.method ?? "",
        url: req.url ?? "",
        rawHeaders: [...req.rawHeaders],
        headers: { ...req.headers },
        servername: (req.socket as TLSSocket & { servername?: string | false }).servername ?? false,
        body,
      });
      if (body.includes('"stream":true')) {
        // Close-delimited when asked (no chunked framing: nothing but nginx's buffering decides when bytes move).
        if (body.includes('"framing":"close"')) res.useChunkedEncodingByDefault = false;
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "close" });
        for (let i = 0; i < SSE_EVENTS.length; i++) {
          res.write(SSE_EVENTS[i]);
          if (i < SSE_EVENTS.length - 1 && !(await sse.until(i + 1))) {
            sse.timedOut = true;
            break;
          }
        }
        sse.upstreamDone = true;
        res.end();
        return;
      }
      const reply = JSON.stringify({ id: "msg_test", bytes: body.length });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(reply), connection: "close" });
      res.end(reply);
    });
  });
  upstream.on("secureConnection", () => {
    handshakes++;
  });
  upstream.on("tlsClientError", () => {
    handshakes++;
  });
  return new Promise((resolve) => upstream.listen(0, "127.0.0.1", () => resolve((upstream.address() as { port: number }).port)));
}

interface SendOptions {
  /** Last octet of the client's source address 127.0.0.x. */
  readonly source: number;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string | Buffer;
  /** Send the body as these chunks (Transfer-Encoding: chunked). */
  readonly chunks?: readonly Buffer[];
  readonly port?: number;
  readonly onData?: (chunk: Buffer) => void;
}

/** One request on a fresh connection from 127.0.0.<source>. Resolves on the response, even if the server stopped reading the body. */
function send(o: SendOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: o.port ?? proxyPort,
        localAddress: `127.0.0.${o.source}`,
        method: o.method ?? "POST",
        path: o.path ?? "/v1/messages",
        agent: false,
        headers: {
          "content-type": "application/json",
          "anthropic-version": "2023-06-01",
          ...(o.body !== undefined ? { "content-length": String(Buffer.byteLength(o.body)) } : {}),
          ...o.headers,
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => {
          parts.push(c);
          o.onData?.(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => {
      // nginx may answer 413 and close before the whole body is written: the response still counts.
      if (e.code !== "EPIPE" && e.code !== "ECONNRESET") reject(e);
    });
    if (o.chunks) {
      for (const c of o.chunks) req.write(c);
      req.end();
    } else {
      req.end(o.body);
    }
  });
}

const messageBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "claude-test", max_tokens: 16, messages: [{ role: "user", content: BODY_MARKER }], ...extra });

/** Header values of `name` (any case) in raw headers. */
function rawValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === name) out.push(raw[i + 1] ?? "");
  return out;
}

async function waitHealthy(): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited with ${nginx.exitCode}:\n${nginxStderr}`);
    try {
      const r = await send({ source: 1, method: "GET", path: "/healthz", port: healthPort });
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`nginx did not become healthy:\n${nginxStderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Obj = { kind: string; metadata: { name: string }; [k: string]: any };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "plue-gateway-"));
  mkdirSync(join(dir, "pki"));
  pki = makePki(join(dir, "pki"));
  upstreamPort = await startUpstream();
  [proxyPort, healthPort] = [await freePort(), await freePort()];

  // The plan's props give the plan's objects (so what runs below is the plan's gateway)...
  const planObjects = chart("egress-gateway");
  expect(new EgressGatewayChart(new App(), "egress-gateway", PLAN_PROPS).toJson()).toEqual(planObjects);
  // ...and only the documented test parameters change: listen address, ports, upstream.
  const gateway = new EgressGatewayChart(new App(), "egress-gateway", {
    ...PLAN_PROPS,
    proxy: {
      ...PLAN_PROPS.proxy,
      listenAddress: "127.0.0.1",
      port: proxyPort,
      healthPort,
      upstream: { address: "127.0.0.1", port: upstreamPort, trustedCertificate: join(dir, "pki", "ca.pem") },
    },
  });
  const objects = gateway.toJson() as Obj[];
  const one = (kind: string) => {
    const found = objects.filter((o) => o.kind === kind);
    expect(found, kind).toHaveLength(1);
    return found[0] as Obj;
  };
  planConf = (planObjects.find((o) => o.kind === "ConfigMap") as Obj).data["nginx.conf"];
  testConf = gateway.nginxConf;
  const deployment = one("Deployment");
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];

  // The pod's filesystem, re-rooted: each volume mount becomes <dir>/root/<mountPath>.
  const root = join(dir, "root");
  const reroot = (p: string) => (container.volumeMounts.some((m: any) => p.startsWith(m.mountPath)) ? join(root, p) : p);
  for (const mount of container.volumeMounts) {
    const target = join(root, mount.mountPath);
    mkdirSync(target, { recursive: true });
    const volume = pod.volumes.find((v: any) => v.name === mount.name);
    if (volume.configMap) {
      const cm = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === volume.configMap.name) as Obj;
      for (const [file, text] of Object.entries(cm.data as Record<string, string>)) writeFileSync(join(target, file), text);
    } else if (volume.secret) {
      // The Secret External Secrets would write: the template's keys, rendered for KEY.
      const es = objects.find((o) => o.kind === "ExternalSecret" && o.spec.target.name === volume.secret.secretName) as Obj;
      expect(es.spec.target.template.mergePolicy).toBe("Replace");
      for (const [file, template] of Object.entries(es.spec.target.template.data as Record<string, string>)) {
        writeFileSync(join(target, file), renderKeyTemplate(template, KEY), { mode: 0o600 });
      }
    } else {
      expect(volume.emptyDir, `volume ${mount.name}`).toBeDefined();
    }
  }
  const [command, ...args] = container.command as string[];
  accessLog = join(dir, "stdout.log");
  writeFileSync(accessLog, "");
  const asNobody = process.getuid?.() === 0;
  if (asNobody) chownTree(dir, NOBODY);
  const stdout = openSync(accessLog, "a");
  nginx = spawn(command as string, args.map(reroot), {
    stdio: ["ignore", stdout, "pipe"],
    // Debian installs nginx in /usr/sbin, which a non-root PATH may lack.
    env: { ...process.env, PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` },
    ...(asNobody ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  closeSync(stdout);
  nginx.stderr?.on("data", (c: Buffer) => {
    nginxStderr += c.toString("utf8");
  });
  nginx.on("error", (e) => {
    nginxStderr += `spawn failed: ${e.message} (is Debian's nginx installed? .ci/run installs it)\n`;
  });
  await waitHealthy();
});

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    const exited = new Promise((r) => nginx.once("exit", r));
    nginx.kill("SIGTERM");
    await exited;
  }
  await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function chownTree(path: string, id: number): void {
  execFileSync("chown", ["-R", `${id}:${id}`, path]);
}

/**
 * What External Secrets' template engine (Go text/template + Sprig) makes of the key template,
 * for a key its guard accepts. There is no Go here, so this checks the guard's own regex against
 * the key and applies the template's single substitution; the template text itself is pinned
 * whole in egress-gateway-chart.test.ts.
 */
function renderKeyTemplate(template: string, key: string): string {
  const guard = /regexMatch "([^"]+)" \$key/.exec(template)?.[1];
  expect(guard, "the template guards the key's shape").toBeDefined();
  expect(new RegExp(guard as string).test(key.trim())).toBe(true);
  const body = template
    .split("\n")
    .filter((line) => !line.startsWith("{{-"))
    .join("\n");
  expect(body.match(/\{\{/g)).toHaveLength(1);
  return body.replace("{{ $key }}", key.trim());
}

describe("egress gateway under nginx", () => {
  it("runs the plan's nginx.conf, changed only in the listen addresses and ports and the upstream's address and trust anchor", () => {
    const planLines = planConf.split("\n");
    const testLines = testConf.split("\n");
    expect(testLines).toHaveLength(planLines.length);
    const changed = planLines.flatMap((line, i) => (line === testLines[i] ? [] : [[line.trim(), testLines[i]?.trim()]]));
    expect(changed).toEqual([
      ["server api.anthropic.com:443;", `server 127.0.0.1:${upstreamPort};`],
      ["listen 8080 default_server;", `listen 127.0.0.1:${proxyPort} default_server;`],
      ["proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;", `proxy_ssl_trusted_certificate ${join(dir, "pki", "ca.pem")};`],
      ["listen 8081;", `listen 127.0.0.1:${healthPort};`],
    ]);
  });

  it("forwards an allowed request with the gateway's key, to api.anthropic.com (SNI and Host), body and query intact", async () => {
    const before = received.length;
    const body = messageBody();
    const r = await send({ source: 10, path: "/v1/messages?beta=true", body });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ id: "msg_test", bytes: body.length });
    expect(received).toHaveLength(before + 1);
    const got = received.at(-1) as Received;
    expect(got.method).toBe("POST");
    expect(got.url).toBe("/v1/messages?beta=true");
    expect(rawValues(got.rawHeaders, "x-api-key")).toEqual([KEY]);
    expect(got.headers.host).toBe("api.anthropic.com");
    expect(got.servername).toBe("api.anthropic.com");
    expect(got.headers["anthropic-version"]).toBe("2023-06-01");
    expect(got.body).toBe(body);
    // Nothing in the response reveals the key or the proxy's version.
    expect(JSON.stringify(r)).not.toContain(KEY);
    expect(String(r.headers.server ?? "")).not.toMatch(/[0-9]/);
  });

  it("forwards the second allowlisted route too", async () => {
    const before = received.length;
    const r = await send({ source: 11, path: "/v1/messages/count_tokens", body: messageBody() });
    expect(r.status).toBe(200);
    expect(received).toHaveLength(before + 1);
    expect(received.at(-1)?.url).toBe("/v1/messages/count_tokens");
  });

  it("drops every credential a client sends: its x-api-key (any case, repeated), Authorization, Proxy-Authorization, Cookie", async () => {
    const before = received.length;
    const r = await send({
      source: 12,
      body: messageBody(),
      headers: {
        "x-api-key": [CLIENT_KEY, `${CLIENT_KEY}-2`],
        "X-API-KEY": `${CLIENT_KEY}-3`,
        authorization: `Bearer ${CLIENT_TOKEN}`,
        "proxy-authorization": `Basic ${CLIENT_TOKEN}`,
        cookie: `session=${CLIENT_TOKEN}`,
        "x-forwarded-for": "203.0.113.9",
      },
    });
    expect(r.status).toBe(200);
    expect(received).toHaveLength(before + 1);
    const got = received.at(-1) as Received;
    expect(rawValues(got.rawHeaders, "x-api-key")).toEqual([KEY]);
    for (const h of ["authorization", "proxy-authorization", "cookie", "x-forwarded-for", "forwarded", "x-real-ip"]) {
      expect(rawValues(got.rawHeaders, h), h).toEqual([]);
    }
    expect(got.rawHeaders.join("\n")).not.toContain(CLIENT_KEY);
    expect(got.rawHeaders.join("\n")).not.toContain(CLIENT_TOKEN);
  });

  it("refuses (403, nothing forwarded) every method or path outside the allowlist, however it is spelled", async () => {
    const refused: [string, string][] = [
      ["GET", "/v1/messages"],
      ["PUT", "/v1/messages"],
      ["DELETE", "/v1/messages"],
      ["PATCH", "/v1/messages"],
      ["OPTIONS", "/v1/messages"],
      ["GET", "/v1/messages/count_tokens"],
      ["GET", "/v1/models"],
      ["POST", "/v1/models"],
      ["POST", "/v1/complete"],
      ["POST", "/v1/messages/batches"],
      ["GET", "/v1/messages/batches"],
      ["POST", "/v1/files"],
      ["POST", "/v1/messages/"],
      ["POST", "/V1/messages"],
      ["POST", "//v1/messages"],
      ["POST", "/v1//messages"],
      ["POST", "/v1/./messages"],
      ["POST", "/v1/messages/../messages/batches"],
      ["POST", "/v1/messages/count_tokens/../../models"],
      ["POST", "/v1/messages%2Fbatches"],
      ["POST", "/v1/%6Dessages"],
      ["POST", "/v1/messages;x"],
      ["POST", "/healthz"],
      ["GET", "/"],
    ];
    const before = received.length;
    for (const [method, path] of refused) {
      const r = await send({ source: 13, method, path, body: messageBody() });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(JSON.parse(r.body), `${method} ${path}`).toEqual({
        type: "error",
        error: { type: "permission_error", message: "egress gateway: method or path not allowed" },
      });
    }
    expect(received).toHaveLength(before);
  });

  for (const [framing, source] of [
    ["chunked", 14],
    ["close", 24],
  ] as const) {
    it(`streams a server-sent-events response (${framing}-delimited upstream) event by event: the upstream sends the next event only after the client has the last`, async () => {
      sse.seen = 0;
      sse.timedOut = false;
      sse.upstreamDone = false;
      let text = "";
      const arrivals: { event: number; dataEvent: number; upstreamDone: boolean; at: number }[] = [];
      let dataEvents = 0;
      const r = await send({
        source,
        body: messageBody({ stream: true, framing }),
        onData: (c) => {
          dataEvents++;
          text += c.toString("utf8");
          const complete = SSE_EVENTS.filter((_, i) => text.includes(SSE_EVENTS.slice(0, i + 1).join(""))).length;
          for (let n = arrivals.length + 1; n <= complete; n++) {
            arrivals.push({ event: n, dataEvent: dataEvents, upstreamDone: sse.upstreamDone, at: performance.now() });
          }
          sse.saw(complete);
        },
      });
      expect(sse.timedOut, "the upstream waited in vain for the client to see an event: the response was held back").toBe(false);
      expect(r.status).toBe(200);
      expect(r.headers["content-type"]).toBe("text/event-stream");
      expect(r.body).toBe(SSE_EVENTS.join(""));
      // Three events, each in its own read, the first two while the upstream was still open.
      expect(arrivals.map((a) => [a.event, a.dataEvent])).toEqual([
        [1, 1],
        [2, 2],
        [3, 3],
      ]);
      expect(arrivals.slice(0, 2).map((a) => a.upstreamDone)).toEqual([false, false]);
      expect((arrivals[2]?.at ?? 0) - (arrivals[0]?.at ?? 0)).toBeGreaterThan(0);
    });
  }

  it("accepts a body just under the limit and refuses one over it with 413, by length or chunked, forwarding nothing", async () => {
    const limit = MAX_BODY_MB * 1024 * 1024;
    let before = received.length;
    const under = Buffer.alloc(limit - 64, "a");
    const ok = await send({ source: 15, body: under, headers: { "content-type": "application/octet-stream" } });
    expect(ok.status).toBe(200);
    expect(received).toHaveLength(before + 1);
    expect(received.at(-1)?.body.length).toBe(under.length);

    before = received.length;
    const startedBefore = started;
    const byLength = await send({ source: 16, body: Buffer.alloc(limit + 1, "a") });
    expect(byLength.status).toBe(413);
    expect(JSON.parse(byLength.body).error.type).toBe("request_too_large");
    const chunked = await send({
      source: 17,
      chunks: [Buffer.alloc(limit / 2, "a"), Buffer.alloc(limit / 2, "b"), Buffer.alloc(1024, "c")],
    });
    expect(chunked.status).toBe(413);
    expect(received).toHaveLength(before);
    // Not even the start of a request went upstream (the body is read whole before proxying).
    expect(started).toBe(startedBefore);
  });

  it("limits the request rate per source address (429 past the burst), without touching other sources", async () => {
    // The plan's rate (per minute) drains the burst slowly; a burst sent at once, plus as many
    // again, must see one request plus the burst through (and at most what drained meanwhile).
    const before = received.length;
    const total = 2 * RATE.burst + 20;
    const started = performance.now();
    const replies = await Promise.all(Array.from({ length: total }, () => send({ source: 18, body: messageBody() })));
    const elapsedMinutes = (performance.now() - started) / 60_000;
    const drained = Math.ceil(elapsedMinutes * RATE.requestsPerMinute);
    const passed = replies.filter((r) => r.status === 200).length;
    const limited = replies.filter((r) => r.status === 429);
    expect(replies.filter((r) => r.status !== 200 && r.status !== 429)).toEqual([]);
    expect(passed).toBeGreaterThanOrEqual(RATE.burst + 1);
    expect(passed).toBeLessThanOrEqual(RATE.burst + 1 + drained);
    expect(limited.length).toBe(total - passed);
    expect(limited.length).toBeGreaterThan(0);
    expect(JSON.parse((limited[0] as Reply).body).error.type).toBe("rate_limit_error");
    // Refused requests never reached the upstream.
    expect(received).toHaveLength(before + passed);
    expect((await send({ source: 19, body: messageBody() })).status).toBe(200);
  });

  it("refuses an upstream certificate for another name (502, nothing forwarded)", async () => {
    const before = received.length;
    const attempts = handshakes;
    const logged = nginxStderr.length;
    presentCertificate("otherName");
    try {
      const r = await send({ source: 20, body: messageBody() });
      expect(r.status).toBe(502);
      expect(JSON.parse(r.body).error.type).toBe("api_error");
    } finally {
      presentCertificate("good");
    }
    expect(received).toHaveLength(before);
    // nginx did connect and handshake (so the refusal is its check, not a dead upstream)...
    expect(handshakes).toBeGreaterThan(attempts);
    // ...and says why.
    expect(nginxStderr.slice(logged)).toContain('upstream SSL certificate does not match "api.anthropic.com"');
  });

  it("refuses an upstream certificate for api.anthropic.com from an untrusted CA (502, nothing forwarded)", async () => {
    const before = received.length;
    const logged = nginxStderr.length;
    presentCertificate("rogue");
    try {
      expect((await send({ source: 21, body: messageBody() })).status).toBe(502);
    } finally {
      presentCertificate("good");
    }
    expect(received).toHaveLength(before);
    expect(nginxStderr.slice(logged)).toContain("upstream SSL certificate verify error");
    // And the good certificate is accepted again (the refusal was the certificate's).
    expect((await send({ source: 22, body: messageBody() })).status).toBe(200);
  });

  it("answers probes on the health port only", async () => {
    const health = await send({ source: 23, method: "GET", path: "/healthz", port: healthPort });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: "ok" });
    expect((await send({ source: 23, method: "GET", path: "/v1/messages", port: healthPort })).status).toBe(404);
  });

  it("logs one JSON line per proxied request with fixed fields only: no key, header, body or query string", () => {
    const text = readFileSync(accessLog, "utf8");
    const lines = text.split("\n").filter((l) => l.length > 0);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const e of entries) expect(Object.keys(e)).toEqual([...ACCESS_LOG_FIELDS]);
    // Every outcome above was logged (the health port logs nothing).
    expect(new Set(entries.map((e) => e.status))).toEqual(new Set([200, 403, 413, 429, 502]));
    expect(entries.some((e) => e.path === "/v1/messages" && e.status === 200 && e.upstream_status === "200")).toBe(true);
    expect(entries.every((e) => e.path !== "/healthz" || e.status === 403)).toBe(true);
    for (const secret of [
      KEY,
      CLIENT_KEY,
      CLIENT_TOKEN,
      BODY_MARKER,
      "beta=true",
      "Bearer",
      "anthropic-version",
      "2023-06-01",
      "session=",
    ]) {
      expect(text, secret).not.toContain(secret);
    }
    // nginx's own error log names no key either.
    expect(nginxStderr).not.toContain(KEY);
    expect(nginxStderr).not.toContain(CLIENT_KEY);
  });
});

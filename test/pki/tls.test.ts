/**
 * Real mutual TLS on 127.0.0.1: a Node TLS server that trusts only our CA and requires a
 * client certificate (as the load balancer's ServerTlsPolicy does with REJECT_INVALID).
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { X509Certificate } from "node:crypto";
import { connect, createServer, type Server, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { createCa, type CertificateWithKey } from "../../pki/ca.ts";
import { issueCertificate, issueClientCertificate, type IssuedCertificate } from "../../pki/issue.ts";
import { DAY_MS } from "./helpers.ts";

const ORG = "Plue TLS Test";
const NOW = new Date();
/** The CA was made three years ago (so that a certificate issued two years ago is within its validity). */
const CA_START = new Date(NOW.getTime() - 3 * 365 * DAY_MS);

let ca: CertificateWithKey;
let otherCa: CertificateWithKey;
let serverCert: IssuedCertificate;
/** Enforces: requestCert + rejectUnauthorized, as the origin does. */
let enforcing: Server;
/** Observes only (rejectUnauthorized: false): reports why OpenSSL would reject a certificate. */
let observing: Server;
let enforcingPort: number;
let observingPort: number;

interface ServerEvent {
  readonly kind: "secure" | "tlsClientError";
  readonly authorized?: boolean;
  readonly authorizationError?: string;
  readonly peerSerial?: string;
  readonly error?: string;
}
let serverEvents: ServerEvent[] = [];

interface Outcome {
  /** What the server echoed back, or null when no data came back. */
  readonly echoed: string | null;
  /** The error the client saw, or null (a server that drops the connection causes none). */
  readonly clientError: string | null;
  /** The server's view: a connection it accepted, or a tlsClientError. */
  readonly server: ServerEvent | undefined;
}

function issuing(from: CertificateWithKey): { certPem: string; keyPem: string } {
  return { certPem: from.certPem, keyPem: from.keyPem };
}

/** Connects with an optional client certificate, sends "ping", waits for the echo or the end. */
function attempt(port: number, client: { key: string; cert: string } | undefined): Promise<Outcome> {
  serverEvents = [];
  return new Promise((resolve, reject) => {
    let echoed: string | null = null;
    let clientError: string | null = null;
    const socket: TLSSocket = connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca: [ca.certPem],
      ...(client === undefined ? {} : { key: client.key, cert: client.cert }),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("TLS attempt timed out"));
    }, 10_000);
    socket.on("secureConnect", () => socket.write("ping"));
    socket.on("data", (data: Buffer) => {
      echoed = data.toString("utf8");
      socket.end();
    });
    socket.on("error", (error: Error) => {
      clientError = error.message;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      // Give the server's event a moment to land if the client closed first.
      const waitForServer = (tries: number): void => {
        if (serverEvents.length > 0 || tries === 0) resolve({ echoed, clientError, server: serverEvents[0] });
        else setTimeout(() => waitForServer(tries - 1), 20);
      };
      waitForServer(100);
    });
  });
}

function startServer(rejectUnauthorized: boolean): Promise<[Server, number]> {
  const server = createServer(
    { key: serverCert.keyPem, cert: serverCert.certPem, ca: [ca.certPem], requestCert: true, rejectUnauthorized },
    (socket) => {
      const peer = socket.getPeerCertificate();
      const reason = socket.authorizationError;
      serverEvents.push({
        kind: "secure",
        authorized: socket.authorized,
        ...(reason === undefined ? {} : { authorizationError: String(reason) }),
        ...(peer.serialNumber === undefined ? {} : { peerSerial: peer.serialNumber }),
      });
      socket.on("data", (data: Buffer) => socket.write(`echo:${data.toString("utf8")}`));
      socket.on("error", () => undefined);
    },
  );
  server.on("tlsClientError", (error: Error) => serverEvents.push({ kind: "tlsClientError", error: error.message }));
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve([server, (server.address() as AddressInfo).port])));
}

/** Asserts that the enforcing server rejected the attempt: no echo, no accepted connection. */
function expectRejected(outcome: Outcome): void {
  expect(outcome.echoed).toBeNull();
  expect(outcome.server?.kind).toBe("tlsClientError");
  expect(serverEvents.some((e) => e.kind === "secure")).toBe(false);
}

/** Why OpenSSL refuses the certificate: the observing server's authorizationError. */
async function rejectionReason(client: { key: string; cert: string } | undefined): Promise<string | undefined> {
  const outcome = await attempt(observingPort, client);
  expect(outcome.server?.kind).toBe("secure");
  expect(outcome.server?.authorized).toBe(false);
  return outcome.server?.authorizationError;
}

beforeAll(async () => {
  ca = createCa({ organization: ORG, validityDays: 3650, now: CA_START });
  otherCa = createCa({ organization: "Someone Else", validityDays: 3650, now: CA_START });
  serverCert = issueCertificate({
    ca: issuing(ca),
    commonName: "localhost",
    extendedKeyUsage: ["serverAuth"],
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    validityDays: 2,
    now: NOW,
  });
  [enforcing, enforcingPort] = await startServer(true);
  [observing, observingPort] = await startServer(false);
});

afterAll(async () => {
  await Promise.all([enforcing, observing].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

describe("origin mTLS with our CA", () => {
  it("accepts our client certificate: the handshake completes and data is echoed", async () => {
    const client = issueClientCertificate({ ca: issuing(ca), organization: ORG, validityDays: 365, now: NOW });
    const outcome = await attempt(enforcingPort, { key: client.keyPem, cert: client.certPem });
    expect(outcome.clientError).toBeNull();
    expect(outcome.echoed).toBe("echo:ping");
    expect(outcome.server?.kind).toBe("secure");
    expect(outcome.server?.authorized).toBe(true);
    // The server really saw this certificate.
    expect(outcome.server?.peerSerial).toBe(new X509Certificate(client.certPem).serialNumber);
  });

  it("rejects a connection without a client certificate", async () => {
    const outcome = await attempt(enforcingPort, undefined);
    expectRejected(outcome);
    expect(outcome.server?.error).toMatch(/peer did not return a certificate/);
    expect(outcome.clientError).toMatch(/certificate required/);
  });

  it("rejects a client certificate from another CA", async () => {
    const foreign = issueClientCertificate({ ca: issuing(otherCa), organization: ORG, validityDays: 365, now: NOW });
    const client = { key: foreign.keyPem, cert: foreign.certPem };
    expectRejected(await attempt(enforcingPort, client));
    expect(await rejectionReason(client)).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
  });

  it("rejects an expired client certificate (issued two years ago for one day)", async () => {
    const expired = issueClientCertificate({
      ca: issuing(ca),
      organization: ORG,
      validityDays: 1,
      now: new Date(NOW.getTime() - 2 * 365 * DAY_MS),
    });
    expect(Date.parse(new X509Certificate(expired.certPem).validTo)).toBeLessThan(NOW.getTime());
    const client = { key: expired.keyPem, cert: expired.certPem };
    expectRejected(await attempt(enforcingPort, client));
    expect(await rejectionReason(client)).toBe("CERT_HAS_EXPIRED");
  });

  it("rejects a certificate from our CA without the clientAuth purpose (serverAuth only)", async () => {
    const wrongPurpose = issueCertificate({
      ca: issuing(ca),
      commonName: "not a client",
      extendedKeyUsage: ["serverAuth"],
      validityDays: 30,
      now: NOW,
    });
    const client = { key: wrongPurpose.keyPem, cert: wrongPurpose.certPem };
    expectRejected(await attempt(enforcingPort, client));
    expect(await rejectionReason(client)).toBe("INVALID_PURPOSE");
  });
});

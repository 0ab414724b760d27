/** The loader of the committed public certificates: real files in temp dirs, real certificates. */
import { generateKeyPairSync } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadPublicCerts, PublicCertsError } from "../../config/public-certs.ts";
import { REPO_ROOT } from "../../lib/paths.ts";
import { normalisePem } from "../../lib/pem.ts";
import { createCa } from "../../pki/ca.ts";
import { issueClientCertificate } from "../../pki/issue.ts";
import { exampleConfig } from "../support/config.ts";

const EXAMPLE_DIR = join(REPO_ROOT, "config", "pki", "example");
const FILES = ["ca.pem", "client.pem", "origin.csr.pem"] as const;
const work = mkdtempSync(join(tmpdir(), "plue-public-certs-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
/** A repository root in a temp dir whose `pki.publicDir` (`pub/env`) holds copies of the example files. */
function repoWith(files: readonly string[] = FILES): { root: string; dir: string } {
  const root = join(work, `repo-${++counter}`);
  const dir = join(root, "pub", "env");
  mkdirSync(dir, { recursive: true });
  for (const f of files) copyFileSync(join(EXAMPLE_DIR, f), join(dir, f));
  return { root, dir };
}

const config = { ...exampleConfig(), pki: { ...exampleConfig().pki, publicDir: "pub/env" } };

/** The problems a load reports ([] when it succeeds). */
function problemsOf(root: string): string[] {
  try {
    loadPublicCerts(config, { repoRoot: root });
    return [];
  } catch (e) {
    if (e instanceof PublicCertsError) return [...e.problems];
    throw e;
  }
}

/** The shape every problem line must have: `<file>: <problem> (got <value>). <fix>`. */
const PROBLEM_LINE = /^pub\/env\/[a-z.-]+\.pem: .+ \(got .*\)\. \S.*$/;

describe("loadPublicCerts", () => {
  it("loads the committed example certificates, normalised", () => {
    const certs = loadPublicCerts(exampleConfig());
    expect(certs.caPem).toBe(normalisePem(readFileSync(join(EXAMPLE_DIR, "ca.pem"), "utf8")));
    expect(certs.clientPem).toBe(normalisePem(readFileSync(join(EXAMPLE_DIR, "client.pem"), "utf8")));
    expect(certs.originCsrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+\n-----END CERTIFICATE REQUEST-----\n$/);
    expect(certs.nextCaPem).toBeUndefined();
  });

  it("fails if a file is missing, naming the file and the pki command that makes it", () => {
    const cases: [string, RegExp][] = [
      ["ca.pem", /npm run pki -- init-ca.*npm run pki -- publish/],
      ["client.pem", /npm run pki -- issue-client.*npm run pki -- publish/],
      ["origin.csr.pem", /npm run pki -- origin-csr.*npm run pki -- publish/],
    ];
    for (const [missing, command] of cases) {
      const { root } = repoWith(FILES.filter((f) => f !== missing));
      const problems = problemsOf(root);
      expect(problems, missing).toHaveLength(1);
      expect(problems[0]).toMatch(
        new RegExp(
          `^pub/env/${missing.replace(/\./g, "\\.")}: 'pki.publicDir' has no ${missing.replace(/\./g, "\\.")} \\(got pub/env\\)\\.`,
        ),
      );
      expect(problems[0]).toMatch(command);
      expect(problems[0]).toMatch(PROBLEM_LINE);
    }
  });

  it("reports every missing file at once", () => {
    const { root } = repoWith([]);
    const problems = problemsOf(root);
    expect(problems.map((p) => p.split(":")[0])).toEqual(["pub/env/ca.pem", "pub/env/client.pem", "pub/env/origin.csr.pem"]);
  });

  it("refuses a file that holds a private key, without echoing the key", () => {
    const { root, dir } = repoWith();
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const body = key.split("\n")[1] as string;
    writeFileSync(join(dir, "client.pem"), readFileSync(join(EXAMPLE_DIR, "client.pem"), "utf8") + key);
    const problems = problemsOf(root);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^pub\/env\/client\.pem: holds a private key block \(got PRIVATE KEY\)\. Remove the key/);
    expect(problems[0]).toMatch(PROBLEM_LINE);
    expect(problems.join("\n")).not.toContain(body);
  });

  it("refuses a private key in any of the files, e.g. a PKCS#1 key as the CA", () => {
    const { root, dir } = repoWith();
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    writeFileSync(join(dir, "ca.pem"), key);
    expect(problemsOf(root)).toEqual([expect.stringMatching(/^pub\/env\/ca\.pem: holds a private key block \(got RSA PRIVATE KEY\)/)]);
  });

  it("normalises CRLF line endings and trailing whitespace", () => {
    const { root, dir } = repoWith();
    const original = readFileSync(join(EXAMPLE_DIR, "client.pem"), "utf8");
    writeFileSync(join(dir, "client.pem"), `${original.replace(/\n/g, "  \r\n")}\r\n\r\n   `);
    writeFileSync(join(dir, "ca.pem"), readFileSync(join(EXAMPLE_DIR, "ca.pem"), "utf8").trimEnd());
    const certs = loadPublicCerts(config, { repoRoot: root });
    expect(certs.clientPem).toBe(normalisePem(original));
    expect(certs.clientPem).not.toMatch(/\r| \n/);
    expect(certs.clientPem.endsWith("-----END CERTIFICATE-----\n")).toBe(true);
    expect(certs.caPem.endsWith("-----END CERTIFICATE-----\n")).toBe(true);
  });

  it("fails if a file holds the wrong kind of PEM block", () => {
    const { root, dir } = repoWith();
    copyFileSync(join(EXAMPLE_DIR, "origin.csr.pem"), join(dir, "ca.pem"));
    expect(problemsOf(root)).toEqual([
      expect.stringMatching(
        /^pub\/env\/ca\.pem: does not hold exactly one CERTIFICATE block \(got CERTIFICATE REQUEST\)\. Run `npm run pki -- init-ca`/,
      ),
    ]);
  });

  it("fails if a file is not PEM at all", () => {
    const { root, dir } = repoWith();
    writeFileSync(join(dir, "origin.csr.pem"), "not a certificate\n");
    expect(problemsOf(root)).toEqual([
      expect.stringMatching(/^pub\/env\/origin\.csr\.pem: is not PEM text \(got no PEM block found.*\)\. Run `npm run pki -- origin-csr`/),
    ]);
  });

  it("fails if the client certificate was not issued by the CA", () => {
    const { root, dir } = repoWith();
    const other = createCa({ organization: "Someone Else", validityDays: 365, now: new Date("2026-01-01T00:00:00Z") });
    writeFileSync(join(dir, "ca.pem"), other.certPem);
    const problems = problemsOf(root);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^pub\/env\/client\.pem: is not issued by ca\.pem \(got issuer .*Plue Example Origin Pull CA\)\. Run `npm run pki -- issue-client --force`/,
    );
  });

  it("trusts ca-next.pem during a CA rotation, and accepts a client certificate from either CA", () => {
    const { root, dir } = repoWith();
    const now = new Date("2026-11-22T00:00:00Z");
    const next = createCa({ organization: "Plue Example", validityDays: 3650, now });
    writeFileSync(join(dir, "ca-next.pem"), next.certPem.replace(/\n/g, "\r\n"));
    const certs = loadPublicCerts(config, { repoRoot: root });
    expect(certs.nextCaPem).toBe(normalisePem(next.certPem));
    // The client certificate from the next CA is accepted too (the last step of the rotation).
    const client = issueClientCertificate({ ca: next, organization: "Plue Example", validityDays: 365, now });
    writeFileSync(join(dir, "client.pem"), client.certPem);
    expect(loadPublicCerts(config, { repoRoot: root }).clientPem).toBe(normalisePem(client.certPem));
  });
});

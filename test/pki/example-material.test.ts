/**
 * The committed public test certificates of the example environment (config/pki/example),
 * and the rule that no private key is ever committed anywhere in the repository.
 */
import { describe, it, expect } from "vitest";
import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { loadConfig } from "../../config/load.ts";
import { containsPrivateKeyBlock, normalisePem } from "../../lib/pem.ts";
import { openssl, REPO } from "./helpers.ts";

const config = loadConfig("example");
const PUBLIC_DIR = join(REPO, config.pki.publicDir);
const read = (name: string): string => readFileSync(join(PUBLIC_DIR, name), "utf8");

/** Directories never committed (git-ignored) or not ours. */
const SKIPPED_DIRS = new Set([".git", "node_modules", ".pki", "cdktf.out", "dist", ".terraform", ".gen"]);

function* repositoryFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith("cdktf.out.")) yield* repositoryFiles(path);
    } else if (entry.isFile() && statSync(path).size < 5_000_000) {
      yield path;
    }
  }
}

describe("config/pki/example", () => {
  it("is the example environment's pki.publicDir", () => {
    expect(config.pki.publicDir).toBe("config/pki/example");
  });

  it("holds the public files only: no key file and no private key block", () => {
    const names = readdirSync(PUBLIC_DIR).sort();
    expect(names).toEqual(["README.md", "ca.pem", "client.pem", "origin.csr.pem"]);
    for (const name of names) {
      expect(name).not.toMatch(/key/i);
      expect(containsPrivateKeyBlock(read(name)), name).toBe(false);
      expect(read(name)).not.toMatch(/PRIVATE KEY-----/);
    }
  });

  it("holds normalised PEM (LF, one trailing newline), as the plan reads it", () => {
    for (const name of ["ca.pem", "client.pem", "origin.csr.pem"]) expect(normalisePem(read(name)), name).toBe(read(name));
  });

  it("has a client certificate signed by its CA, for client authentication", async () => {
    const ca = new X509Certificate(read("ca.pem"));
    const client = new X509Certificate(read("client.pem"));
    expect(ca.ca).toBe(true);
    expect(client.ca).toBe(false);
    expect(client.checkIssued(ca)).toBe(true);
    expect(client.verify(ca.publicKey)).toBe(true);
    expect(client.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(ca.subject).toBe(`O=${config.pki.organization}\nCN=${config.pki.organization} Origin Pull CA`);
    // Signature and purpose checked by openssl too; the time is not (test material expires; see its README).
    const r = await openssl([
      "verify",
      "-no_check_time",
      "-purpose",
      "sslclient",
      "-CAfile",
      join(PUBLIC_DIR, "ca.pem"),
      join(PUBLIC_DIR, "client.pem"),
    ]);
    expect(r.stdout.trim(), r.stderr).toBe(`${join(PUBLIC_DIR, "client.pem")}: OK`);
  });

  it("has an origin CSR for the example environment's origin hostnames", async () => {
    const r = await openssl(["req", "-in", join(PUBLIC_DIR, "origin.csr.pem"), "-noout", "-text", "-verify"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(config.pki.originHostnames.map((h) => `DNS:${h}`).join(", "));
  });
});

describe("the repository", () => {
  it("holds no private key block in any file (git-ignored stores excepted)", () => {
    const offenders: string[] = [];
    for (const path of repositoryFiles(REPO)) {
      if (containsPrivateKeyBlock(readFileSync(path, "latin1"))) offenders.push(relative(REPO, path));
    }
    expect(offenders).toEqual([]);
  });
});

/**
 * `npm run pki -- <command> [options]`: the private CA and certificates of Cloudflare origin
 * mTLS (see `pki/README.md` and `--help`). The launcher (`bin/plue.mjs pki`) runs {@link main};
 * tests run it in-process with their own io (streams, environment, clock, working directory).
 * The commands that make keys import node-forge on demand; `status` and `publish` never load it.
 *
 * Exit codes: 0 done; 1 operational failure (wrong passphrase, refused overwrite, missing or
 * corrupted file, expired CA); 2 usage or configuration error; 3 (`status`) a certificate is
 * expired or within `--warn-days` of expiry.
 */
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import type { Command } from "commander";
import { ConfigError, loadConfig } from "../config/load.ts";
import type { PlueConfig } from "../config/schema.ts";
import { containsPrivateKeyBlock, normalisePem, PemError, parsePemBlocks } from "../lib/pem.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import { OperationalError, PkiError, UsageError } from "../pki/errors.ts";
import { type CertificateRole, type CertificateStatus, describeCertificate, formatStatusTable, readX509 } from "../pki/status.ts";
import {
  ensurePrivateDir,
  ensurePublicDir,
  type FileToWrite,
  loosePermissionWarning,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  pathExists,
  readStoreFile,
  resolveLayout,
  STORE_FILES,
  type StoreLayout,
  type WrittenFile,
  writeFilesAtomically,
} from "../pki/store.ts";
import {
  addOption,
  addSubcommand,
  CliError,
  type CliIo,
  type CommandSpec,
  defineCommand,
  nonEmpty,
  oneOf,
  runAsync,
  setAction,
  setDispatcher,
  wholeNumber,
} from "./cli/kit.ts";

/** The only source of the CA key passphrase (never a flag, never printed). */
export const PASSPHRASE_ENV = "PLUE_PKI_PASSPHRASE";

/** Shortest passphrase accepted when the CA is created. */
export const MIN_PASSPHRASE_LENGTH = 12;

/** Exit code of `status` when a certificate is expired or within `--warn-days` of expiry. */
export const EXIT_EXPIRING = 3;

const DAY_MS = 86_400_000;

/** Options of the pki commands, as commander parsed them. */
interface PkiOptions {
  readonly env?: string;
  readonly dir?: string;
  readonly force?: boolean;
  readonly bits?: "3072" | "4096";
  readonly json?: boolean;
  readonly warnDays?: number;
}

interface Context {
  readonly io: CliIo;
  readonly command: string;
  readonly values: PkiOptions;
  readonly now: Date;
  readonly out: (line: string) => void;
  readonly warn: (line: string) => void;
}

const EXIT_CODES: CommandSpec["exitCodes"] = [
  [0, "done"],
  [1, "operational failure: wrong passphrase, refused overwrite, missing or corrupted file, expired CA"],
  [2, "usage or configuration error"],
  [3, "status: a certificate expires within --warn-days or has expired"],
];

const ENVIRONMENT = {
  title: "Environment",
  lines: [`${PASSPHRASE_ENV}  passphrase of the CA key (init-ca, issue-client); never a flag, never printed`],
};

const COMMON_OPTIONS: readonly (readonly [string, string])[] = [
  ["--env <name>", "environment: config/<name>.yaml (default: example)"],
  [
    "--dir <dir>",
    "keep everything under <dir>: private files in <dir>, public copies in <dir>/public\n(default: the environment's pki.dir and pki.publicDir, relative to the repository root)",
  ],
  ["--force", "replace existing files; each replaced private file is first copied to\n<name>.bak-<UTC timestamp> (mode 0600)"],
];

interface Subcommand {
  readonly name: string;
  readonly summary: string;
  readonly description: string;
  readonly examples: readonly string[];
  readonly options: (cmd: Command, where: string) => void;
  readonly run: (ctx: Context) => number | Promise<number>;
}

const SUBCOMMANDS: readonly Subcommand[] = [
  {
    name: "init-ca",
    summary: "create the private CA (ca.key.pem encrypted, ca.pem)",
    description: [
      "Creates the RSA CA whose client certificate Cloudflare presents on origin pulls:",
      "SHA-256, basicConstraints CA:TRUE pathlen:0 (critical), keyUsage keyCertSign, cRLSign",
      '(critical), subject CN "<organization> Origin Pull CA", O=<organization>, valid',
      "pki.caValidityDays days.",
      "",
      `Reads the passphrase from ${PASSPHRASE_ENV} (at least ${MIN_PASSPHRASE_LENGTH} characters).`,
      "Writes ca.key.pem (encrypted PKCS#8, AES-256, mode 0600) and ca.pem into the private store.",
    ].join("\n"),
    examples: ["npm run pki -- init-ca --env prod", "npm run pki -- init-ca --env prod --bits 4096 --force"],
    options: (cmd) => addOption(cmd, "--bits <n>", "CA key size: 3072 or 4096 (default: 3072)", oneOf(["3072", "4096"], "CA key size")),
    run: initCa,
  },
  {
    name: "issue-client",
    summary: "issue the Cloudflare origin-pull client certificate (client.key.pem, client.pem)",
    description: [
      "Issues the client certificate Cloudflare presents to the origin: RSA 2048, SHA-256,",
      "basicConstraints CA:FALSE (critical), keyUsage digitalSignature (critical),",
      "extendedKeyUsage clientAuth, authorityKeyIdentifier = the CA's subject key identifier,",
      "a random positive 128-bit serial, valid pki.clientValidityDays days but never past the",
      "CA's notAfter (cut back, with a warning).",
      "",
      `Decrypts ca.key.pem with ${PASSPHRASE_ENV}.`,
      "Writes client.key.pem (unencrypted PKCS#8, as Cloudflare's upload needs it; mode 0600)",
      "and client.pem into the private store.",
    ].join("\n"),
    examples: ["npm run pki -- issue-client --env prod", "npm run pki -- issue-client --env prod --force"],
    options: () => undefined,
    run: issueClient,
  },
  {
    name: "origin-csr",
    summary: "create the origin key and the CSR for Cloudflare's Origin CA (origin.key.pem, origin.csr.pem)",
    description: [
      "Creates an RSA 2048 key and a SHA-256 certificate signing request for the Cloudflare",
      "Origin CA certificate the load balancer serves: subjectAltName = pki.originHostnames,",
      "CN = the first hostname.",
      "",
      "Writes origin.key.pem (unencrypted PKCS#8, mode 0600) and origin.csr.pem into the private",
      "store. Submit the CSR to Cloudflare (SSL/TLS > Origin Server) and save the certificate",
      "it returns as origin.pem beside it.",
    ].join("\n"),
    examples: ["npm run pki -- origin-csr --env prod"],
    options: () => undefined,
    run: originCsr,
  },
  {
    name: "status",
    summary: "list the certificates in the private store and their expiry",
    description: [
      "Lists ca.pem, client.pem and origin.pem (when present) of the private store, read with",
      "Node's crypto.X509Certificate: role, path, keyPath (or null), serial (hex), notBefore,",
      "notAfter (ISO 8601), daysLeft (whole days to notAfter, rounded down) and",
      "fingerprintSha256 (colon-separated uppercase hex, as openssl x509 -fingerprint prints).",
      "",
      "Exit code 3 when a certificate is expired or expires within --warn-days days.",
    ].join("\n"),
    examples: ["npm run pki -- status --env prod", "npm run pki -- status --env prod --warn-days 60 --json"],
    options: (cmd) => {
      cmd.option("--json", "print a JSON array instead of a table");
      addOption(
        cmd,
        "--warn-days <n>",
        "warn (exit code 3) when a certificate expires within <n> days (default: 30)",
        wholeNumber("days", 0, 99_999, "--warn-days 30"),
      );
    },
    run: status,
  },
  {
    name: "publish",
    summary: "copy the public files (ca.pem, client.pem, origin.csr.pem, origin.pem) to pki.publicDir",
    description: [
      "Copies the public files of the private store into the environment's pki.publicDir",
      "(committed; the plan reads them at synth), or <dir>/public with --dir: ca.pem and",
      "client.pem (required; client.pem must be signed by ca.pem), origin.csr.pem and origin.pem",
      "(when present). Never a key: a file holding a private key block is refused.",
      "",
      "Identical copies are left alone; a different existing copy is replaced only with",
      "--force (git keeps the previous version; no backup is made of public copies).",
    ].join("\n"),
    examples: ["npm run pki -- publish --env prod", "npm run pki -- publish --env prod --force"],
    options: () => undefined,
    run: publish,
  },
];

/** Help and error texts of `npm run pki`. */
export const PKI_SPEC: CommandSpec = {
  where: "pki",
  invocation: "npm run pki --",
  usage: "<command> [options]",
  description: "Private CA and certificates of Cloudflare origin mTLS (Authenticated Origin Pulls).",
  sections: [
    { title: "Options of every command", lines: COMMON_OPTIONS.flatMap(([flag, help]) => optionLines(flag, help)) },
    {
      title: "Files",
      lines: [
        "The private store (pki.dir, git-ignored; or --dir <dir>) holds ca.key.pem, ca.pem,",
        "client.key.pem, client.pem, origin.key.pem, origin.csr.pem, origin.pem; keys have mode",
        "0600, the directory 0700. publish copies the public ones to pki.publicDir (or <dir>/public).",
      ],
    },
    ENVIRONMENT,
  ],
  exitCodes: EXIT_CODES,
  examples: ["npm run pki -- status --json", "npm run pki -- init-ca --env prod", "npm run pki -- help init-ca"],
};

function optionLines(flag: string, help: string): string[] {
  return help.split("\n").map((line, i) => `${(i === 0 ? flag : "").padEnd(16)}${line}`);
}

/**
 * Runs `pki` with `argv` (the arguments after `pki`); returns the exit code: 0, 1
 * (operational), 2 (usage or configuration), 3 (status: expiring).
 */
export function main(argv: readonly string[], io: CliIo): Promise<number> {
  const program = defineCommand("pki", PKI_SPEC);
  setDispatcher(program);
  for (const sub of SUBCOMMANDS) {
    const where = `pki ${sub.name}`;
    const cmd = defineCommand(sub.name, {
      where,
      invocation: `npm run pki -- ${sub.name}`,
      usage: "[options]",
      description: sub.description,
      sections: [ENVIRONMENT],
      exitCodes: sub.name === "status" ? EXIT_CODES : EXIT_CODES.slice(0, 3),
      examples: sub.examples,
    });
    sub.options(cmd, where);
    addOption(cmd, "--env <name>", "environment: config/<name>.yaml (default: example)", nonEmpty("an environment name"));
    addOption(cmd, "--dir <dir>", COMMON_OPTIONS[1]?.[1] ?? "", nonEmpty("a directory"));
    cmd.option("--force", sub.name === "status" ? "accepted for uniformity; status writes nothing" : (COMMON_OPTIONS[2]?.[1] ?? ""));
    setAction<PkiOptions>(cmd, (values) =>
      guard(() =>
        sub.run({
          io,
          command: sub.name,
          values,
          now: io.now(),
          out: (line) => io.stdout(`${line}\n`),
          warn: (line) => io.stderr(`${line}\n`),
        }),
      ),
    );
    addSubcommand(program, cmd, sub.summary);
  }
  return runAsync(program, argv, io);
}

/** The library's errors carry their exit code; a configuration error is a usage error (2). */
async function guard(run: () => number | Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof PkiError) throw new CliError(error.message, error.exitCode);
    if (error instanceof ConfigError) throw new CliError(error.message, 2);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Shared steps

interface Environment {
  readonly config: PlueConfig;
  readonly layout: StoreLayout;
  readonly file: (name: string) => string;
}

function environment(ctx: Context): Environment {
  const config = loadConfig(ctx.values.env ?? "example");
  const dir = ctx.values.dir;
  const layout = resolveLayout({
    repoRoot: REPO_ROOT,
    configDir: config.pki.dir,
    configPublicDir: config.pki.publicDir,
    ...(dir === undefined ? {} : { dirOverride: dir }),
    cwd: ctx.io.cwd,
  });
  return { config, layout, file: (name) => join(layout.privateDir, name) };
}

function passphrase(ctx: Context, minLength: number): string {
  const value = ctx.io.env[PASSPHRASE_ENV];
  if (value === undefined || value === "") {
    throw new UsageError(
      `pki ${ctx.command}: '${PASSPHRASE_ENV}' is not set (got nothing). Export the CA key passphrase in ${PASSPHRASE_ENV}; it is never read from a flag.`,
    );
  }
  if (value.length < minLength) {
    throw new UsageError(
      `pki ${ctx.command}: '${PASSPHRASE_ENV}' is shorter than ${minLength} characters (got ${value.length} characters). Use a passphrase of at least ${minLength} characters.`,
    );
  }
  return value;
}

function force(ctx: Context): boolean {
  return ctx.values.force === true;
}

function reportWritten(ctx: Context, written: readonly WrittenFile[], notes: Readonly<Record<string, string>> = {}): void {
  for (const file of written) {
    if (file.backupPath !== undefined) ctx.out(`backed up ${file.path} -> ${file.backupPath}`);
    const note = notes[file.path];
    ctx.out(`wrote ${file.path} (mode 0${file.mode.toString(8)}${note === undefined ? "" : `, ${note}`})`);
  }
}

function refuseUnlessForced(ctx: Context, paths: readonly string[]): void {
  if (force(ctx)) return;
  const present = paths.find(pathExists);
  if (present !== undefined) {
    throw new OperationalError(
      `${present}: already exists; refusing to overwrite it. Pass --force to replace it (the old file is kept as <name>.bak-<UTC timestamp>).`,
    );
  }
}

function pemText(path: string, text: string): string {
  try {
    return normalisePem(text);
  } catch (error) {
    if (error instanceof PemError)
      throw new OperationalError(`${path}: is not a PEM file (${error.message}). Restore it or create it again.`);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

// The commands that make keys load node-forge (pki/ca, csr, issue, keys) on demand, so
// `status` and `publish` start without it.

async function initCa(ctx: Context): Promise<number> {
  const { createCa } = await import("../pki/ca.ts");
  const { encryptPrivateKeyPem, rsaKeyPairFromPem } = await import("../pki/keys.ts");
  const bitsText = ctx.values.bits ?? "3072";
  const pass = passphrase(ctx, MIN_PASSPHRASE_LENGTH);
  const env = environment(ctx);
  const keyPath = env.file(STORE_FILES.caKey);
  const certPath = env.file(STORE_FILES.caCert);
  ensurePrivateDir(env.layout.privateDir, ctx.warn);
  refuseUnlessForced(ctx, [keyPath, certPath]);

  const ca = createCa({
    organization: env.config.pki.organization,
    validityDays: env.config.pki.caValidityDays,
    now: ctx.now,
    bits: Number(bitsText),
  });
  const encrypted = encryptPrivateKeyPem(rsaKeyPairFromPem(ca.keyPem, "new CA key").privateKey, pass);
  const written = writeFilesAtomically(
    [
      { path: keyPath, content: encrypted, mode: PRIVATE_FILE_MODE },
      { path: certPath, content: ca.certPem, mode: PUBLIC_FILE_MODE },
    ],
    { existing: force(ctx) ? "backup" : "refuse", now: ctx.now },
  );
  ctx.out(
    `created CA "${new X509Certificate(ca.certPem).subject.split("\n").join(", ")}" (RSA ${bitsText}, serial ${ca.serialHex.toUpperCase()}, valid until ${ca.notAfter.toISOString()})`,
  );
  reportWritten(ctx, written, { [keyPath]: `encrypted with ${PASSPHRASE_ENV}` });

  const clientPath = env.file(STORE_FILES.clientCert);
  if (pathExists(clientPath)) {
    ctx.warn(`warning: ${clientPath}: was issued by the previous CA. Run npm run pki -- issue-client --force, then publish.`);
  }
  ctx.out("next: npm run pki -- issue-client");
  return 0;
}

async function issueClient(ctx: Context): Promise<number> {
  const { issueClientCertificate } = await import("../pki/issue.ts");
  const { decryptPrivateKeyPem } = await import("../pki/keys.ts");
  const pass = passphrase(ctx, 1);
  const env = environment(ctx);
  const caKeyPath = env.file(STORE_FILES.caKey);
  const caCertPath = env.file(STORE_FILES.caCert);
  const keyPath = env.file(STORE_FILES.clientKey);
  const certPath = env.file(STORE_FILES.clientCert);
  const caCertPem = pemText(caCertPath, readStoreFile(caCertPath, "Run npm run pki -- init-ca first, or pass the --env/--dir of the CA."));
  const caKeyText = readStoreFile(caKeyPath, "Run npm run pki -- init-ca first, or pass the --env/--dir of the CA.");
  ensurePrivateDir(env.layout.privateDir, ctx.warn);
  refuseUnlessForced(ctx, [keyPath, certPath]);
  const caKey = decryptPrivateKeyPem(caKeyText, pass, caKeyPath, PASSPHRASE_ENV);

  const issued = issueClientCertificate({
    ca: { certPem: caCertPem, keyPem: caKey.privateKeyPem, name: caCertPath },
    organization: env.config.pki.organization,
    validityDays: env.config.pki.clientValidityDays,
    now: ctx.now,
  });
  if (issued.clamped) {
    ctx.warn(
      `warning: client certificate notAfter cut back to the CA's notAfter ${issued.notAfter.toISOString()} (pki.clientValidityDays ${env.config.pki.clientValidityDays} would reach ${issued.requestedNotAfter.toISOString()}). Rotate the CA before then.`,
    );
  }
  const written = writeFilesAtomically(
    [
      { path: keyPath, content: issued.keyPem, mode: PRIVATE_FILE_MODE },
      { path: certPath, content: issued.certPem, mode: PUBLIC_FILE_MODE },
    ],
    { existing: force(ctx) ? "backup" : "refuse", now: ctx.now },
  );
  ctx.out(`issued client certificate serial ${issued.serialHex.toUpperCase()}, valid until ${issued.notAfter.toISOString()}`);
  reportWritten(ctx, written, { [keyPath]: "unencrypted, for Cloudflare's upload" });
  ctx.out("next: npm run pki -- publish");
  return 0;
}

async function originCsr(ctx: Context): Promise<number> {
  const { createOriginCsr } = await import("../pki/csr.ts");
  const env = environment(ctx);
  const keyPath = env.file(STORE_FILES.originKey);
  const csrPath = env.file(STORE_FILES.originCsr);
  ensurePrivateDir(env.layout.privateDir, ctx.warn);
  refuseUnlessForced(ctx, [keyPath, csrPath]);
  const csr = createOriginCsr({ hostnames: env.config.pki.originHostnames, organization: env.config.pki.organization });
  const written = writeFilesAtomically(
    [
      { path: keyPath, content: csr.keyPem, mode: PRIVATE_FILE_MODE },
      { path: csrPath, content: csr.csrPem, mode: PUBLIC_FILE_MODE },
    ],
    { existing: force(ctx) ? "backup" : "refuse", now: ctx.now },
  );
  ctx.out(`created CSR for ${env.config.pki.originHostnames.join(", ")}`);
  reportWritten(ctx, written);
  ctx.out(`next: submit ${csrPath} to Cloudflare's Origin CA and save the certificate as ${env.file(STORE_FILES.originCert)}`);
  return 0;
}

const STATUS_FILES: readonly { readonly role: CertificateRole; readonly cert: string; readonly key: string }[] = [
  { role: "ca", cert: STORE_FILES.caCert, key: STORE_FILES.caKey },
  { role: "client", cert: STORE_FILES.clientCert, key: STORE_FILES.clientKey },
  { role: "origin", cert: STORE_FILES.originCert, key: STORE_FILES.originKey },
];

function status(ctx: Context): number {
  const warnDays = ctx.values.warnDays ?? 30;
  const env = environment(ctx);
  const dir = env.layout.privateDir;
  if (!pathExists(dir)) {
    if (ctx.values.json === true) ctx.out("[]");
    throw new OperationalError(`${dir}: does not exist (no certificates). Run npm run pki -- init-ca, or pass the right --env/--dir.`);
  }
  const statuses: CertificateStatus[] = [];
  const pems = new Map<CertificateRole, string>();
  for (const entry of STATUS_FILES) {
    const path = env.file(entry.cert);
    if (!pathExists(path)) continue;
    const keyPath = env.file(entry.key);
    const hasKey = pathExists(keyPath);
    const pem = readStoreFile(path, "");
    statuses.push(describeCertificate(pem, { role: entry.role, path, keyPath: hasKey ? keyPath : null, now: ctx.now }));
    pems.set(entry.role, pem);
    const loose = hasKey ? loosePermissionWarning(keyPath) : undefined;
    if (loose !== undefined) ctx.warn(loose);
  }
  if (ctx.values.json === true) ctx.io.stdout(`${JSON.stringify(statuses, null, 2)}\n`);
  else if (statuses.length > 0) ctx.io.stdout(formatStatusTable(statuses));
  if (statuses.length === 0) {
    throw new OperationalError(
      `${dir}: holds no certificate (ca.pem, client.pem, origin.pem). Run npm run pki -- init-ca, or pass the right --env/--dir.`,
    );
  }

  const caPem = pems.get("ca");
  const clientPem = pems.get("client");
  if (caPem !== undefined && clientPem !== undefined && !issuedBy(clientPem, caPem)) {
    ctx.warn(
      `warning: ${env.file(STORE_FILES.clientCert)}: is not signed by ${env.file(STORE_FILES.caCert)}. Run npm run pki -- issue-client --force, then publish.`,
    );
  }

  let expiring = 0;
  for (const s of statuses) {
    const left = Date.parse(s.notAfter) - ctx.now.getTime();
    if (left > warnDays * DAY_MS) continue;
    expiring++;
    const when = left <= 0 ? `expired on ${s.notAfter}` : `expires in ${s.daysLeft} days (${s.notAfter})`;
    const fix =
      s.role === "ca"
        ? "Create a new CA and reissue (init-ca --force, issue-client --force, publish)."
        : s.role === "client"
          ? "Reissue it (issue-client --force, then publish)."
          : "Request a new origin certificate from Cloudflare's Origin CA.";
    ctx.warn(`warning: ${s.role} certificate ${s.path} ${when}, within --warn-days ${warnDays}. ${fix}`);
  }
  return expiring > 0 ? EXIT_EXPIRING : 0;
}

function issuedBy(childPem: string, issuerPem: string): boolean {
  const child = new X509Certificate(childPem);
  const issuer = new X509Certificate(issuerPem);
  return child.checkIssued(issuer) && child.verify(issuer.publicKey);
}

function publish(ctx: Context): number {
  const env = environment(ctx);
  const sources: { readonly name: string; readonly required: boolean; readonly label: string }[] = [
    { name: STORE_FILES.caCert, required: true, label: "CERTIFICATE" },
    { name: STORE_FILES.clientCert, required: true, label: "CERTIFICATE" },
    { name: STORE_FILES.originCsr, required: false, label: "CERTIFICATE REQUEST" },
    { name: STORE_FILES.originCert, required: false, label: "CERTIFICATE" },
  ];
  const files: FileToWrite[] = [];
  const unchanged: string[] = [];
  const texts = new Map<string, string>();
  for (const source of sources) {
    const from = env.file(source.name);
    if (!source.required && !pathExists(from)) continue;
    const raw = readStoreFile(
      from,
      source.name === STORE_FILES.caCert ? "Run npm run pki -- init-ca first." : "Run npm run pki -- issue-client first.",
    );
    if (containsPrivateKeyBlock(raw)) {
      throw new OperationalError(`${from}: holds a private key; refusing to publish it. Keep only the ${source.label} block in this file.`);
    }
    const text = pemText(from, raw);
    const labels = parsePemBlocks(text).map((b) => b.label);
    if (labels.some((l) => l !== source.label)) {
      throw new OperationalError(
        `${from}: holds a '${labels.find((l) => l !== source.label) ?? "?"}' block, not only ${source.label}. Keep only the ${source.label} block.`,
      );
    }
    if (source.label === "CERTIFICATE") readX509(text, from);
    texts.set(source.name, text);
    const to = join(env.layout.publicDir, source.name);
    if (pathExists(to) && readStoreFile(to, "") === text) unchanged.push(to);
    else files.push({ path: to, content: text, mode: PUBLIC_FILE_MODE });
  }
  const caText = texts.get(STORE_FILES.caCert) ?? "";
  const clientText = texts.get(STORE_FILES.clientCert) ?? "";
  if (!issuedBy(clientText, caText)) {
    throw new OperationalError(
      `${env.file(STORE_FILES.clientCert)}: is not signed by ${env.file(STORE_FILES.caCert)}; refusing to publish a pair the origin would reject. Run npm run pki -- issue-client --force first.`,
    );
  }
  ensurePublicDir(env.layout.publicDir);
  const written = writeFilesAtomically(files, {
    existing: force(ctx) ? "replace" : "refuse",
    now: ctx.now,
    refuseFix: "Pass --force to replace the public copy (git keeps the previous version).",
  });
  reportWritten(ctx, written);
  for (const path of unchanged) ctx.out(`unchanged ${path}`);
  ctx.out(`published to ${env.layout.publicDir} (no private key)`);
  return 0;
}

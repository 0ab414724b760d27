/**
 * The `pki` command line: `npm run pki -- <command> [options]`. {@link runCli} parses the
 * arguments, runs one command and returns its exit code; `pki/cli.ts` is the entry point.
 *
 * Exit codes: 0 done; 1 operational failure (wrong passphrase, refused overwrite, missing or
 * corrupted file, expired CA); 2 usage or configuration error; 3 (`status`) a certificate is
 * expired or within `--warn-days` of expiry.
 */
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/load.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import type { PlueConfig } from "../config/schema.ts";
import { createCa } from "../pki/ca.ts";
import { createOriginCsr } from "../pki/csr.ts";
import { OperationalError, PkiError, UsageError } from "../pki/errors.ts";
import { issueClientCertificate } from "../pki/issue.ts";
import { decryptPrivateKeyPem, encryptPrivateKeyPem, rsaKeyPairFromPem } from "../pki/keys.ts";
import { containsPrivateKeyBlock, normalisePem, parsePemBlocks, PemError } from "../lib/pem.ts";
import { describeCertificate, formatStatusTable, readX509, type CertificateRole, type CertificateStatus } from "../pki/status.ts";
import {
  ensurePrivateDir,
  ensurePublicDir,
  loosePermissionWarning,
  pathExists,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  readStoreFile,
  resolveLayout,
  STORE_FILES,
  writeFilesAtomically,
  type FileToWrite,
  type StoreLayout,
  type WrittenFile,
} from "../pki/store.ts";

/** The repository root (`pki/..`). */

/** The only source of the CA key passphrase (never a flag, never printed). */
export const PASSPHRASE_ENV = "PLUE_PKI_PASSPHRASE";

/** Shortest passphrase accepted when the CA is created. */
export const MIN_PASSPHRASE_LENGTH = 12;

/** Exit code of `status` when a certificate is expired or within `--warn-days` of expiry. */
export const EXIT_EXPIRING = 3;

const DAY_MS = 86_400_000;

/** What the CLI talks to; the entry point passes the process's streams and environment. */
export interface CliIo {
  /** Writes to standard output. */
  readonly stdout: (text: string) => void;
  /** Writes to standard error. */
  readonly stderr: (text: string) => void;
  /** Environment variables (for `PLUE_PKI_PASSPHRASE`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * The clock.
   * @default () => new Date()
   */
  readonly now?: () => Date;
  /**
   * Directory a relative `--dir` resolves against.
   * @default process.cwd()
   */
  readonly cwd?: string;
}

type OptionSpec = { readonly type: "string" | "boolean"; readonly short?: string; readonly value?: string; readonly help: string };

const COMMON_OPTIONS: Record<string, OptionSpec> = {
  env: { type: "string", value: "NAME", help: "environment: config/<NAME>.yaml (default: example)" },
  dir: {
    type: "string",
    value: "DIR",
    help: "keep everything under DIR: private files in DIR, public copies in DIR/public\n(default: the environment's pki.dir and pki.publicDir, relative to the repository root)",
  },
  force: {
    type: "boolean",
    help: "replace existing files; each replaced private file is first copied to\n<name>.bak-<UTC timestamp> (mode 0600)",
  },
  help: { type: "boolean", short: "h", help: "show this help" },
};

interface Context {
  readonly io: CliIo;
  readonly command: string;
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly now: Date;
  readonly out: (line: string) => void;
  readonly warn: (line: string) => void;
}

interface Command {
  readonly name: string;
  readonly summary: string;
  readonly description: string;
  readonly options: Record<string, OptionSpec>;
  readonly run: (ctx: Context) => number;
}

const COMMANDS: readonly Command[] = [
  {
    name: "init-ca",
    summary: "create the private CA (ca.key.pem encrypted, ca.pem)",
    description: [
      "Creates the RSA CA whose client certificate Cloudflare presents on origin pulls:",
      "SHA-256, basicConstraints CA:TRUE pathlen:0 (critical), keyUsage keyCertSign, cRLSign",
      '(critical), subject CN "<organization> Origin Pull CA", O=<organization>, valid',
      "pki.caValidityDays days.",
      "",
      "Reads the passphrase from PLUE_PKI_PASSPHRASE (at least 12 characters).",
      "Writes ca.key.pem (encrypted PKCS#8, AES-256, mode 0600) and ca.pem into the private store.",
    ].join("\n"),
    options: { bits: { type: "string", value: "N", help: "CA key size: 3072 or 4096 (default: 3072)" } },
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
      "Decrypts ca.key.pem with PLUE_PKI_PASSPHRASE.",
      "Writes client.key.pem (unencrypted PKCS#8, as Cloudflare's upload needs it; mode 0600)",
      "and client.pem into the private store.",
    ].join("\n"),
    options: {},
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
    options: {},
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
    options: {
      json: { type: "boolean", help: "print a JSON array instead of a table" },
      "warn-days": { type: "string", value: "N", help: "warn (exit code 3) when a certificate expires within N days (default: 30)" },
    },
    run: status,
  },
  {
    name: "publish",
    summary: "copy the public files (ca.pem, client.pem, origin.csr.pem, origin.pem) to pki.publicDir",
    description: [
      "Copies the public files of the private store into the environment's pki.publicDir",
      "(committed; the plan reads them at synth), or DIR/public with --dir: ca.pem and",
      "client.pem (required; client.pem must be signed by ca.pem), origin.csr.pem and origin.pem",
      "(when present). Never a key: a file holding a private key block is refused.",
      "",
      "Identical copies are left alone; a different existing copy is replaced only with",
      "--force (git keeps the previous version; no backup is made of public copies).",
    ].join("\n"),
    options: {},
    run: publish,
  },
];

/**
 * Runs the CLI on `argv` (the arguments after the script name).
 * @returns the exit code: 0, 1 (operational), 2 (usage or configuration), 3 (status: expiring)
 */
export function runCli(argv: readonly string[], io: CliIo): number {
  try {
    return dispatch(argv, io);
  } catch (error) {
    if (error instanceof PkiError) {
      io.stderr(`${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof ConfigError) {
      io.stderr(`${error.message}\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`pki: unexpected error: ${message.split("\n")[0] ?? ""}. Report it with the command that caused it.\n`);
    return 1;
  }
}

function dispatch(argv: readonly string[], io: CliIo): number {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    if (name === "help" && rest[0] !== undefined) return dispatch([rest[0], "--help"], io);
    if (name === undefined) {
      io.stderr(`pki: no command given. Use one of ${COMMANDS.map((c) => c.name).join(", ")}.\n\n${globalHelp()}`);
      return 2;
    }
    io.stdout(globalHelp());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const what = name.startsWith("-") ? "is not a command (the command comes first)" : "is not a command";
    throw new UsageError(
      `pki: '${name}' ${what} (got ${JSON.stringify(argv.join(" "))}). Use one of ${COMMANDS.map((c) => c.name).join(", ")}; see npm run pki -- --help.`,
    );
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stdout(commandHelp(command));
    return 0;
  }
  const specs = { ...COMMON_OPTIONS, ...command.options };
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [key, spec] of Object.entries(specs))
    options[key] = spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short };
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: [...rest], options, strict: true, allowPositionals: true });
    values = parsed.values;
    positionals = parsed.positionals;
  } catch (error) {
    throw new UsageError(`pki ${command.name}: ${argumentProblem(error)}. See npm run pki -- ${command.name} --help.`);
  }
  if (positionals.length > 0) {
    throw new UsageError(
      `pki ${command.name}: '${positionals[0] ?? ""}' is not an option (got ${JSON.stringify(positionals.join(" "))}). ${command.name} takes options only; see npm run pki -- ${command.name} --help.`,
    );
  }
  const now = (io.now ?? (() => new Date()))();
  return command.run({
    io,
    command: command.name,
    values,
    now,
    out: (line) => io.stdout(`${line}\n`),
    warn: (line) => io.stderr(`${line}\n`),
  });
}

function argumentProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option) return `'${option}' is not a known option (got ${option})`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option) {
    return /argument missing/.test(message) ? `'${option}' needs a value (got nothing)` : `'${option}' takes no value (got one)`;
  }
  return message.replace(/\.$/, "");
}

// ---------------------------------------------------------------------------------------------
// Shared steps

interface Environment {
  readonly config: PlueConfig;
  readonly layout: StoreLayout;
  readonly file: (name: string) => string;
}

function environment(ctx: Context): Environment {
  const envName = stringOption(ctx, "env") ?? "example";
  const config = loadConfig(envName);
  const dir = stringOption(ctx, "dir");
  if (dir !== undefined && dir.trim() === "") throw new UsageError(`pki ${ctx.command}: '--dir' is empty (got ""). Give a directory.`);
  const layout = resolveLayout({
    repoRoot: REPO_ROOT,
    configDir: config.pki.dir,
    configPublicDir: config.pki.publicDir,
    ...(dir === undefined ? {} : { dirOverride: dir }),
    ...(ctx.io.cwd === undefined ? {} : { cwd: ctx.io.cwd }),
  });
  return { config, layout, file: (name) => join(layout.privateDir, name) };
}

function stringOption(ctx: Context, name: string): string | undefined {
  const value = ctx.values[name];
  return typeof value === "string" ? value : undefined;
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

function initCa(ctx: Context): number {
  const bitsText = stringOption(ctx, "bits") ?? "3072";
  if (!/^\d+$/.test(bitsText) || (bitsText !== "3072" && bitsText !== "4096")) {
    throw new UsageError(`pki init-ca: '--bits' is not an allowed CA key size (got ${bitsText}). Use 3072 or 4096.`);
  }
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

function issueClient(ctx: Context): number {
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

function originCsr(ctx: Context): number {
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
  const warnText = stringOption(ctx, "warn-days") ?? "30";
  if (!/^\d{1,5}$/.test(warnText)) {
    throw new UsageError(`pki status: '--warn-days' is not a whole number of days (got ${warnText}). Use e.g. --warn-days 30.`);
  }
  const warnDays = Number(warnText);
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

// ---------------------------------------------------------------------------------------------
// Help

function optionLines(specs: Record<string, OptionSpec>): string[] {
  const entries = Object.entries(specs).map(([name, spec]) => {
    const flag = `${spec.short === undefined ? "    " : `-${spec.short}, `}--${name}${spec.value === undefined ? "" : ` ${spec.value}`}`;
    return [flag, spec.help] as const;
  });
  const width = Math.max(...entries.map(([flag]) => flag.length)) + 2;
  return entries.flatMap(([flag, help]) => help.split("\n").map((line, i) => `  ${(i === 0 ? flag : "").padEnd(width)}${line}`));
}

const FOOTER = [
  "Environment:",
  `  ${PASSPHRASE_ENV}  passphrase of the CA key (init-ca, issue-client); never a flag, never printed`,
  "",
  "Exit codes: 0 done, 1 operational failure (wrong passphrase, refused overwrite, missing or",
  "corrupted file), 2 usage or configuration error, 3 status: a certificate expires within",
  "--warn-days or has expired.",
].join("\n");

function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    "Usage: npm run pki -- <command> [options]",
    "",
    "Private CA and certificates of Cloudflare origin mTLS (Authenticated Origin Pulls).",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Options of every command:",
    ...optionLines(COMMON_OPTIONS),
    "",
    "Files: the private store (pki.dir, git-ignored; or --dir DIR) holds ca.key.pem, ca.pem,",
    "client.key.pem, client.pem, origin.key.pem, origin.csr.pem, origin.pem; keys have mode",
    "0600, the directory 0700. publish copies the public ones to pki.publicDir (or DIR/public).",
    "",
    FOOTER,
    "",
    "Run npm run pki -- <command> --help for a command's details.",
    "",
  ].join("\n");
}

function commandHelp(command: Command): string {
  return [
    `Usage: npm run pki -- ${command.name} [options]`,
    "",
    command.description,
    "",
    "Options:",
    ...optionLines({
      ...command.options,
      ...COMMON_OPTIONS,
      ...(command.name === "status"
        ? { force: { type: "boolean", help: "accepted for uniformity; status writes nothing" } satisfies OptionSpec }
        : {}),
    }),
    "",
    FOOTER,
    "",
  ].join("\n");
}

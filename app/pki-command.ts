/**
 * `npm run pki -- <command> [options]`: the private CA and certificates of Cloudflare origin
 * mTLS, their status and their rotations (see `pki/README.md` and `--help`). The launcher
 * (`bin/plue.mjs pki`) runs {@link main}; tests run it in-process with their own io (streams,
 * environment, clock, working directory). Commands that make keys import node-forge on demand,
 * `finish` imports the Cloudflare SDK on demand, and the environment file comes through the
 * validated-config cache, so `status` starts without zod, yaml, node-forge or the SDK.
 *
 * Exit codes: 0 done (status: every certificate fine); 1 operational failure (status: a
 * renewal is due); 2 the store is inconsistent, e.g. an interrupted rotation (status: also an
 * expired certificate); 3 usage or configuration error.
 */
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import type { Command } from "commander";
import { ConfigError } from "../config/errors.ts";
import { containsPrivateKeyBlock, normalisePem, PemError, parsePemBlocks } from "../lib/pem.ts";
import { OperationalError, PkiError } from "../pki/errors.ts";
import { assessStore, DEFAULT_WARN_DAYS, formatStatusTable, readX509 } from "../pki/status.ts";
import type { RotationKind, RotationPhase } from "../pki/rotation.ts";
import {
  ensurePrivateDir,
  ensurePublicDir,
  type FileToWrite,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  pathExists,
  readStoreFile,
  STORE_FILES,
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
import {
  type Context,
  environment,
  FAULT_ENV,
  MIN_PASSPHRASE_LENGTH,
  PASSPHRASE_ENV,
  type PkiOptions,
  passphrase,
  refuseInterrupted,
} from "./pki-context.ts";
import { CLOUDFLARE_BASE_URL_ENV, CLOUDFLARE_TOKEN_ENV, ROTATE_HELP, rotate } from "./pki-rotate.ts";

export { MIN_PASSPHRASE_LENGTH, PASSPHRASE_ENV };

/** Exit code of `status` when a renewal is due. */
export const EXIT_RENEWAL_DUE = 1;

/** Exit code when the store is inconsistent (an interrupted rotation, a certificate without its key), and of `status` for an expired certificate. */
export const EXIT_INCONSISTENT = 2;

/** Exit code of a usage or configuration error. */
export const EXIT_USAGE = 3;

const EXIT_CODES: CommandSpec["exitCodes"] = [
  [0, "done"],
  [1, "operational failure: wrong passphrase, refused overwrite, missing or corrupted file, expired CA,\nnot yet active at Cloudflare"],
  [
    2,
    "the store is inconsistent: an interrupted rotation (run the same command again to complete it),\na certificate without its key, a file changed during a rotation",
  ],
  [3, "usage or configuration error"],
];

const STATUS_EXIT_CODES: CommandSpec["exitCodes"] = [
  [0, "every certificate is fine"],
  [1, "a renewal is due (2/3 of a certificate's lifetime, or --warn-days before it stops working)"],
  [
    2,
    "a certificate has expired, or the store is inconsistent (an interrupted rotation, a certificate\nwithout its key, a client certificate its CA did not issue, an unreadable file)",
  ],
  [3, "usage or configuration error"],
];

const ENVIRONMENT = {
  title: "Environment",
  lines: [
    `${PASSPHRASE_ENV}  passphrase of the CA key (init-ca, issue-client, rotate client|ca begin);`,
    "                     never a flag, never printed",
  ],
};

const FINISH_ENVIRONMENT = {
  title: "Environment",
  lines: [
    `${CLOUDFLARE_TOKEN_ENV}  token with SSL and Certificates Read on edge.cloudflareZoneId: finish asks`,
    "                      Cloudflare whether the next certificate is active (or pass --confirmed-active)",
    `${CLOUDFLARE_BASE_URL_ENV}   the API's base URL (default https://api.cloudflare.com/client/v4)`,
    `${FAULT_ENV}  tests only: kill the process after journal step <n>`,
  ],
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
    summary: "every certificate of the environment, its state and when its renewal is due (for cron)",
    description: [
      "Lists every certificate of the private store: the CA (ca.pem), the next CA (ca-next.pem,",
      "during a CA rotation), the client certificate (client.pem) and the next one (client-next.pem),",
      "the origin certificate (origin.pem, origin-next.pem, when you saved them) and the retired ones",
      "(*-retired.pem), read with Node's crypto.X509Certificate: role, state (active, next, retired),",
      "condition (ok, renewal-due, expired), notAfter, days left, when renewal is due, and beside",
      "each leaf the notAfter of the CA that issued it.",
      "",
      "Renewal is due at 2/3 of a certificate's lifetime or --warn-days days (default 30) before it",
      "stops working (its own notAfter, or its CA's when that is earlier), whichever comes first.",
      "The store is inconsistent when a rotation was interrupted (rotation.json), a certificate has",
      "no key beside it or a key that is not its own, or a client certificate was not issued by its",
      "CA. Retired certificates never change the exit code.",
      "",
      "--json prints {store, now, warnDays, certificates: [...], rotations, interrupted, problems,",
      "warnings, exitCode}; otherwise a table on stdout and one line per warning or problem on stderr.",
    ].join("\n"),
    examples: ["npm run pki -- status --env prod", "npm run pki -- status --env prod --warn-days 60 --json"],
    options: (cmd) => {
      cmd.option("--json", "print the status as one JSON object instead of a table");
      addOption(
        cmd,
        "--warn-days <n>",
        `renewal is due at the latest <n> days before a certificate stops working (default: ${DEFAULT_WARN_DAYS})`,
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
  description: "Private CA and certificates of Cloudflare origin mTLS (Authenticated Origin Pulls), their status\nand their rotations.",
  sections: [
    { title: "Options of every command", lines: COMMON_OPTIONS.flatMap(([flag, help]) => optionLines(flag, help)) },
    {
      title: "Files",
      lines: [
        "The private store (pki.dir, git-ignored; or --dir <dir>) holds ca.key.pem, ca.pem,",
        "client.key.pem, client.pem, origin.key.pem, origin.csr.pem, origin.pem; during a rotation",
        "also *-next.*, afterwards *-retired.*, and rotation.json while a rotation command runs (or",
        "after it was interrupted); keys have mode 0600, the directory 0700. publish and rotate copy",
        "the public ones to pki.publicDir (or <dir>/public).",
      ],
    },
    ENVIRONMENT,
  ],
  exitCodes: EXIT_CODES,
  examples: [
    "npm run pki -- status --json",
    "npm run pki -- rotate client begin --env prod",
    "npm run pki -- init-ca --env prod",
    "npm run pki -- help rotate",
  ],
  usageExitCode: EXIT_USAGE,
};

function optionLines(flag: string, help: string): string[] {
  return help.split("\n").map((line, i) => `${(i === 0 ? flag : "").padEnd(16)}${line}`);
}

/** The kit's spec of a pki subcommand. */
function subSpec(name: string, description: string, examples: readonly string[], extra: Partial<CommandSpec> = {}): CommandSpec {
  return {
    where: `pki ${name}`,
    invocation: `npm run pki -- ${name}`,
    usage: "[options]",
    description,
    sections: [ENVIRONMENT],
    exitCodes: EXIT_CODES,
    examples,
    usageExitCode: EXIT_USAGE,
    ...extra,
  };
}

function contextFor(io: CliIo, command: string, values: PkiOptions): Context {
  return { io, command, values, now: io.now(), out: (line) => io.stdout(`${line}\n`), warn: (line) => io.stderr(`${line}\n`) };
}

function addCommonOptions(cmd: Command, forceHelp: string | undefined): void {
  addOption(cmd, "--env <name>", "environment: config/<name>.yaml (default: example)", nonEmpty("an environment name"));
  addOption(cmd, "--dir <dir>", COMMON_OPTIONS[1]?.[1] ?? "", nonEmpty("a directory"));
  if (forceHelp !== undefined) cmd.option("--force", forceHelp);
}

/**
 * Runs `pki` with `argv` (the arguments after `pki`); returns the exit code: 0, 1
 * (operational; status: renewal due), 2 (inconsistent store; status: also expired), 3 (usage or
 * configuration).
 */
export function main(argv: readonly string[], io: CliIo): Promise<number> {
  const program = defineCommand("pki", PKI_SPEC);
  setDispatcher(program);
  for (const sub of SUBCOMMANDS) {
    const cmd = defineCommand(
      sub.name,
      subSpec(sub.name, sub.description, sub.examples, sub.name === "status" ? { exitCodes: STATUS_EXIT_CODES } : {}),
    );
    sub.options(cmd, `pki ${sub.name}`);
    addCommonOptions(cmd, sub.name === "status" ? "accepted for uniformity; status writes nothing" : (COMMON_OPTIONS[2]?.[1] ?? ""));
    setAction<PkiOptions>(cmd, (values) => guard(() => sub.run(contextFor(io, sub.name, values))));
    addSubcommand(program, cmd, sub.summary);
  }
  addSubcommand(program, rotateCommand(io), "two-phase rotations: rotate <client|ca|origin> <begin|finish|abort>");
  return runAsync(program, argv, io);
}

const KINDS: readonly RotationKind[] = ["client", "ca", "origin"];
const PHASES: readonly RotationPhase[] = ["begin", "finish", "abort"];

/** `pki rotate <kind> <phase>`. */
function rotateCommand(io: CliIo): Command {
  const rotateSpec: CommandSpec = {
    where: "pki rotate",
    invocation: "npm run pki -- rotate",
    usage: "<client|ca|origin> <begin|finish|abort> [options]",
    description: [
      "Rotates a certificate without a window where none serves: begin adds the next one beside the",
      "current one (the plan carries both), a deploy uploads it, finish makes it current once it is",
      "active and retires the old one (the next deploy removes it); abort withdraws it. Each command",
      "is crash-safe: it writes its steps to <store>/rotation.json first, and a run killed at any",
      "point is completed by running the same command again. --dry-run prints what it would write",
      "and what changes in the plan; --json prints the report as JSON.",
    ].join("\n"),
    sections: [ENVIRONMENT],
    exitCodes: EXIT_CODES,
    examples: [
      "npm run pki -- rotate client begin --env prod",
      "npm run pki -- rotate client finish --env prod",
      "npm run pki -- rotate ca begin --dry-run",
    ],
    usageExitCode: EXIT_USAGE,
  };
  const rotateCmd = defineCommand("rotate", rotateSpec);
  setDispatcher(rotateCmd);
  for (const kind of KINDS) {
    const kindCmd = defineCommand(kind, {
      ...rotateSpec,
      where: `pki rotate ${kind}`,
      invocation: `npm run pki -- rotate ${kind}`,
      usage: "<begin|finish|abort> [options]",
      description: PHASES.map((p) => `${p}: ${ROTATE_HELP[kind][p].summary}`).join("\n"),
      examples: PHASES.map((p) => `npm run pki -- rotate ${kind} ${p} --env prod`),
    });
    setDispatcher(kindCmd);
    for (const phase of PHASES) {
      const name = `rotate ${kind} ${phase}`;
      const cmd = defineCommand(
        phase,
        subSpec(
          name,
          ROTATE_HELP[kind][phase].description,
          [`npm run pki -- ${name} --env prod`, `npm run pki -- ${name} --dry-run --json`],
          {
            sections: phase === "finish" && kind !== "origin" ? [ENVIRONMENT, FINISH_ENVIRONMENT] : [ENVIRONMENT],
          },
        ),
      );
      cmd.option("--dry-run", "print what it would write and what changes in the plan; write nothing");
      cmd.option("--json", "print the report as JSON");
      if (phase === "finish" && kind !== "origin") {
        cmd.option("--confirmed-active", "do not ask Cloudflare: you checked that the next certificate is Active");
      }
      if (phase === "begin" && kind === "ca") {
        addOption(cmd, "--bits <n>", "next CA key size: 3072 or 4096 (default: 3072)", oneOf(["3072", "4096"], "CA key size"));
      }
      addCommonOptions(cmd, undefined);
      setAction<PkiOptions>(cmd, (values) => guard(() => rotate(contextFor(io, name, values), kind, phase)));
      addSubcommand(kindCmd, cmd, ROTATE_HELP[kind][phase].summary);
    }
    addSubcommand(
      rotateCmd,
      kindCmd,
      `${kind === "ca" ? "the CA and its client certificate" : kind === "client" ? "the origin-pull client certificate" : "the origin key and certificate"}`,
    );
  }
  return rotateCmd;
}

/** The library's errors carry their exit code; a configuration error is a usage error (3). */
async function guard(run: () => number | Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof PkiError) throw new CliError(error.message, error.exitCode);
    if (error instanceof ConfigError) throw new CliError(error.message, EXIT_USAGE);
    throw error;
  }
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
  const env = await environment(ctx);
  refuseInterrupted(ctx, env);
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
  const env = await environment(ctx);
  refuseInterrupted(ctx, env);
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
  const env = await environment(ctx);
  refuseInterrupted(ctx, env);
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

async function status(ctx: Context): Promise<number> {
  const env = await environment(ctx);
  const result = assessStore(env.layout.privateDir, ctx.now, ctx.values.warnDays ?? DEFAULT_WARN_DAYS);
  if (ctx.values.json === true) ctx.io.stdout(`${JSON.stringify(result, null, 2)}\n`);
  else if (result.certificates.length > 0) ctx.io.stdout(formatStatusTable(result.certificates));
  for (const line of result.warnings) ctx.warn(line);
  for (const line of result.problems) ctx.warn(line);
  return result.exitCode;
}

function issuedBy(childPem: string, issuerPem: string): boolean {
  const child = new X509Certificate(childPem);
  const issuer = new X509Certificate(issuerPem);
  return child.checkIssued(issuer) && child.verify(issuer.publicKey);
}

async function publish(ctx: Context): Promise<number> {
  const env = await environment(ctx);
  refuseInterrupted(ctx, env);
  const sources: { readonly name: string; readonly required: boolean; readonly label: string }[] = [
    { name: STORE_FILES.caCert, required: true, label: "CERTIFICATE" },
    { name: STORE_FILES.caNextCert, required: false, label: "CERTIFICATE" },
    { name: STORE_FILES.clientCert, required: true, label: "CERTIFICATE" },
    { name: STORE_FILES.clientNextCert, required: false, label: "CERTIFICATE" },
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
  const nextClient = texts.get(STORE_FILES.clientNextCert);
  const nextIssuer = texts.get(STORE_FILES.caNextCert) ?? caText;
  if (nextClient !== undefined && !issuedBy(nextClient, nextIssuer)) {
    throw new OperationalError(
      `${env.file(STORE_FILES.clientNextCert)}: is not signed by ${env.file(texts.has(STORE_FILES.caNextCert) ? STORE_FILES.caNextCert : STORE_FILES.caCert)}; refusing to publish it. Run npm run pki -- rotate client abort (or rotate ca abort).`,
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

/**
 * The PKI store on disk: where each file lives, and writing files so that nothing is lost.
 *
 * Every write is atomic (a temp file in the same directory, opened `wx` with its final mode,
 * fsynced, then renamed or hard-linked into place, then the directory fsynced). A file that
 * exists is never replaced unless asked; when it is, it is first copied to
 * `<name>.bak-<UTC timestamp>` (mode 0600).
 */
import {
  chmodSync,
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { OperationalError } from "./errors.ts";

/** File names inside the private store (and, for the public ones, the public directory). */
export const STORE_FILES = {
  /** CA private key, encrypted PKCS#8 (0600). */
  caKey: "ca.key.pem",
  /** CA certificate. */
  caCert: "ca.pem",
  /** Client private key, unencrypted PKCS#8 (0600). */
  clientKey: "client.key.pem",
  /** Client certificate. */
  clientCert: "client.pem",
  /** Origin private key, unencrypted PKCS#8 (0600). */
  originKey: "origin.key.pem",
  /** CSR for the Cloudflare Origin CA certificate. */
  originCsr: "origin.csr.pem",
  /** Origin certificate from Cloudflare's Origin CA (placed here by the operator). */
  originCert: "origin.pem",
  /** During a CA rotation: the next CA's key (encrypted like `ca.key.pem`). */
  caNextKey: "ca-next.key.pem",
  /** During a CA rotation: the next CA's certificate (the TrustConfig's second anchor). */
  caNextCert: "ca-next.pem",
  /** During a client or CA rotation: the next client key. */
  clientNextKey: "client-next.key.pem",
  /** During a client or CA rotation: the next client certificate (the second AOP certificate). */
  clientNextCert: "client-next.pem",
  /** During an origin rotation: the next origin key. */
  originNextKey: "origin-next.key.pem",
  /** During an origin rotation: the CSR of the next origin key (published as `origin.csr.pem`). */
  originNextCsr: "origin-next.csr.pem",
  /** During an origin rotation: the certificate Cloudflare issued for the next CSR (placed here by the operator, optional). */
  originNextCert: "origin-next.pem",
  /** The CA the last CA rotation retired (kept with its key; the next rotation backs it up). */
  caRetiredKey: "ca-retired.key.pem",
  caRetiredCert: "ca-retired.pem",
  /** The client certificate the last client or CA rotation retired, or the one an abort withdrew. */
  clientRetiredKey: "client-retired.key.pem",
  clientRetiredCert: "client-retired.pem",
  /** The origin key, CSR and certificate the last origin rotation retired. */
  originRetiredKey: "origin-retired.key.pem",
  originRetiredCsr: "origin-retired.csr.pem",
  originRetiredCert: "origin-retired.pem",
  /** The journal of a rotation command under way (`pki/journal.ts`); present only while one runs or after it was interrupted. */
  journal: "rotation.json",
} as const;

/** Mode of private files (keys, backups). */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of public files (certificates, CSR). */
export const PUBLIC_FILE_MODE = 0o644;
/** Mode of the private store directory. */
export const PRIVATE_DIR_MODE = 0o700;

/** Where the private store and the public copies are. */
export interface StoreLayout {
  /** Private store: keys and the certificates beside them. */
  readonly privateDir: string;
  /** Public copies (`publish`): certificates and CSR only. */
  readonly publicDir: string;
}

/** Inputs of {@link resolveLayout}. */
export interface ResolveLayoutOptions {
  /** The repository root (absolute). */
  readonly repoRoot: string;
  /** `pki.dir` of the environment, relative to the repository root. */
  readonly configDir: string;
  /** `pki.publicDir` of the environment, relative to the repository root. */
  readonly configPublicDir: string;
  /**
   * `--dir`: everything under it, private files in it and public copies in `<dir>/public`;
   * relative paths resolve against `cwd`.
   * @default - the environment's pki.dir and pki.publicDir under the repository root
   */
  readonly dirOverride?: string;
  /**
   * Directory that a relative `dirOverride` is resolved against.
   * @default process.cwd()
   */
  readonly cwd?: string;
}

/** Resolves the store layout: `--dir DIR` gives DIR and DIR/public, otherwise the config's paths. */
export function resolveLayout(options: ResolveLayoutOptions): StoreLayout {
  if (options.dirOverride !== undefined) {
    const dir = resolve(options.cwd ?? process.cwd(), options.dirOverride);
    return { privateDir: dir, publicDir: join(dir, "public") };
  }
  return {
    privateDir: isAbsolute(options.configDir) ? options.configDir : resolve(options.repoRoot, options.configDir),
    publicDir: isAbsolute(options.configPublicDir) ? options.configPublicDir : resolve(options.repoRoot, options.configPublicDir),
  };
}

/** Names that may live in a private store: its files, their backups and temp files, the journal, `public/`. */
const STORE_ENTRY =
  /^((ca|client|origin)(-next|-retired)?(\.key|\.csr)?\.pem(\.bak-[0-9TZ-]+)?|rotation\.json|\.[a-z.-]+\.(pem|json)\.tmp-[0-9a-f]+|public)$/;

/**
 * Creates the private store directory with mode 0700. An existing one that group or others
 * can read is tightened to 0700 when it holds only store files (and that is said through
 * `warn`); a directory holding anything else (say `--dir .`) is left alone, with a warning.
 * @throws OperationalError when the path exists and is not a directory
 */
export function ensurePrivateDir(dir: string, warn: (message: string) => void): void {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    chmodSync(dir, PRIVATE_DIR_MODE);
    return;
  }
  const stat = statSync(dir);
  if (!stat.isDirectory()) throw new OperationalError(`${dir}: is not a directory. Pass --dir with a directory for the private store.`);
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    const foreign = readdirSync(dir).find((name) => !STORE_ENTRY.test(name));
    if (foreign !== undefined) {
      warn(
        `warning: ${dir}: private store directory has mode ${octal(mode)} and holds other files (${foreign}); left unchanged. Use a directory of its own, mode 0700.`,
      );
      return;
    }
    try {
      chmodSync(dir, PRIVATE_DIR_MODE);
      warn(`warning: ${dir}: private store directory had mode ${octal(mode)}; tightened to 0700.`);
    } catch {
      warn(`warning: ${dir}: private store directory has mode ${octal(mode)} and could not be changed. Run chmod 700 on it.`);
    }
  }
}

/** Creates a public directory (mode 0755 before umask) if it does not exist. */
export function ensurePublicDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new OperationalError(`${dir}: is not a directory. Check pki.publicDir or --dir.`);
    return;
  }
  mkdirSync(dir, { recursive: true, mode: 0o755 });
}

/** What to do when a target file exists. */
export type ExistingFilePolicy =
  /** Refuse (OperationalError) and leave everything unchanged: the default for keys. */
  | "refuse"
  /** Copy the old file to `<name>.bak-<UTC timestamp>` (0600), then replace it (`--force`). */
  | "backup"
  /** Replace it without a backup (public copies, which git keeps). */
  | "replace";

/** One file to write. */
export interface FileToWrite {
  /** Target path. */
  readonly path: string;
  /** Full content. */
  readonly content: string;
  /** Mode of the new file (0600 private, 0644 public). */
  readonly mode: number;
}

/** Outcome for one written file. */
export interface WrittenFile {
  /** Target path. */
  readonly path: string;
  /** Mode it was given. */
  readonly mode: number;
  /** Path of the backup of the file it replaced, if any. */
  readonly backupPath?: string;
}

/** Options of {@link writeFilesAtomically}. */
export interface WriteOptions {
  /** What to do with existing targets. */
  readonly existing: ExistingFilePolicy;
  /** Clock for backup names. */
  readonly now: Date;
  /**
   * Text of the fix in the refusal message.
   * @default "Pass --force to replace it (the old file is kept as <name>.bak-<UTC timestamp>)."
   */
  readonly refuseFix?: string;
}

/**
 * Writes a set of files atomically (each one; all temp files are written and fsynced before
 * any target is touched). With `existing: "refuse"` nothing is written when any target
 * exists, and the final step uses link(2), which itself fails if the target appeared meanwhile.
 * @throws OperationalError `<path>: already exists; refusing to overwrite it. <fix>`
 */
export function writeFilesAtomically(files: readonly FileToWrite[], options: WriteOptions): WrittenFile[] {
  const fix = options.refuseFix ?? "Pass --force to replace it (the old file is kept as <name>.bak-<UTC timestamp>).";
  if (options.existing === "refuse") {
    const present = files.find((f) => pathExists(f.path));
    if (present) throw refusal(present.path, fix);
  }
  const temps: string[] = [];
  try {
    for (const file of files) temps.push(writeTemp(file));
    const written: WrittenFile[] = [];
    const linked: string[] = [];
    files.forEach((file, i) => {
      const temp = temps[i] ?? "";
      if (options.existing === "refuse") {
        try {
          linkSync(temp, file.path);
        } catch (error) {
          if (errorCode(error) === "EEXIST") {
            for (const path of linked) unlinkSync(path);
            throw refusal(file.path, fix);
          }
          throw error;
        }
        linked.push(file.path);
        unlinkSync(temp);
        written.push({ path: file.path, mode: file.mode });
      } else {
        const backupPath = options.existing === "backup" && pathExists(file.path) ? backupFile(file.path, options.now) : undefined;
        renameSync(temp, file.path);
        written.push(backupPath === undefined ? { path: file.path, mode: file.mode } : { path: file.path, mode: file.mode, backupPath });
      }
      fsyncDir(dirname(file.path));
    });
    return written;
  } finally {
    for (const temp of temps) {
      if (pathExists(temp)) unlinkSync(temp);
    }
  }
}

/** The backup name of `path` at `now`: `<path>.bak-YYYYMMDDTHHMMSSZ`. */
export function backupPathFor(path: string, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
  return `${path}.bak-${stamp}`;
}

/**
 * Copies `path` to its backup name (mode 0600, fsynced, never overwriting an earlier backup:
 * `-2`, `-3`, ... are appended on a clash).
 * @returns the backup's path
 */
export function backupFile(path: string, now: Date): string {
  const content = readFileSync(path);
  const base = backupPathFor(path, now);
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    let fd: number;
    try {
      fd = openSync(candidate, "wx", PRIVATE_FILE_MODE);
    } catch (error) {
      if (errorCode(error) === "EEXIST") continue;
      throw error;
    }
    try {
      fchmodSync(fd, PRIVATE_FILE_MODE);
      writeAll(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    fsyncDir(dirname(path));
    return candidate;
  }
}

/**
 * Reads a store file as text.
 * @param hint the fix when the file is missing, e.g. "Run `npm run pki -- init-ca` first."
 * @throws OperationalError `<path>: does not exist. <hint>`
 */
export function readStoreFile(path: string, hint: string): string {
  if (!pathExists(path)) throw new OperationalError(`${path}: does not exist. ${hint}`);
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new OperationalError(`${path}: cannot be read (${errorCode(error) ?? "error"}). Check its permissions.`);
  }
}

/** A warning when a private file can be read by group or others, else undefined. */
export function loosePermissionWarning(path: string): string | undefined {
  if (!pathExists(path)) return undefined;
  const mode = statSync(path).mode & 0o777;
  return (mode & 0o077) !== 0 ? `warning: ${path}: private key file has mode ${octal(mode)}; run chmod 600 on it.` : undefined;
}

/** True when something (even a dangling symlink) exists at `path`. */
export function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes one file atomically, replacing whatever is at `path`: a temp file in the same
 * directory (mode `mode`, fsynced), renamed over the target, then the directory fsynced.
 * A reader sees the old file or the new one, never a part.
 */
export function replaceFileAtomically(path: string, content: string | Buffer, mode: number): void {
  const temp = writeTemp({ path, content, mode });
  try {
    renameSync(temp, path);
  } finally {
    if (pathExists(temp)) unlinkSync(temp);
  }
  fsyncDir(dirname(path));
}

/**
 * Writes a new file atomically (temp file, fsync, link(2) into place, directory fsync); fails
 * with EEXIST, leaving it alone, when something is already at `path`.
 */
export function createFileAtomically(path: string, content: string | Buffer, mode: number): void {
  const temp = writeTemp({ path, content, mode });
  try {
    linkSync(temp, path);
  } finally {
    unlinkSync(temp);
  }
  fsyncDir(dirname(path));
}

/** Temp files `writeTemp` leaves beside `path` when a process is killed mid-write (`.<name>.tmp-<hex>`). */
export function strayTempFiles(path: string): string[] {
  const prefix = `.${basename(path)}.tmp-`;
  try {
    return readdirSync(dirname(path))
      .filter((name) => name.startsWith(prefix) && /^[0-9a-f]+$/.test(name.slice(prefix.length)))
      .map((name) => join(dirname(path), name));
  } catch {
    return [];
  }
}

function writeTemp(file: { readonly path: string; readonly content: string | Buffer; readonly mode: number }): string {
  const temp = join(dirname(file.path), `.${basename(file.path)}.tmp-${randomBytes(6).toString("hex")}`);
  const fd = openSync(temp, "wx", file.mode);
  try {
    fchmodSync(fd, file.mode);
    writeAll(fd, typeof file.content === "string" ? Buffer.from(file.content, "utf8") : file.content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return temp;
}

function writeAll(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
}

/** fsyncs a directory (after a rename or unlink in it), where the platform allows it. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Directory fsync is not supported everywhere; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function refusal(path: string, fix: string): OperationalError {
  return new OperationalError(`${path}: already exists; refusing to overwrite it. ${fix}`);
}

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, "0")}`;
}

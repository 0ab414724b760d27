/**
 * The rotations of origin protection's certificates, as lists of file operations for the
 * journal (`journal.ts`). Pure planning: what a command reads from the store and what it
 * generated go in; the steps, the content of new keys (kept out of the journal) and a
 * description of what changes come out. Nothing here writes.
 *
 * Two-phase, like Cloudflare's zero-downtime procedure for zone-level AOP (upload the new
 * certificate, wait until it is `active`, then delete the old one):
 * - `begin` adds the next certificate beside the current one (`client-next.pem`, and for a CA
 *   rotation `ca-next.pem`), in the store and in the public directory: the plan then carries
 *   both, so a deploy uploads the new one while the old one still serves;
 * - `finish` makes the next one current and retires the old one (kept as `*-retired.*`, its
 *   previous occupant backed up): the next deploy removes it;
 * - `abort` withdraws the next one (retired the same way) and the public copies.
 * The origin rotation changes the origin key and CSR: `begin` publishes the new CSR (the plan
 * replaces the Origin CA certificate and the served certificate, each created before the old one
 * goes), `finish` makes the new key current in the store.
 *
 * Order inside each plan: a key is written before its certificate and a certificate removed
 * before its key, so at every step each certificate in the store has its key beside it; a key
 * is replaced only after a copy of it exists (backup or retired file). Public files change last.
 */
import { join } from "node:path";
import { type Journal, JOURNAL_FORMAT, type JournalStep, sha256Hex } from "./journal.ts";
import { OperationalError } from "./errors.ts";
import { backupPathFor, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, STORE_FILES } from "./store.ts";

/** What is rotated. */
export type RotationKind = "client" | "ca" | "origin";

/** The phases of a rotation. */
export type RotationPhase = "begin" | "finish" | "abort";

/** Reads a file's current content (null: no file); the planner reads through it so tests can give their own. */
export type ReadFile = (path: string) => Buffer | null;

/** A planned rotation command. */
export interface RotationPlan {
  readonly journal: Journal;
  /** Content of the new keys, by path (never in the journal). */
  readonly secrets: ReadonlyMap<string, string>;
}

/** Builds a journal's steps, tracking what each file will hold after the steps so far. */
export class PlanBuilder {
  private readonly steps: JournalStep[] = [];
  private readonly secrets = new Map<string, string>();
  private readonly contents = new Map<string, Buffer | null>();
  private readonly backups = new Set<string>();

  constructor(
    readonly storeDir: string,
    readonly publicDir: string,
    readonly now: Date,
    private readonly read: ReadFile,
  ) {}

  /** A store file's path. */
  store(name: string): string {
    return join(this.storeDir, name);
  }

  /** A public file's path. */
  public(name: string): string {
    return join(this.publicDir, name);
  }

  /** What `path` holds after the steps planned so far. */
  content(path: string): Buffer | null {
    if (!this.contents.has(path)) this.contents.set(path, this.read(path));
    return this.contents.get(path) ?? null;
  }

  /** True when `path` exists after the steps planned so far. */
  exists(path: string): boolean {
    return this.content(path) !== null;
  }

  private hash(path: string): string | null {
    const c = this.content(path);
    return c === null ? null : sha256Hex(c);
  }

  /** A new key that only this run's memory holds; `path` must not exist. */
  newKey(path: string, pem: string, what: string): void {
    if (this.exists(path))
      throw new OperationalError(`${path}: already exists; refusing to overwrite a key. Finish or abort the rotation it belongs to.`);
    this.steps.push({ op: "write", path, what, sha256: sha256Hex(pem), before: null, mode: PRIVATE_FILE_MODE, secret: true });
    this.secrets.set(path, pem);
    this.contents.set(path, Buffer.from(pem));
  }

  /** Writes public text (a certificate, a CSR); nothing when the file already holds it. */
  writeText(path: string, text: string, what: string): void {
    const before = this.hash(path);
    const sha = sha256Hex(text);
    if (before === sha) return;
    this.steps.push({ op: "write", path, what, sha256: sha, before, mode: PUBLIC_FILE_MODE, content: text });
    this.contents.set(path, Buffer.from(text));
  }

  /** Copies `from`'s planned content to `path` (a key, mode 0600; a certificate, its text). */
  copy(from: string, path: string, what: string, mode: number): void {
    const content = this.content(from);
    if (content === null) throw new Error(`plan: ${from} does not exist to copy to ${path}`);
    const before = this.hash(path);
    const sha = sha256Hex(content);
    if (before === sha) return;
    if (mode === PUBLIC_FILE_MODE) {
      this.steps.push({ op: "write", path, what, sha256: sha, before, mode, content: content.toString("utf8") });
    } else {
      this.steps.push({ op: "write", path, what, sha256: sha, before, mode, from });
    }
    this.contents.set(path, content);
  }

  /** Copies `path` to `<path>.bak-<UTC timestamp>` (0600) when it exists. */
  backup(path: string, what: string): void {
    const content = this.content(path);
    if (content === null) return;
    const base = backupPathFor(path, this.now);
    let target = base;
    for (let n = 2; this.exists(target) || this.backups.has(target); n++) target = `${base}-${n}`;
    this.backups.add(target);
    this.steps.push({ op: "copy", path: target, from: path, what: `backup of ${what}`, sha256: sha256Hex(content) });
    this.contents.set(target, content);
  }

  /** Removes `path` when it exists. */
  remove(path: string, what: string): void {
    const before = this.hash(path);
    if (before === null) return;
    this.steps.push({ op: "remove", path, what, before });
    this.contents.set(path, null);
  }

  /** The journal of these steps. */
  build(command: string): RotationPlan {
    return {
      journal: {
        format: JOURNAL_FORMAT,
        command,
        startedAt: this.now.toISOString(),
        storeDir: this.storeDir,
        publicDir: this.publicDir,
        steps: [...this.steps],
        done: 0,
      },
      secrets: new Map(this.secrets),
    };
  }
}

/** A certificate with its key file and, optionally, a CSR, by store file names. */
interface Pair {
  readonly key: string;
  readonly cert: string;
  readonly csr?: string;
  readonly label: string;
}

const PAIRS = {
  ca: { key: STORE_FILES.caKey, cert: STORE_FILES.caCert, label: "CA" },
  caNext: { key: STORE_FILES.caNextKey, cert: STORE_FILES.caNextCert, label: "next CA" },
  caRetired: { key: STORE_FILES.caRetiredKey, cert: STORE_FILES.caRetiredCert, label: "retired CA" },
  client: { key: STORE_FILES.clientKey, cert: STORE_FILES.clientCert, label: "client" },
  clientNext: { key: STORE_FILES.clientNextKey, cert: STORE_FILES.clientNextCert, label: "next client" },
  clientRetired: { key: STORE_FILES.clientRetiredKey, cert: STORE_FILES.clientRetiredCert, label: "retired client" },
  origin: { key: STORE_FILES.originKey, cert: STORE_FILES.originCert, csr: STORE_FILES.originCsr, label: "origin" },
  originNext: { key: STORE_FILES.originNextKey, cert: STORE_FILES.originNextCert, csr: STORE_FILES.originNextCsr, label: "next origin" },
  originRetired: {
    key: STORE_FILES.originRetiredKey,
    cert: STORE_FILES.originRetiredCert,
    csr: STORE_FILES.originRetiredCsr,
    label: "retired origin",
  },
} as const satisfies Record<string, Pair>;

/**
 * Moves the pair `from` into `to` (its certificate and CSR removed before its key, so no
 * certificate is ever left without its key), backing up whatever `to` held first unless
 * `backupTarget` is false (it was just copied to the retired files). `from`'s files stay
 * unless `removeFrom`.
 */
function movePair(b: PlanBuilder, from: Pair, to: Pair, removeFrom: boolean, backupTarget = true): void {
  const files = (p: Pair): [string, string, number][] => [
    [p.cert, `${p.label} certificate`, PUBLIC_FILE_MODE],
    ...(p.csr === undefined ? [] : [[p.csr, `${p.label} CSR`, PUBLIC_FILE_MODE] as [string, string, number]]),
    [p.key, `${p.label} key`, PRIVATE_FILE_MODE],
  ];
  const target = files(to);
  const source = files(from);
  // What `to` holds is kept: backed up, then its certificate and CSR go before its key is replaced.
  if (backupTarget) {
    for (const [name, what] of target) if (b.exists(b.store(name)) && !sameContent(b, from, to, name)) b.backup(b.store(name), what);
  }
  for (const [name, what] of target.slice(0, -1)) b.remove(b.store(name), what);
  // Key first, then the certificate and CSR that need it.
  const [keyName, keyWhat] = target[target.length - 1] as [string, string, number];
  const [fromKey] = source[source.length - 1] as [string, string, number];
  if (b.exists(b.store(fromKey))) b.copy(b.store(fromKey), b.store(keyName), keyWhat, PRIVATE_FILE_MODE);
  target.slice(0, -1).forEach(([name, what, mode], i) => {
    const [fromName] = source[i] as [string, string, number];
    if (b.exists(b.store(fromName))) b.copy(b.store(fromName), b.store(name), what, mode);
  });
  if (removeFrom) {
    for (const [name, what] of source.slice(0, -1)) b.remove(b.store(name), what);
    const [name, what] = source[source.length - 1] as [string, string, number];
    b.remove(b.store(name), what);
  }
}

function sameContent(b: PlanBuilder, from: Pair, to: Pair, toName: string): boolean {
  const index = [to.cert, to.csr, to.key].indexOf(toName);
  const fromName = [from.cert, from.csr, from.key][index];
  if (fromName === undefined) return false;
  const a = b.content(b.store(toName));
  const c = b.content(b.store(fromName));
  return a !== null && c !== null && a.equals(c);
}

/** New material of `rotate client begin`. */
export interface NextClient {
  readonly keyPem: string;
  readonly certPem: string;
}

/** `rotate client begin`: the next client key and certificate, in the store and (the certificate) in the public directory. */
export function planClientBegin(b: PlanBuilder, next: NextClient): RotationPlan {
  b.newKey(b.store(STORE_FILES.clientNextKey), next.keyPem, "the next client key");
  b.writeText(b.store(STORE_FILES.clientNextCert), next.certPem, "the next client certificate");
  b.writeText(b.public(STORE_FILES.clientNextCert), next.certPem, "public copy: the plan uploads it as a second AOP certificate");
  return b.build("rotate client begin");
}

/** `rotate client finish`: the next client certificate becomes current; the current one is retired. */
export function planClientFinish(b: PlanBuilder): RotationPlan {
  promoteClient(b);
  return b.build("rotate client finish");
}

function promoteClient(b: PlanBuilder): void {
  movePair(b, PAIRS.client, PAIRS.clientRetired, false);
  b.remove(b.store(STORE_FILES.clientCert), "the retired client certificate's old place");
  movePair(b, PAIRS.clientNext, PAIRS.client, true, false);
  const cert = b.content(b.store(STORE_FILES.clientCert));
  if (cert === null) throw new Error("plan: no next client certificate to promote");
  b.writeText(b.public(STORE_FILES.clientCert), cert.toString("utf8"), "public copy: the plan's only AOP certificate");
  b.remove(b.public(STORE_FILES.clientNextCert), "public copy of the next client certificate (now client.pem)");
}

/** `rotate client abort`: the next client certificate is withdrawn (kept as the retired one). */
export function planClientAbort(b: PlanBuilder): RotationPlan {
  b.remove(b.public(STORE_FILES.clientNextCert), "public copy: the plan drops the next AOP certificate");
  movePair(b, PAIRS.clientNext, PAIRS.clientRetired, true);
  return b.build("rotate client abort");
}

/** New material of `rotate ca begin`. */
export interface NextCa {
  /** The next CA's key, encrypted like `ca.key.pem`. */
  readonly caKeyPem: string;
  readonly caCertPem: string;
  /** The client certificate the next CA issued, and its key. */
  readonly clientKeyPem: string;
  readonly clientCertPem: string;
}

/** `rotate ca begin`: the next CA and a client certificate it issued, in the store and (certificates) in the public directory. */
export function planCaBegin(b: PlanBuilder, next: NextCa): RotationPlan {
  b.newKey(b.store(STORE_FILES.caNextKey), next.caKeyPem, "the next CA key (encrypted)");
  b.newKey(b.store(STORE_FILES.clientNextKey), next.clientKeyPem, "the next client key");
  b.writeText(b.store(STORE_FILES.caNextCert), next.caCertPem, "the next CA certificate");
  b.writeText(b.store(STORE_FILES.clientNextCert), next.clientCertPem, "the client certificate of the next CA");
  b.writeText(b.public(STORE_FILES.caNextCert), next.caCertPem, "public copy: the TrustConfig's second anchor");
  b.writeText(b.public(STORE_FILES.clientNextCert), next.clientCertPem, "public copy: the plan uploads it as a second AOP certificate");
  return b.build("rotate ca begin");
}

/** `rotate ca finish`: the next CA and its client certificate become current; the old ones are retired. */
export function planCaFinish(b: PlanBuilder): RotationPlan {
  promoteClient(b);
  movePair(b, PAIRS.ca, PAIRS.caRetired, false);
  b.remove(b.store(STORE_FILES.caCert), "the retired CA certificate's old place");
  movePair(b, PAIRS.caNext, PAIRS.ca, true, false);
  const ca = b.content(b.store(STORE_FILES.caCert));
  if (ca === null) throw new Error("plan: no next CA certificate to promote");
  b.writeText(b.public(STORE_FILES.caCert), ca.toString("utf8"), "public copy: the TrustConfig's only anchor");
  b.remove(b.public(STORE_FILES.caNextCert), "public copy of the next CA (now ca.pem)");
  return b.build("rotate ca finish");
}

/**
 * `rotate ca abort`: the next CA's client certificate is withdrawn first (kept as the retired
 * one), then, on a second run after a deploy, the next CA itself.
 */
export function planCaAbort(b: PlanBuilder): RotationPlan {
  // Two runs with a deploy between while the next client certificate exists: Cloudflare may
  // present it (active and newest) until its deletion completes, so the next CA stays trusted
  // until then; the second run withdraws the CA.
  if (b.exists(b.store(STORE_FILES.clientNextCert))) {
    b.remove(b.public(STORE_FILES.clientNextCert), "public copy: the plan drops the next AOP certificate (both CAs stay trusted)");
    movePair(b, PAIRS.clientNext, PAIRS.clientRetired, true);
  } else {
    b.remove(b.public(STORE_FILES.caNextCert), "public copy: the TrustConfig drops the next anchor");
    movePair(b, PAIRS.caNext, PAIRS.caRetired, true);
  }
  return b.build("rotate ca abort");
}

/** New material of `rotate origin begin`. */
export interface NextOrigin {
  readonly keyPem: string;
  readonly csrPem: string;
}

/** `rotate origin begin`: a new origin key and CSR; the public CSR is replaced (the plan then replaces the served certificate). */
export function planOriginBegin(b: PlanBuilder, next: NextOrigin): RotationPlan {
  b.newKey(b.store(STORE_FILES.originNextKey), next.keyPem, "the next origin key");
  b.writeText(b.store(STORE_FILES.originNextCsr), next.csrPem, "the CSR of the next origin key");
  b.writeText(b.public(STORE_FILES.originCsr), next.csrPem, "public copy: the plan issues and serves a certificate for it");
  return b.build("rotate origin begin");
}

/** `rotate origin finish`: the next origin key and CSR become current; the old ones are retired. */
export function planOriginFinish(b: PlanBuilder): RotationPlan {
  movePair(b, PAIRS.origin, PAIRS.originRetired, false);
  b.remove(b.store(STORE_FILES.originCert), "the retired origin certificate's old place");
  b.remove(b.store(STORE_FILES.originCsr), "the retired origin CSR's old place");
  movePair(b, PAIRS.originNext, PAIRS.origin, true, false);
  return b.build("rotate origin finish");
}

/** `rotate origin abort`: the public CSR goes back to the current one; the next key and CSR are retired. */
export function planOriginAbort(b: PlanBuilder): RotationPlan {
  const current = b.content(b.store(STORE_FILES.originCsr));
  if (current === null) {
    throw new OperationalError(
      `${b.store(STORE_FILES.originCsr)}: does not exist, so the public CSR cannot go back to it. Restore it from its backup, then run the abort again.`,
    );
  }
  b.writeText(b.public(STORE_FILES.originCsr), current.toString("utf8"), "public copy: back to the current origin CSR");
  movePair(b, PAIRS.originNext, PAIRS.originRetired, true);
  return b.build("rotate origin abort");
}

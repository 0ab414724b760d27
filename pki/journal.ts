/**
 * The journal of a rotation command (`<store>/rotation.json`): what makes a rotation killed at
 * any point resumable by running the same command again.
 *
 * A command first works out every file operation it will do (a {@link JournalStep} each: write
 * one file, copy one file to a backup, remove one file), with the SHA-256 of the content each
 * file must have afterwards and of the content it must have before. It writes that list as the
 * journal (atomically, refusing if one exists), then runs the steps in order, writing the
 * journal again (atomically) with the count of steps done before each next step, and removes
 * it after the last. Every step is idempotent and checked by content: a step whose target
 * already has its final content is skipped, one whose target has neither its final nor its
 * prior content stops the run (someone changed the file; exit 2). So a run killed between any
 * two writes, or in the middle of one (writes are atomic: a temp file renamed into place), is
 * completed by running the command again: it reads the journal and continues from the first
 * step not done. Resuming never needs the passphrase: certificates and CSRs are public and are
 * kept in the journal; keys are never in it (only their SHA-256). A new key comes from the
 * command's memory on its first run and is always among the first steps; if the process died
 * before it was written, nothing after it happened, and the files written before it (other new
 * keys) are moved to backups and the command starts over.
 */
import { createHash } from "node:crypto";
import { readFileSync, renameSync, unlinkSync } from "node:fs";
import { basename, dirname } from "node:path";
import { InconsistentStoreError } from "./errors.ts";
import {
  backupPathFor,
  createFileAtomically,
  fsyncDir,
  PRIVATE_FILE_MODE,
  pathExists,
  replaceFileAtomically,
  strayTempFiles,
} from "./store.ts";

/** Version of the journal's shape. */
export const JOURNAL_FORMAT = 1;

/** Write one file (replacing what is there) with given content. */
export interface WriteStep {
  readonly op: "write";
  /** Target (absolute). */
  readonly path: string;
  /** What the file is, for people: `the next client key`. */
  readonly what: string;
  /** SHA-256 (hex) of the file's content after the step. */
  readonly sha256: string;
  /** SHA-256 of the file's content before the step, or null when it did not exist. */
  readonly before: string | null;
  /** Mode of the written file. */
  readonly mode: number;
  /** The content, for public files (certificates, CSRs). */
  readonly content?: string;
  /** A file whose content is copied (a key moving from `*-next` to its place); it must hash to `sha256`. */
  readonly from?: string;
  /** A new key: its content is only in the first run's memory, never in the journal. */
  readonly secret?: boolean;
}

/** Copy one file to a new name that must not exist (a backup), mode 0600. */
export interface CopyStep {
  readonly op: "copy";
  /** The new file (absolute). */
  readonly path: string;
  readonly what: string;
  /** The file copied. */
  readonly from: string;
  /** SHA-256 of the content copied. */
  readonly sha256: string;
}

/** Remove one file. */
export interface RemoveStep {
  readonly op: "remove";
  readonly path: string;
  readonly what: string;
  /** SHA-256 of the content removed. */
  readonly before: string;
}

/** One file operation of a rotation. */
export type JournalStep = WriteStep | CopyStep | RemoveStep;

/** The journal as stored in `rotation.json`. */
export interface Journal {
  readonly format: typeof JOURNAL_FORMAT;
  /** The command that wrote it, as typed after `npm run pki --`: `rotate client begin`. */
  readonly command: string;
  /** When it started (ISO 8601): backup names use it. */
  readonly startedAt: string;
  /** The private store and the public directory it works on. */
  readonly storeDir: string;
  readonly publicDir: string;
  readonly steps: readonly JournalStep[];
  /** Steps done before the next one started. */
  readonly done: number;
}

/** SHA-256 of text or bytes, hex. */
export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** SHA-256 of a file's content, or null when there is no file. */
export function fileSha256(path: string): string | null {
  if (!pathExists(path)) return null;
  return sha256Hex(readFileSync(path));
}

/**
 * Reads the journal at `path`.
 * @returns undefined when there is none
 * @throws InconsistentStoreError when it cannot be read as a journal
 */
export function readJournal(path: string): Journal | undefined {
  if (!pathExists(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new InconsistentStoreError(
      `${path}: is not a rotation journal (got ${(error as Error).message.split("\n")[0]}). Restore it from a backup, or remove it after checking every *-next file by hand (pki/README.md, "Crash safety").`,
    );
  }
  const j = parsed as Partial<Journal>;
  if (
    j.format !== JOURNAL_FORMAT ||
    typeof j.command !== "string" ||
    typeof j.startedAt !== "string" ||
    !Array.isArray(j.steps) ||
    typeof j.done !== "number"
  ) {
    throw new InconsistentStoreError(
      `${path}: is not a rotation journal of format ${JOURNAL_FORMAT} (got ${JSON.stringify(j.format ?? null)}). Finish it with the version of plue-infra that wrote it.`,
    );
  }
  return j as Journal;
}

/** A step that cannot run: the first run's memory held its content. */
class LostSecret extends Error {}

/** What {@link runJournal} needs beside the journal. */
export interface RunJournalOptions {
  /** Where the journal lives. */
  readonly journalPath: string;
  /** Content of the secret steps, by path: only on the run that planned them. */
  readonly secrets?: ReadonlyMap<string, string>;
  /**
   * Called after step `n` wrote (n = 0: the journal was first written), before the journal
   * records it: the fault-injection hook of the tests (`PLUE_PKI_FAULT_AFTER_STEP`).
   */
  readonly afterStep?: (n: number) => void;
}

/** What a run did. */
export interface JournalOutcome {
  /** Steps this run carried out (not skipped as already done). */
  readonly applied: readonly JournalStep[];
  /** True when the run continued an interrupted one. */
  readonly resumed: boolean;
}

/**
 * Starts `journal` (refusing if a journal exists) and runs it to the end.
 * @throws InconsistentStoreError when a file changed behind the journal's back
 */
export function startJournal(journal: Journal, options: RunJournalOptions): JournalOutcome {
  checkShape(journal);
  createFileAtomically(options.journalPath, serialise(journal), PRIVATE_FILE_MODE);
  options.afterStep?.(0);
  return runJournal(journal, options, false);
}

/**
 * Continues an interrupted journal from its first step not done.
 * @returns the outcome, or `"restart"` when a new key was lost with the process that made it:
 * the files written before it were moved to backups and the journal removed, so the command
 * starts over
 */
export function resumeJournal(journal: Journal, options: RunJournalOptions): JournalOutcome | "restart" {
  checkShape(journal);
  try {
    return runJournal(journal, options, true);
  } catch (error) {
    if (!(error instanceof LostSecret)) throw error;
    rollBackNewKeys(journal, options.journalPath);
    return "restart";
  }
}

function runJournal(journal: Journal, options: RunJournalOptions, resumed: boolean): JournalOutcome {
  const applied: JournalStep[] = [];
  for (let i = journal.done; i < journal.steps.length; i++) {
    const step = journal.steps[i] as JournalStep;
    if (i > journal.done) replaceFileAtomically(options.journalPath, serialise({ ...journal, done: i }), PRIVATE_FILE_MODE);
    if (applyStep(step, options.secrets)) applied.push(step);
    options.afterStep?.(i + 1);
  }
  unlinkSync(options.journalPath);
  fsyncDir(dirname(options.journalPath));
  return { applied, resumed };
}

/** Does one step unless it is done; true when it wrote something. */
function applyStep(step: JournalStep, secrets: ReadonlyMap<string, string> | undefined): boolean {
  for (const temp of strayTempFiles(step.path)) unlinkSync(temp);
  const current = fileSha256(step.path);
  switch (step.op) {
    case "write": {
      if (current === step.sha256) return false;
      if (current !== step.before) throw changed(step.path, current, [step.before, step.sha256]);
      const content = step.content ?? (step.from !== undefined ? readFileSync(step.from) : secrets?.get(step.path));
      if (content === undefined) throw new LostSecret(step.path);
      const got = sha256Hex(content);
      if (got !== step.sha256) throw changed(step.from ?? step.path, got, [step.sha256]);
      replaceFileAtomically(step.path, content, step.mode);
      return true;
    }
    case "copy": {
      if (current === step.sha256) return false;
      if (current !== null) throw changed(step.path, current, [null, step.sha256]);
      const content = readFileSync(step.from);
      if (sha256Hex(content) !== step.sha256) throw changed(step.from, sha256Hex(content), [step.sha256]);
      createFileAtomically(step.path, content, PRIVATE_FILE_MODE);
      return true;
    }
    case "remove": {
      if (current === null) return false;
      if (current !== step.before) throw changed(step.path, current, [step.before, null]);
      unlinkSync(step.path);
      fsyncDir(dirname(step.path));
      return true;
    }
  }
}

function changed(path: string, got: string | null, expected: readonly (string | null)[]): InconsistentStoreError {
  const shown = (h: string | null): string => (h === null ? "no file" : `sha256 ${h.slice(0, 12)}`);
  return new InconsistentStoreError(
    `${path}: changed while a rotation was under way (got ${shown(got)}, expected ${expected.map(shown).join(" or ")}). Put the file back as the rotation left it (its backup is beside it), then run the same command again.`,
  );
}

/** Secret steps come first, and only write files that did not exist: what makes {@link rollBackNewKeys} safe. */
function checkShape(journal: Journal): void {
  let seenOther = false;
  for (const step of journal.steps) {
    if (step.op === "write" && step.secret === true) {
      if (seenOther || step.before !== null) throw new Error(`journal: secret step ${step.path} is not a new file at the start`);
    } else {
      seenOther = true;
    }
  }
}

/**
 * Undoes the start of a journal whose new key was lost: each new key already written is
 * renamed to its backup name (never deleted), then the journal is removed.
 */
function rollBackNewKeys(journal: Journal, journalPath: string): void {
  const startedAt = new Date(journal.startedAt);
  for (const step of journal.steps) {
    if (step.op !== "write" || step.secret !== true) break;
    for (const temp of strayTempFiles(step.path)) unlinkSync(temp);
    if (fileSha256(step.path) !== step.sha256) continue;
    let target = backupPathFor(step.path, startedAt);
    for (let n = 2; pathExists(target); n++) target = `${backupPathFor(step.path, startedAt)}-${n}`;
    renameSync(step.path, target);
    fsyncDir(dirname(step.path));
  }
  unlinkSync(journalPath);
  fsyncDir(dirname(journalPath));
}

function serialise(journal: Journal): string {
  return `${JSON.stringify(journal, null, 2)}\n`;
}

/** One line per step, for `--dry-run` and the command's report: `write <path> (<what>)`. */
export function describeStep(step: JournalStep, relativeTo: (path: string) => string = (p) => p): string {
  switch (step.op) {
    case "write":
      return `${step.before === null ? "create" : "replace"} ${relativeTo(step.path)} (${step.what}, mode 0${step.mode.toString(8)})`;
    case "copy":
      return `back up ${relativeTo(step.from)} -> ${basename(step.path)} (${step.what}, mode 0600)`;
    case "remove":
      return `remove ${relativeTo(step.path)} (${step.what})`;
  }
}

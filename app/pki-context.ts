/**
 * What every `npm run pki` command shares: its context (io, options, clock), the environment
 * (configuration through the validated-config cache, store layout), the passphrase, and the
 * guard that refuses to work on a store whose rotation was interrupted.
 */
import { join } from "node:path";
import { loadConfigCached } from "../config/cached-config.ts";
import type { PlueConfig } from "../config/schema.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import { InconsistentStoreError, UsageError } from "../pki/errors.ts";
import { readJournal } from "../pki/journal.ts";
import { resolveLayout, STORE_FILES, type StoreLayout } from "../pki/store.ts";
import type { CliIo } from "./cli/kit.ts";

/** The only source of the CA key passphrase (never a flag, never printed). */
export const PASSPHRASE_ENV = "PLUE_PKI_PASSPHRASE";

/** Shortest passphrase accepted when a CA key is created. */
export const MIN_PASSPHRASE_LENGTH = 12;

/**
 * Test-only fault injection: a rotation command given `PLUE_PKI_FAULT_AFTER_STEP=<n>` kills
 * its own process (SIGKILL) right after its journal step `n` wrote (0: after the journal was
 * first written). Unset, nothing reads it beyond this check.
 */
export const FAULT_ENV = "PLUE_PKI_FAULT_AFTER_STEP";

/** Options of the pki commands, as commander parsed them. */
export interface PkiOptions {
  readonly env?: string;
  readonly dir?: string;
  readonly force?: boolean;
  readonly bits?: "3072" | "4096";
  readonly json?: boolean;
  readonly warnDays?: number;
  readonly dryRun?: boolean;
  readonly confirmedActive?: boolean;
}

/** One run of one command. */
export interface Context {
  readonly io: CliIo;
  /** As typed after `npm run pki --`: `status`, `rotate client begin`. */
  readonly command: string;
  readonly values: PkiOptions;
  readonly now: Date;
  readonly out: (line: string) => void;
  readonly warn: (line: string) => void;
}

/** The environment a command works on. */
export interface Environment {
  readonly config: PlueConfig;
  readonly layout: StoreLayout;
  /** A private store file's path. */
  readonly file: (name: string) => string;
  /** A public file's path. */
  readonly publicFile: (name: string) => string;
}

/** Loads the environment (validated, through the cache) and resolves the store layout. */
export async function environment(ctx: Context): Promise<Environment> {
  const { config } = await loadConfigCached(ctx.values.env ?? "example");
  const dir = ctx.values.dir;
  const layout = resolveLayout({
    repoRoot: REPO_ROOT,
    configDir: config.pki.dir,
    configPublicDir: config.pki.publicDir,
    ...(dir === undefined ? {} : { dirOverride: dir }),
    cwd: ctx.io.cwd,
  });
  return { config, layout, file: (name) => join(layout.privateDir, name), publicFile: (name) => join(layout.publicDir, name) };
}

/** The passphrase from {@link PASSPHRASE_ENV}, at least `minLength` characters. */
export function passphrase(ctx: Context, minLength: number): string {
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

/**
 * Refuses to work on a store whose rotation was interrupted (its journal is present), naming
 * the command that completes it.
 * @throws InconsistentStoreError (exit 2)
 */
export function refuseInterrupted(ctx: Context, env: Environment): void {
  const journal = readJournal(env.file(STORE_FILES.journal));
  if (journal === undefined) return;
  throw new InconsistentStoreError(
    `pki ${ctx.command}: '${env.file(STORE_FILES.journal)}' holds an interrupted '${journal.command}' (got step ${journal.done} of ${journal.steps.length}). Run npm run pki -- ${journal.command} again to complete it first.`,
  );
}

/** The fault-injection hook of {@link FAULT_ENV}, or undefined when it is not set. */
export function faultHook(io: CliIo): ((n: number) => void) | undefined {
  const raw = io.env[FAULT_ENV];
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,3}$/.test(raw)) throw new UsageError(`pki: '${FAULT_ENV}' is not a step number (got ${raw}). Unset it; it is for tests.`);
  const target = Number(raw);
  return (n) => {
    if (n === target) process.kill(process.pid, "SIGKILL");
  };
}

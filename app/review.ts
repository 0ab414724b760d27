/**
 * The work of `npm run review` (app/review-command.ts): runs every posture, cross-layer and
 * deploy-readiness rule over a synthesized plan (review/run.ts), optionally says what the change
 * does against a base commit or Terraform plans, writes review.md, review.html, review.json and
 * review.sarif, and prints the findings. Exit 0 every rule passes, 1 a rule fails or a
 * suppression expired, 2 usage (nothing written).
 */
import { join, relative, resolve } from "node:path";
import { CONFIG_DIR, ConfigError, loadConfig } from "../config/load.ts";
import type { PlueConfig } from "../config/schema.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import { runReview } from "../review/run.ts";
import { type CliIo, UsageError } from "./cli/kit.ts";

/** Options of `npm run review`, as parsed. */
export interface ReviewOptions {
  readonly env?: string;
  /** The synthesized plan directory. */
  readonly dir?: string;
  /** Where the four report files go. */
  readonly out?: string;
  /** Compare with this git ref. */
  readonly base?: string;
  /** `terraform show -json` plans, one `<stack>.json` each. */
  readonly plan?: string;
  readonly json?: boolean;
}

/** Where rendered diagrams are cached by the hash of their DOT (an unchanged plan skips Graphviz). */
export const DIAGRAM_CACHE = join(REPO_ROOT, ".cache", "review-diagrams");

/** Reviews; returns the exit code. */
export async function review(values: ReviewOptions, io: CliIo): Promise<number> {
  const env = values.env ?? io.env.PLUE_ENV ?? "example";
  let config: PlueConfig;
  try {
    config = loadConfig(env, CONFIG_DIR);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  const synthDir = resolve(io.cwd, values.dir ?? "cdktf.out");
  const result = await runReview({
    synthDir,
    config,
    ...(values.out !== undefined ? { outDir: resolve(io.cwd, values.out) } : {}),
    ...(values.base !== undefined ? { base: values.base, repoDir: REPO_ROOT } : {}),
    ...(values.plan !== undefined ? { terraformPlanDir: resolve(io.cwd, values.plan) } : {}),
    today: io.now().toISOString().slice(0, 10),
    knownSecrets: [io.env.PLUE_PKI_PASSPHRASE, io.env.DATABASE_URL].filter((s): s is string => !!s),
    planLabel: relative(io.cwd, synthDir) || ".",
    diagramCacheDir: DIAGRAM_CACHE,
  });
  if (result.code === 2) throw new UsageError(result.text.trimEnd());
  io.stdout(values.json ? `${JSON.stringify(result.report, null, 2)}\n` : result.text);
  return result.code;
}

/**
 * Synthesizes a base commit in a temporary `git worktree`, with that commit's own `npm run synth`
 * (the base may have another layout), reusing this checkout's node_modules through a symlink.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A usage problem (bad ref, not a repository): the command exits 2. */
export class BaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BaseError";
  }
}

/** A synthesized base plan; `cleanup` removes the worktree. */
export interface BasePlan {
  /** Directory holding the base's `cdktf.out` (manifest.json, stacks/, k8s/). */
  readonly planDir: string;
  /** The commit the ref resolved to. */
  readonly commit: string;
  readonly cleanup: () => void;
}

/**
 * Copies this checkout's vendor bundles (its packages, keyed by package-lock.json; docs/adr/0017)
 * and their code caches into the worktree's bundle cache: a base with the same lockfile then
 * builds only its own sources. Another lockfile, or a base without vendor bundles, ignores them.
 */
function copyVendorBundles(repoDir: string, worktree: string): void {
  const from = join(repoDir, ".cache", "bundles");
  if (!existsSync(from)) return;
  const to = join(worktree, ".cache", "bundles");
  mkdirSync(to, { recursive: true });
  for (const file of readdirSync(from))
    if (/-vendor\.([0-9a-f]{16}\.cjs(\.v8)?|json)$/.test(file)) copyFileSync(join(from, file), join(to, file));
}

function git(repoDir: string, args: readonly string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync("git", ["-C", repoDir, ...args], { encoding: "utf8" });
  return { ok: r.status === 0, out: (r.stdout ?? "").trim(), err: (r.stderr ?? "").trim() };
}

/**
 * Checks out `ref` of the repository at `repoDir` into a temporary worktree and runs its `synth`
 * script there (`npm run synth -- --env <env>`, output in the worktree's cdktf.out).
 * @throws BaseError when `ref` is not a commit of the repository, the base has no synth script, or its synth fails
 */
export function synthesizeBase(ref: string, repoDir: string, env: string): BasePlan {
  const commit = git(repoDir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  if (!commit.ok)
    throw new BaseError(
      `--base: '${ref}' is not a commit of ${repoDir} (git rev-parse failed). Pass a branch, tag or commit, e.g. --base origin/main.`,
    );
  const root = mkdtempSync(join(tmpdir(), "plue-review-base-"));
  const worktree = join(root, "base");
  const add = git(repoDir, ["worktree", "add", "--detach", "--quiet", worktree, commit.out]);
  if (!add.ok) {
    rmSync(root, { recursive: true, force: true });
    throw new BaseError(`--base: could not check out ${ref} (${add.err.split("\n")[0]}).`);
  }
  const cleanup = () => {
    git(repoDir, ["worktree", "remove", "--force", worktree]);
    rmSync(root, { recursive: true, force: true });
    git(repoDir, ["worktree", "prune"]);
  };
  try {
    const pkgPath = join(worktree, "package.json");
    const pkg = existsSync(pkgPath) ? (JSON.parse(readFileSync(pkgPath, "utf8")) as { scripts?: Record<string, string> }) : {};
    if (!pkg.scripts?.synth)
      throw new BaseError(`--base: ${ref} has no "synth" script in package.json; it cannot be synthesized for comparison.`);
    const modules = join(repoDir, "node_modules");
    if (existsSync(modules) && !existsSync(join(worktree, "node_modules"))) symlinkSync(modules, join(worktree, "node_modules"), "dir");
    copyVendorBundles(repoDir, worktree);
    const planDir = join(worktree, "cdktf.out");
    const run = spawnSync("npm", ["run", "--silent", "synth", "--", "--env", env], {
      cwd: worktree,
      encoding: "utf8",
      env: { ...process.env, CDKTF_OUTDIR: planDir },
    });
    if (run.status !== 0 || !existsSync(join(planDir, "manifest.json"))) {
      const why = `${run.stderr ?? ""}${run.stdout ?? ""}`.trim().split("\n").slice(-3).join(" / ");
      throw new BaseError(
        `--base: ${ref} (${commit.out.slice(0, 12)}) did not synthesize with its own \`npm run synth\` (exit ${run.status}): ${why}`,
      );
    }
    return { planDir, commit: commit.out, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

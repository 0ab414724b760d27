/**
 * The order stacks are applied in, read from the synthesized plan (`manifest.json`, the file
 * `cdktf deploy` reads): never a second, hand-written list. CI plans and deploys in this order.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** A stack and the stacks it depends on directly. */
export interface StackNode {
  readonly name: string;
  readonly dependencies: readonly string[];
}

/** Reads the stacks and their dependencies from `<planDir>/manifest.json`. */
export function readStacks(planDir: string): StackNode[] {
  const path = join(planDir, "manifest.json");
  if (!existsSync(path)) {
    throw new Error(`${planDir}: 'manifest.json' is missing (got no file). Run \`npm run synth\` and pass its output directory.`);
  }
  let manifest: { stacks?: Record<string, { dependencies?: unknown }> };
  try {
    manifest = JSON.parse(readFileSync(path, "utf8")) as typeof manifest;
  } catch (e) {
    throw new Error(`${path}: 'manifest.json' is not JSON (got ${(e as Error).message}). Synthesize again.`);
  }
  return Object.entries(manifest.stacks ?? {}).map(([name, s]) => ({
    name,
    dependencies: Array.isArray(s.dependencies) ? s.dependencies.filter((d): d is string => typeof d === "string") : [],
  }));
}

/**
 * The stacks in dependency order: every stack after all of its dependencies; among stacks that
 * are ready at the same time, by name (so the order is stable).
 * @throws Error on a dependency that is not a stack, or a cycle.
 */
export function stackOrder(stacks: readonly StackNode[]): string[] {
  const names = new Set(stacks.map((s) => s.name));
  for (const s of stacks) {
    for (const d of s.dependencies) {
      if (!names.has(d)) throw new Error(`manifest.json: stack '${s.name}' depends on '${d}', which is not a stack. Synthesize again.`);
    }
  }
  const done: string[] = [];
  const left = new Map(stacks.map((s) => [s.name, new Set(s.dependencies)]));
  while (left.size > 0) {
    const ready = [...left].filter(([, deps]) => [...deps].every((d) => done.includes(d))).map(([n]) => n);
    if (ready.length === 0) {
      throw new Error(`manifest.json: the stacks ${[...left.keys()].sort().join(", ")} depend on each other in a cycle. Break the cycle.`);
    }
    const next = ready.sort()[0] as string;
    done.push(next);
    left.delete(next);
  }
  return done;
}

/** Every stack `name` depends on, directly or through others. */
export function predecessors(stacks: readonly StackNode[], name: string): Set<string> {
  const byName = new Map(stacks.map((s) => [s.name, s]));
  const seen = new Set<string>();
  const walk = (n: string): void => {
    for (const d of byName.get(n)?.dependencies ?? []) {
      if (!seen.has(d)) {
        seen.add(d);
        walk(d);
      }
    }
  };
  walk(name);
  return seen;
}

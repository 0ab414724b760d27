/**
 * Property: any broken environment file yields a clean error (exit 2, every line naming the
 * file and field, no stack trace) and writes nothing. At least 500 generated configs.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { synthCommand } from "../../app/synth-command.ts";
import { exampleRaw, PROBLEM_LINE } from "../support/config.ts";

type Path = (string | number)[];

const REQUIRED: Path[] = [
  ["name"],
  ["environment"],
  ["production"],
  ["project"],
  ["project", "id"],
  ["project", "region"],
  ["project", "zones"],
  ["state", "bucket"],
  ["state", "location"],
  ["network", "nodeCidr"],
  ["network", "podCidr"],
  ["network", "serviceCidr"],
  ["network", "controlPlaneCidr"],
  ["network", "privateServicesCidr"],
  ["cluster", "releaseChannel"],
  ["cluster", "systemPool"],
  ["cluster", "sandboxPool", "machineType"],
  ["images", "api"],
  ["images", "migrate"],
  ["api", "port"],
  ["database", "version"],
  ["database", "tier"],
  ["edge", "domain"],
  ["edge", "cloudflareZoneId"],
  ["pki", "dir"],
  ["pki", "originHostnames"],
];

/** Every path in the example document (objects, arrays and leaves). */
function allPaths(node: unknown, prefix: Path = []): Path[] {
  if (node === null || typeof node !== "object") return [];
  const entries: [string | number, unknown][] = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...allPaths(v, [...prefix, k])]);
}

function kindOf(v: unknown): "string" | "number" | "boolean" | "array" | "object" | "null" {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v as "string" | "number" | "boolean" | "object";
}

/** Values of every kind except `kind`: replacing a node with one of them always breaks it. */
function wrongValue(kind: string): fc.Arbitrary<unknown> {
  const all: Record<string, fc.Arbitrary<unknown>> = {
    string: fc.string({ maxLength: 12 }),
    number: fc.oneof(fc.integer(), fc.double({ noNaN: true })),
    boolean: fc.boolean(),
    array: fc.array(fc.integer(), { maxLength: 3 }),
    object: fc.dictionary(fc.constantFrom("zz", "unknownKey"), fc.integer(), { minKeys: 1, maxKeys: 2 }),
    null: fc.constant(null),
  };
  return fc.oneof(
    ...Object.entries(all)
      .filter(([k]) => k !== kind && !(kind === "null"))
      .map(([, a]) => a),
  );
}

const base = exampleRaw();
const paths = allPaths(base);

/** The node at `path`, or undefined when an earlier mutation removed or replaced a parent. */
function get(root: unknown, path: Path): unknown {
  return path.reduce<unknown>(
    (n, k) => (n !== null && typeof n === "object" ? (n as Record<string | number, unknown>)[k] : undefined),
    root,
  );
}

function isObject(v: unknown): v is Record<string | number, unknown> {
  return v !== null && typeof v === "object";
}

type Mutation = (raw: Record<string, unknown>) => void;

const replaceWithWrongType: fc.Arbitrary<Mutation> = fc.constantFrom(...paths).chain((path) =>
  wrongValue(kindOf(get(base, path))).map((value) => (raw: Record<string, unknown>) => {
    const parent = get(raw, path.slice(0, -1));
    if (isObject(parent)) parent[path[path.length - 1] as string | number] = value;
  }),
);

const deleteRequired: fc.Arbitrary<Mutation> = fc.constantFrom(...REQUIRED).map((path) => (raw: Record<string, unknown>) => {
  const parent = get(raw, path.slice(0, -1));
  if (isObject(parent)) delete parent[path[path.length - 1] as string];
});

const addUnknownKey: fc.Arbitrary<Mutation> = fc
  .constantFrom([] as Path, ...paths.filter((p) => kindOf(get(base, p)) === "object"))
  .chain((path) =>
    fc.stringMatching(/^[a-z]{3,10}X$/).map((key) => (raw: Record<string, unknown>) => {
      const target = get(raw, path);
      if (isObject(target) && !Array.isArray(target)) target[key] = 1;
    }),
  );

const mutations = fc.array(fc.oneof(replaceWithWrongType, deleteRequired, addUnknownKey), { minLength: 1, maxLength: 3 });

/** Whole-file garbage: not a mapping, or not YAML at all. */
const garbageFile = fc.oneof(
  fc.constantFrom(
    "",
    "[]",
    "- a\n- b\n",
    "42",
    "name: [unclosed",
    "a: 1\na: 2\n",
    "\t- bad: indentation\n  x",
    "name: plue\nname: again\n",
  ),
  fc.string({ maxLength: 40 }).map((s) => `${s}\n`),
);

describe("any broken configuration", () => {
  const root = mkdtempSync(join(tmpdir(), "plue-badcfg-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let runs = 0;

  async function check(fileText: string): Promise<void> {
    runs += 1;
    const configDir = join(root, `c${runs}`);
    const out = join(root, `out${runs}`);
    mkdirSync(configDir, { recursive: true });
    writeFileSync(join(configDir, "example.yaml"), fileText);
    const result = await synthCommand(["--out", out], { configDir });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(existsSync(out)).toBe(false);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const [header, ...lines] = result.stderr.trimEnd().split("\n");
    if (header?.startsWith("config/example.yaml: line")) return; // YAML syntax: one line per error
    expect(header).toMatch(/^\d+ problems? in the configuration; nothing was written:$/);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^config\/example\.yaml: /);
  }

  it("exits 2 with a field-naming message and writes nothing (500 mutated configs)", async () => {
    await fc.assert(
      fc.asyncProperty(mutations, async (muts) => {
        const raw = structuredClone(base);
        for (const m of muts) m(raw);
        await check(stringify(raw));
      }),
      { numRuns: 500, seed: 20261122 },
    );
  });

  it("exits 2 with a clean message for files that are not a configuration at all", async () => {
    await fc.assert(
      fc.asyncProperty(garbageFile, (text) => check(text)),
      { numRuns: 100, seed: 7 },
    );
  });

  it("formats structural problems as <file>: '<field>' <problem> (got <value>). <fix>", async () => {
    const raw = structuredClone(base);
    (raw.network as Record<string, unknown>).podCidr = 12;
    const result = await synthCommand(["--out", join(root, "fmt")], { configDir: writeConfig(root, stringify(raw)) });
    expect(result.stderr.split("\n")[1]).toMatch(PROBLEM_LINE);
  });
});

function writeConfig(root: string, text: string): string {
  const dir = join(root, "fmt-config");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "example.yaml"), text);
  return dir;
}

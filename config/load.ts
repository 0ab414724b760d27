/**
 * Loads and validates an environment file once, at the boundary. Every problem is collected
 * and reported together as `<file>: '<field>' <problem> (got <value>). <fix>`.
 */
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../lib/paths.ts";
import { parseDocument } from "yaml";
import type { core } from "zod";
import { ConfigError } from "./errors.ts";
import { configSchema, type PlueConfig, valueAt } from "./schema.ts";

export { ConfigError };

/** The repository's `config/` directory. */
export const CONFIG_DIR = join(REPO_ROOT, "config");

type Path = readonly PropertyKey[];

function pathText(path: Path): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("") || "(root)";
}

function shown(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function line(file: string, path: Path, problem: string, value: unknown, fix: string): string {
  return `${file}: '${pathText(path)}' ${problem} (got ${shown(value)}). ${fix}`;
}

function fromIssue(file: string, raw: unknown, issue: core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return issue.keys
      .map((k) =>
        line(file, [...issue.path, k], "is not a known field", valueAt(raw, [...issue.path, k]), "Remove it or check its spelling."),
      )
      .join("\n");
  }
  if (issue.code === "invalid_key") {
    const key = issue.path[issue.path.length - 1];
    const inner = issue.issues[0]?.message ?? "";
    const [problem, fix] = inner.includes("\n") ? inner.split("\n", 2) : ["is not a valid key", "Rename it."];
    return line(file, issue.path, problem ?? "is not a valid key", key, fix ?? "Rename it.");
  }
  const value = valueAt(raw, issue.path);
  const [problem, fix] = issue.message.includes("\n") ? issue.message.split("\n", 2) : [undefined, undefined];
  if (problem !== undefined && fix !== undefined && !(value === undefined && issue.code === "invalid_type")) {
    return line(file, issue.path, problem, value, fix);
  }
  if (value === undefined) return line(file, issue.path, "is missing", value, "Add it (see config/example.yaml).");
  if (issue.code === "invalid_type") {
    return line(file, issue.path, `is not a ${issue.expected}`, value, `Write a ${issue.expected} here (see config/example.yaml).`);
  }
  if (issue.code === "invalid_value") {
    return line(file, issue.path, "is not an allowed value", value, `Use one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}.`);
  }
  return line(file, issue.path, issue.message.replace(/\.$/, "").toLowerCase(), value, "See config/example.yaml for a valid value.");
}

/** The environment's name must be its file's name. */
function fileNameProblems(file: string, raw: unknown, envName: string): string[] {
  const env = valueAt(raw, ["environment"]);
  return typeof env === "string" && env !== envName
    ? [line(file, ["environment"], "does not match the file name", env, `Set it to ${envName} or rename the file.`)]
    : [];
}

/**
 * Validates parsed YAML for environment `envName`; `file` names it in messages.
 * @throws ConfigError with every problem found
 */
export function validateConfig(raw: unknown, file: string, envName: string): PlueConfig {
  const result = configSchema.safeParse(raw);
  const problems = result.success ? [] : result.error.issues.map((i) => fromIssue(file, raw, i));
  problems.push(...fileNameProblems(file, raw, envName));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

/** Parses YAML text strictly (duplicate keys and syntax errors are problems too). */
export function parseConfigText(text: string, file: string, envName: string): PlueConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => `${file}: line ${e.linePos?.[0]?.line ?? 0} is not valid YAML (${e.code}). ${e.message.split("\n")[0]}`),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError([`${file}: is not valid YAML (${(e as Error).message.split("\n")[0]}). Fix the document structure.`]);
  }
  return validateConfig(raw, file, envName);
}

/**
 * Loads `config/<envName>.yaml` (relative to the repository) and validates it.
 * @throws ConfigError naming the file, each field, its value and the fix
 */
export function loadConfig(envName: string, configDir: string = CONFIG_DIR): PlueConfig {
  const file = `config/${envName}.yaml`;
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(envName)) {
    throw new ConfigError([
      `--env: '${envName}' is not an environment name. Use lowercase letters, digits and hyphens (file config/<name>.yaml).`,
    ]);
  }
  const path = `${configDir.replace(/\/$/, "")}/${envName}.yaml`;
  if (!existsSync(path)) {
    throw new ConfigError([`${file}: does not exist. Create it from config/example.yaml, or pass --env with an existing environment.`]);
  }
  return parseConfigText(readFileSync(path, "utf8"), file, envName);
}

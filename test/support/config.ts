/** The example environment as raw data, for tests that break it one field at a time. */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { CONFIG_DIR, ConfigError, validateConfig } from "../../config/load.ts";
import type { PlueConfig } from "../../config/schema.ts";

/** A fresh deep copy of config/example.yaml as parsed YAML. */
export function exampleRaw(): Record<string, any> {
  return parse(readFileSync(`${CONFIG_DIR}/example.yaml`, "utf8")) as Record<string, any>;
}

/** The validated example config. */
export function exampleConfig(): PlueConfig {
  return validateConfig(exampleRaw(), "config/example.yaml", "example");
}

/** Validates `raw` as config/test.yaml (environment "example") and returns the problem lines ([] when valid). */
export function problemsOf(raw: unknown): string[] {
  try {
    validateConfig(raw, "config/example.yaml", "example");
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
}

/** The shape every problem line must have: `<file>: '<field>' <problem> (got <value>). <fix>`. */
export const PROBLEM_LINE = /^config\/[a-z0-9-]+\.yaml: '[^']+' .+ \(got .*\)\. \S.*$/;

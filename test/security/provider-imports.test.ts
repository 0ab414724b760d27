/** Providers are imported by deep path only: a root import costs 5x the synth time and memory. */
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { filesBelow } from "../../review/key-scan.ts";

const REPO = join(import.meta.dirname, "..", "..");
const SOURCE_DIRS = ["app", "review", "config", "lib", "stacks", "constructs", "charts", "db", "pki", "bench", "test"];
const ROOT_IMPORT = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)["'](@cdktf\/provider-[a-z-]+|cdk8s-plus-28)["']/;

function sources(): string[] {
  return SOURCE_DIRS.map((d) => join(REPO, d))
    .flatMap((p) => {
      try {
        return p.endsWith(".ts") ? [p] : filesBelow(p);
      } catch {
        return []; // a directory a later issue adds
      }
    })
    .filter((f) => f.endsWith(".ts") && !f.includes("__snapshots__"));
}

function rootImports(text: string): string[] {
  return text.split("\n").filter((l) => ROOT_IMPORT.test(l));
}

describe("provider imports", () => {
  it("never imports a provider or cdk8s-plus package by its root", () => {
    const files = sources();
    expect(files.length).toBeGreaterThan(5);
    const offenders = files
      .filter((f) => f !== import.meta.filename)
      .flatMap((f) => rootImports(readFileSync(f, "utf8")).map((l) => `${relative(REPO, f)}: ${l.trim()}`));
    expect(offenders).toEqual([]);
  });

  it("recognises a root import when it sees one", () => {
    expect(rootImports(`import { StorageBucket } from "@cdktf/provider-google";`)).toHaveLength(1);
    expect(rootImports(`import * as k from 'cdk8s-plus-28';`)).toHaveLength(1);
    expect(rootImports(`import { StorageBucket } from "@cdktf/provider-google/lib/storage-bucket";`)).toHaveLength(0);
  });
});

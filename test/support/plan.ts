/** Readers over the synthesized plan that the global setup wrote (real output, no mocks). */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { inject } from "vitest";
import { parseAllDocuments } from "yaml";
import type { K8sObject } from "../../review/plan-model.ts";

/** A synthesized cdk.tf.json, loosely typed for assertions. */
export interface TfJson {
  readonly terraform: {
    readonly backend?: Record<string, Record<string, unknown>>;
    readonly required_providers?: Record<string, { source: string; version: string }>;
  };
  readonly provider?: Record<string, Record<string, unknown>[]>;
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
  readonly output?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

/** A Kubernetes object from a chart's YAML: the review's own type of it. */
export type { K8sObject };

/** Directory of the synthesized example plan. */
export function planDir(): string {
  return inject("planDir");
}

/** Names of the synthesized stacks. */
export function stackNames(): string[] {
  return readdirSync(join(planDir(), "stacks")).sort();
}

/** Raw text of a stack's cdk.tf.json. */
export function stackText(name: string): string {
  return readFileSync(join(planDir(), "stacks", name, "cdk.tf.json"), "utf8");
}

/** Parsed cdk.tf.json of a stack. */
export function stack(name: string): TfJson {
  return JSON.parse(stackText(name)) as TfJson;
}

/** All resources of one type in a stack, by logical id; fails when there are none. */
export function resources(tf: TfJson, type: string): Record<string, Record<string, unknown>> {
  const found = tf.resource?.[type];
  if (!found) throw new Error(`no ${type} in the stack (types: ${Object.keys(tf.resource ?? {}).join(", ")})`);
  return found;
}

/** The only resource of a type in a stack; fails when there is not exactly one. */
export function only(tf: TfJson, type: string): Record<string, unknown> {
  const all = Object.values(resources(tf, type));
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0] as Record<string, unknown>;
}

/** Names of the synthesized charts. */
export function chartNames(): string[] {
  return readdirSync(join(planDir(), "k8s"))
    .filter((f) => f.endsWith(".k8s.yaml"))
    .map((f) => f.replace(/\.k8s\.yaml$/, ""))
    .sort();
}

/** Raw text of a chart's YAML. */
export function chartText(name: string): string {
  return readFileSync(join(planDir(), "k8s", `${name}.k8s.yaml`), "utf8");
}

/** Objects of a chart. */
export function chart(name: string): K8sObject[] {
  return parseAllDocuments(chartText(name))
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** Every object of every chart. */
export function allObjects(): K8sObject[] {
  return chartNames().flatMap(chart);
}

/** A resource's configuration without cdktf's `//` metadata: what Terraform receives, for whole-block assertions. */
export function body(resource: Record<string, unknown> | undefined): Record<string, unknown> {
  if (resource === undefined) throw new Error("no such resource");
  const { "//": _metadata, ...rest } = resource;
  return rest;
}

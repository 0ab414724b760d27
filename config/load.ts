/**
 * Loads and validates an environment file once, at the boundary. Every problem is collected
 * and reported together as `<file>: '<field>' <problem> (got <value>). <fix>`.
 */
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../lib/paths.ts";
import { parseDocument } from "yaml";
import type { core } from "zod";
import { configSchema, type PlueConfig } from "./schema.ts";
import { cidrsOverlap, parseCidr, type Cidr } from "../lib/cidr.ts";
import { REQUIRED_SECRETS, RESERVED_SECRET_ENVS } from "./names.ts";

/** The repository's `config/` directory. */
export const CONFIG_DIR = join(REPO_ROOT, "config");

/** Invalid configuration: `problems` holds one formatted line per problem. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

type Path = readonly PropertyKey[];

function pathText(path: Path): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("") || "(root)";
}

function valueAt(root: unknown, path: Path): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
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

const PLACEHOLDER = /(^|[^a-z])(example|placeholder|changeme|todo)([^a-z]|$)/i;
const ZERO_DIGEST = /@sha256:0{64}$/;

/** Rules that relate fields to each other, and the production-only rules. Runs on raw input. */
function crossFieldProblems(file: string, raw: unknown, envName: string): string[] {
  const out: string[] = [];
  const get = (...path: string[]): unknown => valueAt(raw, path);

  if (typeof get("environment") === "string" && get("environment") !== envName) {
    out.push(line(file, ["environment"], "does not match the file name", get("environment"), `Set it to ${envName} or rename the file.`));
  }

  const ranges = ["nodeCidr", "podCidr", "serviceCidr", "controlPlaneCidr", "privateServicesCidr"] as const;
  const parsed: [string, Cidr][] = [];
  for (const key of ranges) {
    const v = get("network", key);
    const c = typeof v === "string" ? parseCidr(v) : undefined;
    if (!c) continue;
    for (const [otherKey, other] of parsed) {
      if (cidrsOverlap(c, other)) {
        out.push(line(file, ["network", key], `overlaps 'network.${otherKey}'`, v, `Pick a range outside ${other.text}.`));
      }
    }
    parsed.push([key, c]);
  }
  const cp = get("network", "controlPlaneCidr");
  const cpCidr = typeof cp === "string" ? parseCidr(cp) : undefined;
  if (cpCidr && cpCidr.prefix !== 28) {
    out.push(
      line(
        file,
        ["network", "controlPlaneCidr"],
        "is not a /28 block",
        cp,
        "GKE needs exactly a /28 for the control plane, e.g. 172.16.0.0/28.",
      ),
    );
  }
  const psa = get("network", "privateServicesCidr");
  const psaCidr = typeof psa === "string" ? parseCidr(psa) : undefined;
  if (psaCidr && psaCidr.prefix > 24) {
    out.push(
      line(
        file,
        ["network", "privateServicesCidr"],
        "is smaller than a /24",
        psa,
        "Cloud SQL's private services access needs a /24 or larger, e.g. 10.30.0.0/20.",
      ),
    );
  }

  const region = get("project", "region");
  const zones = get("project", "zones");
  if (typeof region === "string" && Array.isArray(zones)) {
    zones.forEach((z, i) => {
      if (typeof z === "string" && !z.startsWith(`${region}-`)) {
        out.push(
          line(file, ["project", "zones", i], `is not a zone of region ${region}`, z, `Use zones named ${region}-a, ${region}-b, ...`),
        );
      }
    });
    if (new Set(zones).size !== zones.length) {
      out.push(line(file, ["project", "zones"], "lists a zone twice", zones, "List each zone once."));
    }
  }

  for (const pool of ["systemPool", "sandboxPool"]) {
    const min = get("cluster", pool, "minNodes");
    const max = get("cluster", pool, "maxNodes");
    if (typeof min === "number" && typeof max === "number" && min > max) {
      out.push(
        line(file, ["cluster", pool, "minNodes"], `is above 'cluster.${pool}.maxNodes' (${max})`, min, "Make minNodes at most maxNodes."),
      );
    }
  }
  const minR = get("api", "minReplicas");
  const maxR = get("api", "maxReplicas");
  if (typeof minR === "number" && typeof maxR === "number" && minR > maxR) {
    out.push(line(file, ["api", "minReplicas"], `is above 'api.maxReplicas' (${maxR})`, minR, "Make minReplicas at most maxReplicas."));
  }
  if (typeof get("api", "port") === "number" && get("api", "port") === get("api", "callbackPort")) {
    out.push(
      line(file, ["api", "callbackPort"], "equals 'api.port'", get("api", "callbackPort"), "Give the runner callback its own port."),
    );
  }

  const cfRanges = get("edge", "cloudflareRanges", "cidrs");
  if (Array.isArray(cfRanges)) {
    cfRanges.forEach((r, i) => {
      if (cfRanges.indexOf(r) !== i)
        out.push(line(file, ["edge", "cloudflareRanges", "cidrs", i], "lists a range twice", r, "List each range once."));
    });
  }

  const ssh = get("api", "ssh");
  if (ssh && typeof ssh === "object" && (ssh as Record<string, unknown>).enabled === true) {
    const ranges = (ssh as Record<string, unknown>).sourceRanges;
    if (!Array.isArray(ranges) || ranges.length === 0) {
      out.push(
        line(
          file,
          ["api", "ssh", "sourceRanges"],
          "is empty while SSH is enabled (the load balancer would accept the whole internet)",
          ranges,
          "List the CIDR ranges allowed to reach Git over SSH.",
        ),
      );
    }
  }

  const items = get("secrets", "items");
  if (items && typeof items === "object") {
    const byName = items as Record<string, { consumers?: unknown; env?: unknown }>;
    for (const [name, needed] of Object.entries(REQUIRED_SECRETS)) {
      const item = byName[name];
      if (!item || typeof item !== "object") {
        out.push(
          line(
            file,
            ["secrets", "items", name],
            "is missing",
            undefined,
            `Add it with consumers [${needed.join(", ")}] (see config/example.yaml).`,
          ),
        );
        continue;
      }
      const consumers = Array.isArray(item.consumers) ? item.consumers : [];
      const missing = needed.filter((c) => !consumers.includes(c));
      if (missing.length > 0) {
        out.push(
          line(
            file,
            ["secrets", "items", name, "consumers"],
            `does not list ${missing.join(", ")}`,
            item.consumers,
            `Add ${missing.join(", ")}: the plan reads this secret there.`,
          ),
        );
      }
    }
    const seen = new Map<string, string>();
    for (const [name, item] of Object.entries(byName)) {
      const env = item && typeof item === "object" ? item.env : undefined;
      if (typeof env !== "string") continue;
      if ((RESERVED_SECRET_ENVS as readonly string[]).includes(env)) {
        out.push(
          line(
            file,
            ["secrets", "items", name, "env"],
            "is reserved (External Secrets writes it from the database secrets)",
            env,
            "Pick another name.",
          ),
        );
      } else if (seen.has(env)) {
        out.push(
          line(
            file,
            ["secrets", "items", name, "env"],
            `is also the env of 'secrets.items.${seen.get(env)}'`,
            env,
            "Give each secret its own environment variable.",
          ),
        );
      }
      seen.set(env, name);
    }
  }

  if (get("production") !== true) return out;

  // Production-only rules.
  const images = get("images");
  if (images && typeof images === "object") {
    for (const [key, ref] of Object.entries(images)) {
      if (typeof ref !== "string") continue;
      if (!/@sha256:[a-f0-9]{64}$/.test(ref)) {
        out.push(
          line(file, ["images", key], "is not pinned by digest (production)", ref, "Reference the image as registry/path@sha256:<digest>."),
        );
      } else if (ZERO_DIGEST.test(ref)) {
        out.push(line(file, ["images", key], "carries a placeholder digest (production)", ref, "Use the digest of the published image."));
      }
    }
  }
  const placeholders: string[][] = [
    ["project", "id"],
    ["state", "bucket"],
    ["edge", "domain"],
    ["pki", "organization"],
  ];
  for (const path of placeholders) {
    const v = valueAt(raw, path);
    if (typeof v === "string" && PLACEHOLDER.test(v)) {
      out.push(line(file, path, "holds a placeholder value (production)", v, "Replace it with the real value."));
    }
  }
  if (get("edge", "cloudflareZoneId") === "0".repeat(32)) {
    out.push(
      line(
        file,
        ["edge", "cloudflareZoneId"],
        "holds a placeholder value (production)",
        get("edge", "cloudflareZoneId"),
        "Use the zone id from the Cloudflare dashboard.",
      ),
    );
  }
  if (Array.isArray(zones) && zones.length < 3) {
    out.push(
      line(
        file,
        ["project", "zones"],
        "lists fewer than 3 zones (production)",
        zones,
        "List at least three zones of the region for a regional cluster.",
      ),
    );
  }
  if (get("cluster", "releaseChannel") === "RAPID") {
    out.push(line(file, ["cluster", "releaseChannel"], "is RAPID (production)", "RAPID", "Use STABLE or REGULAR."));
  }
  if (get("database", "availability") !== undefined && get("database", "availability") !== "REGIONAL") {
    out.push(
      line(
        file,
        ["database", "availability"],
        "is not REGIONAL (production)",
        get("database", "availability"),
        "Set it to REGIONAL for a standby in a second zone.",
      ),
    );
  }
  const sshRanges = get("api", "ssh", "sourceRanges");
  if (Array.isArray(sshRanges)) {
    sshRanges.forEach((r, i) => {
      if (r === "0.0.0.0/0" || r === "::/0") {
        out.push(
          line(
            file,
            ["api", "ssh", "sourceRanges", i],
            "opens Git over SSH to the whole internet (production)",
            r,
            "List the networks that need SSH.",
          ),
        );
      }
    });
  }
  if (typeof minR === "number" && minR < 3) {
    out.push(line(file, ["api", "minReplicas"], "is below 3 (production)", minR, "Run at least 3 replicas, one per zone."));
  }
  return out;
}

/**
 * Validates parsed YAML for environment `envName`; `file` names it in messages.
 * @throws ConfigError with every problem found
 */
export function validateConfig(raw: unknown, file: string, envName: string): PlueConfig {
  const result = configSchema.safeParse(raw);
  const problems = result.success ? [] : result.error.issues.map((i) => fromIssue(file, raw, i));
  problems.push(...crossFieldProblems(file, raw, envName));
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

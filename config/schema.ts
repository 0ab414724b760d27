/**
 * The environment file schema: `config/<env>.yaml` is parsed against it at the boundary.
 *
 * Every message is written as `problem\nfix`; `config/load.ts` turns it into
 * `<file>: '<field>' <problem> (got <value>). <fix>`.
 */
import { z } from "zod";
import { type Cidr, cidrAddress, cidrOffset, cidrSize, cidrsOverlap, parseCidr, parseIp } from "../lib/cidr.ts";
import { podsPerNode } from "../lib/gke-capacity.ts";
import { ANTHROPIC_KEY_SECRET, ENV_CONSUMER, HOST_SECRET, REQUIRED_SECRETS, RESERVED_SECRET_ENVS, SECRET_CONSUMERS } from "./secrets.ts";

/** Builds a message that the loader splits into the problem and its fix. */
export function rule(problem: string, fix: string): string {
  return `${problem}\n${fix}`;
}

/** At most 18 characters: the longest derived name, `<name>-eso-migrate`, must fit a 30-character service account id. */
const NAME = /^[a-z][a-z0-9-]{0,16}[a-z0-9]$/;
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+-[a-z]+[0-9]{1,2}$/;
const ZONE = /^[a-z]+-[a-z]+[0-9]{1,2}-[a-z]$/;
const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
/** `registry/path[:tag]@sha256:<64 hex>` or `registry/path:tag`. */
const IMAGE =
  /^[a-z0-9]+([._-][a-z0-9]+)*(\.[a-z0-9-]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

const cidr = (what: string) =>
  z.string().refine((v) => parseCidr(v)?.family === 4, {
    error: rule(`is not an IPv4 CIDR block with its host bits clear`, `Write ${what} as a.b.c.d/n, e.g. 10.0.0.0/20.`),
  });

const anyCidr = z.string().refine((v) => parseCidr(v) !== undefined, {
  error: rule("is not an IPv4 or IPv6 CIDR block with its host bits clear", "Write it as a.b.c.d/n or x:y::/n."),
});

const ipv4 = z.string().refine((v) => parseIp(v)?.family === 4, {
  error: rule("is not an IPv4 address", "Write it as a.b.c.d, e.g. 10.20.0.64."),
});

const hhmm = z.string().regex(HHMM, { error: rule("is not a time of day", "Write it as HH:MM in UTC, e.g. 03:00.") });

const image = z.string().regex(IMAGE, {
  error: rule("is not a container image reference", "Write it as registry/path@sha256:<64 hex> (or registry/path:tag outside production)."),
});

const count = (min: number, max: number) =>
  z
    .number()
    .int({ error: rule("is not a whole number", `Use a whole number from ${min} to ${max}.`) })
    .min(min, {
      error: rule(`is below ${min}`, `Use a whole number from ${min} to ${max}.`),
    })
    .max(max, { error: rule(`is above ${max}`, `Use a whole number from ${min} to ${max}.`) });

const machineType = z.string().regex(/^[a-z0-9]+-[a-z0-9-]+$/, {
  error: rule("is not a Compute Engine machine type", "Use a type such as e2-standard-4."),
});

const nodePool = z.strictObject({
  /** @default - see example.yaml */
  machineType,
  minNodes: count(0, 100),
  maxNodes: count(1, 1000),
  diskSizeGb: count(20, 2000).default(100),
});

const quantity = (what: string) =>
  z.string().regex(/^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, {
    error: rule(`is not a Kubernetes ${what} quantity`, "Write it as e.g. 500m, 2, 512Mi or 4Gi."),
  });

/** Requests = limits (Guaranteed QoS): cpu, memory and ephemeral storage of one container. */
const resources = z.strictObject({
  cpu: quantity("CPU"),
  memory: quantity("memory"),
  ephemeralStorage: quantity("storage"),
});

const releaseChannel = z.enum(["RAPID", "REGULAR", "STABLE"], {
  error: rule("is not a GKE release channel", "Use REGULAR or STABLE (RAPID only outside production)."),
});

/** The value at `path` inside `root`, or undefined when any step is missing or not an object. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/** A GitHub numeric id, written as a number or a string of digits; kept as the string the OIDC claims carry. */
const GITHUB_ID_ERROR = rule("is not a GitHub numeric id", "Copy the numeric id (digits only), e.g. 123456789.");
const githubId = z
  .union(
    [
      z
        .number({ error: GITHUB_ID_ERROR })
        .int({ error: GITHUB_ID_ERROR })
        .nonnegative({ error: GITHUB_ID_ERROR })
        .max(Number.MAX_SAFE_INTEGER, { error: GITHUB_ID_ERROR }),
      z.string({ error: GITHUB_ID_ERROR }).regex(/^[0-9]{1,19}$/, { error: GITHUB_ID_ERROR }),
    ],
    { error: GITHUB_ID_ERROR },
  )
  .transform((v) => String(v));

/** A git branch name safe to write into a CEL condition: no quote, space, `..`, `//`, leading `-` or `/`, trailing `/` or `.lock`. */
const BRANCH = /^(?!-)(?!\/)(?!.*\.\.)(?!.*\/\/)(?!.*\/$)(?!.*\.lock$)[A-Za-z0-9._/-]{1,100}$/;

/** Words that mark a value as a placeholder (shared with the pre-deployment check). */
export const PLACEHOLDER = /(^|[^a-z])(example|placeholder|changeme|todo)([^a-z]|$)/i;
/** An all-zero image digest (a placeholder). */
export const ZERO_DIGEST = /@sha256:0{64}$/;

/**
 * Addresses of the service range that Kubernetes or GKE already give a Service, by offset from
 * the range's network address: the `kubernetes` API Service takes the first usable address, and
 * GKE gives kube-dns the tenth.
 */
const TAKEN_SERVICE_OFFSETS: ReadonlyMap<bigint, string> = new Map([
  [0n, "is the service range's network address"],
  [1n, "is the kubernetes API Service's address (the first of the service range)"],
  [10n, "is kube-dns's address (GKE gives it the tenth of the service range)"],
]);

/**
 * Size of the service range's lower band, which Kubernetes keeps for fixed `clusterIP`s and hands
 * out dynamically only when the upper band is full: min(max(16, size / 16), 256) addresses.
 * @see https://kubernetes.io/docs/concepts/services-networking/cluster-ip-allocation/
 */
export function staticServiceBand(size: bigint): bigint {
  const sixteenth = size / 16n;
  const atLeast = sixteenth > 16n ? sixteenth : 16n;
  return atLeast < 256n ? atLeast : 256n;
}

/** The fixed Service addresses runners reach without DNS, by config path. */
const FIXED_CLUSTER_IPS: readonly (readonly [string, string])[] = [
  ["egressGateway", "clusterIP"],
  ["api", "callbackClusterIP"],
];

/**
 * Each fixed `clusterIP` must be an address the cluster can give that Service and no other: inside
 * `network.serviceCidr`, in its static band, not an address Kubernetes or GKE already use, and not
 * another fixed address.
 */
function fixedClusterIpRules(get: (...path: string[]) => unknown, add: (path: PropertyKey[], problem: string, fix: string) => void): void {
  const v = get("network", "serviceCidr");
  const range = typeof v === "string" ? parseCidr(v) : undefined;
  if (range?.family !== 4) return;
  const band = staticServiceBand(cidrSize(range));
  const pick = `Pick an address from ${cidrAddress(range, 2n)} to ${cidrAddress(range, band - 1n)} (the static band of ${range.text}), not ${cidrAddress(range, 10n)}`;
  const seen = new Map<string, string>();
  for (const path of FIXED_CLUSTER_IPS) {
    const ip = get(...path);
    if (typeof ip !== "string" || parseIp(ip)?.family !== 4) continue;
    const offset = cidrOffset(range, ip);
    const taken = offset === undefined ? undefined : TAKEN_SERVICE_OFFSETS.get(offset);
    if (offset === undefined) {
      add([...path], `is outside 'network.serviceCidr' (${range.text})`, `${pick}.`);
    } else if (taken !== undefined) {
      add([...path], taken, `${pick}.`);
    } else if (offset === cidrSize(range) - 1n) {
      add([...path], "is the service range's broadcast address", `${pick}.`);
    } else if (offset >= band) {
      add(
        [...path],
        `is outside the static band of 'network.serviceCidr' (its first ${band} addresses): Kubernetes may give it to another Service first, and the apply fails`,
        `${pick}.`,
      );
    } else if (seen.has(ip)) {
      add([...path], `equals '${seen.get(ip)}'`, `Give each fixed Service its own address. ${pick}.`);
    }
    if (!seen.has(ip)) seen.set(ip, path.join("."));
  }
}

/**
 * Rules that relate fields to each other, and the production-only rules. They run even when
 * other fields are invalid (so every problem is reported at once) and read the input defensively.
 */
function crossFieldRules(raw: unknown, ctx: z.RefinementCtx): void {
  const add = (path: PropertyKey[], problem: string, fix: string): void => {
    ctx.addIssue({ code: "custom", path, message: rule(problem, fix) });
  };
  const get = (...path: string[]): unknown => valueAt(raw, path);

  const ranges = ["nodeCidr", "podCidr", "serviceCidr", "controlPlaneCidr", "privateServicesCidr"] as const;
  const parsed: [string, Cidr][] = [];
  for (const key of ranges) {
    const v = get("network", key);
    const c = typeof v === "string" ? parseCidr(v) : undefined;
    if (!c) continue;
    for (const [otherKey, other] of parsed) {
      if (cidrsOverlap(c, other)) {
        add(["network", key], `overlaps 'network.${otherKey}'`, `Pick a range outside ${other.text}.`);
      }
    }
    parsed.push([key, c]);
  }
  const cp = get("network", "controlPlaneCidr");
  const cpCidr = typeof cp === "string" ? parseCidr(cp) : undefined;
  if (cpCidr && cpCidr.prefix !== 28) {
    add(["network", "controlPlaneCidr"], "is not a /28 block", "GKE needs exactly a /28 for the control plane, e.g. 172.16.0.0/28.");
  }
  const psa = get("network", "privateServicesCidr");
  const psaCidr = typeof psa === "string" ? parseCidr(psa) : undefined;
  if (psaCidr && psaCidr.prefix > 24) {
    add(
      ["network", "privateServicesCidr"],
      "is smaller than a /24",
      "Cloud SQL's private services access needs a /24 or larger, e.g. 10.30.0.0/20.",
    );
  }

  const region = get("project", "region");
  const zones = get("project", "zones");
  if (typeof region === "string" && Array.isArray(zones)) {
    zones.forEach((z, i) => {
      if (typeof z === "string" && !z.startsWith(`${region}-`)) {
        add(["project", "zones", i], `is not a zone of region ${region}`, `Use zones named ${region}-a, ${region}-b, ...`);
      }
    });
    if (new Set(zones).size !== zones.length) {
      add(["project", "zones"], "lists a zone twice", "List each zone once.");
    }
  }

  for (const pool of ["systemPool", "sandboxPool"]) {
    const min = get("cluster", pool, "minNodes");
    const max = get("cluster", pool, "maxNodes");
    if (typeof min === "number" && typeof max === "number" && min > max) {
      add(["cluster", pool, "minNodes"], `is above 'cluster.${pool}.maxNodes' (${max})`, "Make minNodes at most maxNodes.");
    }
  }
  const authorized = get("cluster", "authorizedNetworks");
  for (const reserved of ["pods", "nodes"]) {
    if (authorized && typeof authorized === "object" && Object.hasOwn(authorized, reserved)) {
      add(
        ["cluster", "authorizedNetworks", reserved],
        "is reserved (the plan authorizes the cluster's own pod and node ranges under it)",
        "Give the network another name.",
      );
    }
  }

  // The load balancer reads the API's NEG in every zone, and GKE makes a NEG only where nodes are.
  const systemMin = get("cluster", "systemPool", "minNodes");
  if (Array.isArray(zones) && typeof systemMin === "number" && systemMin < zones.length) {
    add(
      ["cluster", "systemPool", "minNodes"],
      `is below the number of zones (${zones.length}): a zone without a node has no API NEG, and the edge stack's plan fails`,
      `Use at least ${zones.length} (one node per zone).`,
    );
  }

  // The runner quota must fit the sandbox pool: max nodes × runners per node.
  const machine = get("cluster", "sandboxPool", "machineType");
  const sandboxMax = get("cluster", "sandboxPool", "maxNodes");
  const maxPods = get("runner", "maxPods");
  const cpu = get("runner", "resources", "cpu");
  const memory = get("runner", "resources", "memory");
  if (
    typeof machine === "string" &&
    typeof sandboxMax === "number" &&
    typeof maxPods === "number" &&
    typeof cpu === "string" &&
    typeof memory === "string"
  ) {
    const perNode = podsPerNode(machine, { cpu, memory });
    if (perNode !== undefined && perNode * sandboxMax < maxPods) {
      const nodesNeeded = perNode > 0 ? Math.ceil(maxPods / perNode) : undefined;
      add(
        ["runner", "maxPods"],
        `is more than the sandbox pool can run (${perNode} runner${perNode === 1 ? "" : "s"} of ${cpu} CPU, ${memory} fit a ${machine} node; 'cluster.sandboxPool.maxNodes' is ${sandboxMax}, so at most ${perNode * sandboxMax})`,
        nodesNeeded !== undefined
          ? `Lower it to ${perNode * sandboxMax}, or raise cluster.sandboxPool.maxNodes to ${nodesNeeded}.`
          : `Pick a larger cluster.sandboxPool.machineType or smaller runner.resources.`,
      );
    }
  }

  fixedClusterIpRules(get, add);

  const gatewayPort = get("egressGateway", "port");
  if (typeof gatewayPort === "number" && gatewayPort === get("egressGateway", "healthPort")) {
    add(
      ["egressGateway", "healthPort"],
      "equals 'egressGateway.port'",
      "Give the health endpoint its own port (the Service exposes only the proxy port).",
    );
  }
  const routes = get("egressGateway", "routes");
  if (Array.isArray(routes)) {
    const seen = new Set<string>();
    routes.forEach((r, i) => {
      if (!r || typeof r !== "object") return;
      const key = `${(r as Record<string, unknown>).method} ${(r as Record<string, unknown>).path}`;
      if (seen.has(key)) add(["egressGateway", "routes", i], "repeats an earlier route", "List each method and path once.");
      seen.add(key);
    });
  }

  const minR = get("api", "minReplicas");
  const maxR = get("api", "maxReplicas");
  if (typeof minR === "number" && typeof maxR === "number" && minR > maxR) {
    add(["api", "minReplicas"], `is above 'api.maxReplicas' (${maxR})`, "Make minReplicas at most maxReplicas.");
  }
  if (typeof get("api", "port") === "number" && get("api", "port") === get("api", "callbackPort")) {
    add(["api", "callbackPort"], "equals 'api.port'", "Give the runner callback its own port.");
  }

  const cfRanges = get("edge", "cloudflareRanges", "cidrs");
  if (Array.isArray(cfRanges)) {
    cfRanges.forEach((r, i) => {
      if (cfRanges.indexOf(r) !== i) add(["edge", "cloudflareRanges", "cidrs", i], "lists a range twice", "List each range once.");
    });
  }

  const ssh = get("api", "ssh");
  if (ssh && typeof ssh === "object" && (ssh as Record<string, unknown>).enabled === true) {
    const ranges = (ssh as Record<string, unknown>).sourceRanges;
    if (!Array.isArray(ranges) || ranges.length === 0) {
      add(
        ["api", "ssh", "sourceRanges"],
        "is empty while SSH is enabled (the load balancer would accept the whole internet)",
        "List the CIDR ranges allowed to reach Git over SSH.",
      );
    }
  }

  const items = get("secrets", "items");
  if (items && typeof items === "object") {
    const byName = items as Record<string, { consumers?: unknown; env?: unknown }>;
    for (const [name, needed] of Object.entries(REQUIRED_SECRETS)) {
      const item = byName[name];
      if (!item || typeof item !== "object") {
        add(["secrets", "items", name], "is missing", `Add it with consumers [${needed.join(", ")}] (see config/example.yaml).`);
        continue;
      }
      const consumers = Array.isArray(item.consumers) ? item.consumers : [];
      const missing = needed.filter((c) => !consumers.includes(c));
      if (missing.length > 0) {
        add(
          ["secrets", "items", name, "consumers"],
          `does not list ${missing.join(", ")}`,
          `Add ${missing.join(", ")}: the plan reads this secret there.`,
        );
      }
    }
    for (const [name, item] of Object.entries(byName)) {
      const consumers = item && typeof item === "object" && Array.isArray(item.consumers) ? (item.consumers as unknown[]) : [];
      if (name === ANTHROPIC_KEY_SECRET) {
        const others = consumers.filter((c) => c !== "egress");
        if (others.length > 0) {
          add(
            ["secrets", "items", name, "consumers"],
            `lists ${others.join(", ")}: only the egress gateway may read the Anthropic API key (whoever reads it can hand it to a runner)`,
            "Set consumers to [egress]; runners reach the API through the gateway, which adds the key.",
          );
        }
      } else if (consumers.includes("egress")) {
        add(
          ["secrets", "items", name, "consumers"],
          `lists egress, which reads only '${ANTHROPIC_KEY_SECRET}'`,
          "Remove egress: the gateway's identity may read no other secret.",
        );
      }
      if (item && typeof item === "object" && item.env !== undefined && !consumers.includes(ENV_CONSUMER)) {
        add(
          ["secrets", "items", name, "env"],
          `is set, but '${ENV_CONSUMER}' is not among the consumers (only the API's Secret has environment variables)`,
          `Remove env, or add ${ENV_CONSUMER} to consumers.`,
        );
      }
    }
    if (Object.hasOwn(byName, HOST_SECRET)) {
      add(["secrets", "items", HOST_SECRET], "is reserved (the plan writes the database's private IP there)", "Rename the secret.");
    }
    const seen = new Map<string, string>();
    for (const [name, item] of Object.entries(byName)) {
      const env = item && typeof item === "object" ? item.env : undefined;
      if (typeof env !== "string") continue;
      if ((RESERVED_SECRET_ENVS as readonly string[]).includes(env)) {
        add(["secrets", "items", name, "env"], "is reserved (External Secrets writes it from the database secrets)", "Pick another name.");
      } else if (seen.has(env)) {
        add(
          ["secrets", "items", name, "env"],
          `is also the env of 'secrets.items.${seen.get(env)}'`,
          "Give each secret its own environment variable.",
        );
      }
      seen.set(env, name);
    }
  }

  if (get("production") !== true) return;

  // Production-only rules.
  // Every image the plan runs: the platform's own, and the egress gateway's nginx.
  const images = get("images");
  const imagePaths: PropertyKey[][] = [
    ...(images && typeof images === "object" ? Object.keys(images).map((key) => ["images", key]) : []),
    ["egressGateway", "image"],
  ];
  for (const path of imagePaths) {
    const ref = valueAt(raw, path);
    if (typeof ref !== "string") continue;
    if (!/@sha256:[a-f0-9]{64}$/.test(ref)) {
      add(path, "is not pinned by digest (production)", "Reference the image as registry/path@sha256:<digest>.");
    } else if (ZERO_DIGEST.test(ref)) {
      add(path, "carries a placeholder digest (production)", "Use the digest of the published image.");
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
      add(path, "holds a placeholder value (production)", "Replace it with the real value.");
    }
  }
  for (const key of ["repositoryId", "repositoryOwnerId"]) {
    const v = get("ci", key);
    if ((typeof v === "string" || typeof v === "number") && /^0+$/.test(String(v))) {
      add(["ci", key], "holds a placeholder id (production)", "Use the numeric id GitHub reports for the repository and its owner.");
    }
  }
  if (get("edge", "cloudflareZoneId") === "0".repeat(32)) {
    add(["edge", "cloudflareZoneId"], "holds a placeholder value (production)", "Use the zone id from the Cloudflare dashboard.");
  }
  if (Array.isArray(zones) && zones.length < 3) {
    add(["project", "zones"], "lists fewer than 3 zones (production)", "List at least three zones of the region for a regional cluster.");
  }
  if (get("cluster", "releaseChannel") === "RAPID") {
    add(["cluster", "releaseChannel"], "is RAPID (production)", "Use STABLE or REGULAR.");
  }
  if (get("database", "availability") !== undefined && get("database", "availability") !== "REGIONAL") {
    add(["database", "availability"], "is not REGIONAL (production)", "Set it to REGIONAL for a standby in a second zone.");
  }
  const sshRanges = get("api", "ssh", "sourceRanges");
  if (Array.isArray(sshRanges)) {
    sshRanges.forEach((r, i) => {
      if (r === "0.0.0.0/0" || r === "::/0") {
        add(["api", "ssh", "sourceRanges", i], "opens Git over SSH to the whole internet (production)", "List the networks that need SSH.");
      }
    });
  }
  if (typeof minR === "number" && minR < 3) {
    add(["api", "minReplicas"], "is below 3 (production)", "Run at least 3 replicas, one per zone.");
  }
}

/** A calendar date `YYYY-MM-DD` that exists. */
const isoDate = z.string().refine((v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v), {
  error: rule("is not a date", "Write it as YYYY-MM-DD, e.g. 2027-03-31."),
});

/**
 * One accepted finding of the review (`npm run review`): the rule, the resource it names exactly as
 * the review prints it (`<stack> <address>`, e.g. `cluster google_container_cluster.gke_cluster_C5D95197`),
 * why it is accepted, and until when. An expired suppression fails the review.
 */
const suppression = z.strictObject({
  rule: z
    .string()
    .regex(/^[A-Z]+\d{2,3}$/, { error: rule("is not a review rule id", "Use the id the review prints, e.g. GKE15 or DR008.") }),
  resource: z
    .string()
    .min(3, { error: rule("is too short to name a resource", "Copy the resource as the review prints it: '<stack> <address>'.") }),
  reason: z.string().min(10, { error: rule("is too short to be a reason", "Say why the finding is accepted (at least 10 characters).") }),
  expires: isoDate,
});

/** The whole environment file. */
export const configSchema = z
  .strictObject({
    /** Prefix of every resource name. */
    name: z.string().regex(NAME, {
      error: rule(
        "is not a valid name prefix",
        "Use 2-18 lowercase letters, digits or hyphens, starting with a letter (service account ids derive from it).",
      ),
    }),
    /** Environment name; must equal the file name. */
    environment: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, {
      error: rule("is not a valid environment name", "Use lowercase letters, digits and hyphens, matching the file name."),
    }),
    /** Turns on the production-only rules (digests, no placeholders, regional HA). */
    production: z.boolean({ error: rule("is not a boolean", "Write true or false.") }),
    project: z.strictObject({
      id: z.string({ error: rule("is missing", "Set project.id to the Google Cloud project id.") }).regex(PROJECT_ID, {
        error: rule("is not a Google Cloud project id", "Use 6-30 lowercase letters, digits or hyphens, starting with a letter."),
      }),
      region: z.string({ error: rule("is missing", "Set project.region, e.g. us-central1.") }).regex(REGION, {
        error: rule("is not a Google Cloud region", "Use a region name such as us-central1 or europe-west4."),
      }),
      zones: z
        .array(z.string().regex(ZONE, { error: rule("is not a zone name", "Use a zone such as us-central1-a.") }))
        .min(1, { error: rule("is empty", "List at least one zone of the region.") }),
    }),
    labels: z
      .record(
        // No hyphen: cdktf rewrites `-` to `_` in provider-level maps (default_labels).
        z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, {
          error: rule(
            "is not a valid label key",
            "Use lowercase letters, digits and _ (no -: the provider's default_labels would rename it).",
          ),
        }),
        z.string().regex(/^[a-z0-9_-]{0,63}$/, { error: rule("is not a valid label value", "Use lowercase letters, digits, _ and -.") }),
      )
      .default({}),
    state: z.strictObject({
      /** GCS bucket that holds every stack's Terraform state. */
      bucket: z.string().regex(/^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$/, {
        error: rule("is not a valid bucket name", "Use 3-63 lowercase letters, digits, _ or -."),
      }),
      /** US, EU, ASIA or a region: the state key ring is created in the same location (CMEK requires it). */
      location: z.string().regex(/^(US|EU|ASIA|[a-z]+-[a-z]+[0-9]{1,2})$/, {
        error: rule("is not a location both Cloud Storage and Cloud KMS offer", "Use US, EU, ASIA or a region such as us-central1."),
      }),
      /** Days before a non-current state version is deleted. */
      keepVersionsDays: count(1, 3650).default(90),
      /**
       * Where the bootstrap stack keeps its own state: `local` (a relative file) for the very
       * first apply, before the bucket exists; then `gcs` (see docs/adr/0003).
       */
      bootstrapBackend: z
        .enum(["gcs", "local"], { error: rule("is not a backend kind", "Use gcs (or local for the first bootstrap apply only).") })
        .default("gcs"),
      /** KMS key rotation period in days (state and cluster secrets keys). */
      kmsRotationDays: count(1, 365).default(90),
    }),
    network: z.strictObject({
      nodeCidr: cidr("network.nodeCidr"),
      podCidr: cidr("network.podCidr"),
      serviceCidr: cidr("network.serviceCidr"),
      controlPlaneCidr: cidr("network.controlPlaneCidr"),
      privateServicesCidr: cidr("network.privateServicesCidr"),
      flowLogSampling: z.number().min(0).max(1).default(0.5),
    }),
    cluster: z.strictObject({
      releaseChannel,
      /** Daily maintenance window start (UTC). */
      maintenanceStart: hhmm,
      /** Networks allowed to reach the private endpoint, beside the IAM-authenticated DNS endpoint. */
      authorizedNetworks: z
        .record(
          z.string().regex(/^[a-z][a-z0-9-]*$/, { error: rule("is not a valid name", "Use lowercase letters, digits and hyphens.") }),
          cidr("each authorized network"),
        )
        .default({}),
      binaryAuthorization: z.boolean().default(false),
      nodeLocalDns: z.boolean().default(false),
      systemPool: nodePool,
      sandboxPool: nodePool,
    }),
    images: z.strictObject({
      api: image,
      runner: image,
      migrate: image,
    }),
    api: z.strictObject({
      port: count(1024, 65535),
      callbackPort: count(1024, 65535),
      /**
       * Fixed address of the `api-callback` Service (the callback port only): runners have no DNS
       * and reach it through a `hostAliases` entry. In `network.serviceCidr`'s static band.
       */
      callbackClusterIP: ipv4,
      minReplicas: count(2, 100),
      maxReplicas: count(2, 500),
      /** Path the probes and the load balancer's health check request. */
      healthPath: z
        .string()
        .regex(/^\/[A-Za-z0-9/_.-]*$/, { error: rule("is not a URL path", "Write it as /path, e.g. /api/health.") })
        .default("/api/health"),
      resources: resources.default({ cpu: "500m", memory: "512Mi", ephemeralStorage: "1Gi" }),
      /** Git over SSH: a TCP LoadBalancer Service on port 22. Off unless asked for. */
      ssh: z
        .strictObject({
          enabled: z.boolean(),
          port: count(1024, 65535).default(2222),
          sourceRanges: z.array(anyCidr).default([]),
        })
        .default({ enabled: false, port: 2222, sourceRanges: [] }),
    }),
    /** Limits of one runner (agent/workflow) pod and of the runners namespace. */
    runner: z.strictObject({
      resources: resources.default({ cpu: "2", memory: "4Gi", ephemeralStorage: "2Gi" }),
      /** Most runner pods at once (ResourceQuota). */
      maxPods: count(1, 1000).default(5),
      /** Longest a runner pod may run, in seconds. */
      maxRuntimeSeconds: count(60, 86400).default(3600),
    }),
    /**
     * The runners' egress gateway: an unprivileged nginx, the only way from a runner to the
     * Anthropic API, holding its key (README, "Network"; docs/adr/0015).
     */
    egressGateway: z.strictObject({
      /** An unprivileged nginx build (`nginxinc/nginx-unprivileged`), by digest in production. */
      image,
      /** Replicas, spread across zones (a PodDisruptionBudget keeps all but one). */
      replicas: count(2, 20).default(2),
      /** Fixed address of the gateway's Service: runners reach it through `hostAliases`. In `network.serviceCidr`'s static band. */
      clusterIP: ipv4,
      /** Port runners connect to (plain HTTP inside the cluster). */
      port: count(1024, 65535).default(8080),
      /** Port of the health endpoint (probes only; not in the Service). */
      healthPort: count(1024, 65535).default(8081),
      /** The allowlist: every other method or path is refused with 403 before anything reaches Anthropic. */
      routes: z
        .array(
          z.strictObject({
            method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"], {
              error: rule("is not an HTTP method the gateway can allow", "Use GET, POST, PUT, PATCH or DELETE."),
            }),
            path: z.string().regex(/^(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$/, {
              error: rule(
                "is not an exact, normalised path",
                "Write it as /v1/messages: segments of letters, digits, '_', '-' and '.', none empty or starting with '.'.",
              ),
            }),
          }),
        )
        .min(1, { error: rule("is empty", "Allow at least one method and path, e.g. POST /v1/messages.") }),
      /** Largest request body in MiB; larger is refused (413) before any byte goes upstream. */
      maxBodyMegabytes: count(1, 256).default(32),
      /** Requests per minute per runner pod (per gateway replica), and the burst allowed above it; beyond is refused (429). */
      rateLimit: z
        .strictObject({ requestsPerMinute: count(1, 100000), burst: count(0, 10000) })
        .default({ requestsPerMinute: 600, burst: 60 }),
      /** Longest wait between two reads from Anthropic (a long generation, an SSE stream), in seconds. */
      upstreamReadTimeoutSeconds: count(10, 3600).default(600),
      resources: resources.default({ cpu: "250m", memory: "128Mi", ephemeralStorage: "1Gi" }),
    }),
    database: z.strictObject({
      version: z.enum(["POSTGRES_15", "POSTGRES_16", "POSTGRES_17"], {
        error: rule("is not a supported Cloud SQL PostgreSQL version", "Use POSTGRES_16 or POSTGRES_17."),
      }),
      tier: z.string().regex(/^db-[a-z0-9-]+$/, { error: rule("is not a Cloud SQL tier", "Use a tier such as db-custom-2-7680.") }),
      availability: z.enum(["ZONAL", "REGIONAL"], { error: rule("is not an availability type", "Use ZONAL or REGIONAL.") }),
      databaseName: z
        .string()
        .regex(/^[a-z][a-z0-9_]{0,62}$/, { error: rule("is not a database name", "Use lowercase letters, digits and _.") }),
      backupStart: hhmm,
      retainedBackups: count(1, 365).default(14),
    }),
    edge: z.strictObject({
      domain: z.string().regex(HOSTNAME, { error: rule("is not a DNS name", "Use a fully qualified name such as plue.example.com.") }),
      cloudflareZoneId: z.string().regex(/^[a-f0-9]{32}$/, {
        error: rule("is not a Cloudflare zone id", "Copy the 32-hex-digit zone id from the Cloudflare dashboard."),
      }),
      /** Cloudflare's published ranges; Cloud Armor allows only these. */
      cloudflareRanges: z.strictObject({
        source: z.string().min(1),
        retrieved: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: rule("is not a date", "Write it as YYYY-MM-DD.") }),
        cidrs: z.array(anyCidr).min(1),
      }),
      /** Requests per minute per client IP on /api/auth/* (Cloud Armor). */
      authRateLimitPerMinute: count(1, 10000).default(10),
      /** Validity of the Cloudflare Origin CA certificate the load balancer serves. */
      originCertValidityDays: z
        .union([z.literal(7), z.literal(30), z.literal(90), z.literal(365), z.literal(730), z.literal(1095), z.literal(5475)], {
          error: rule("is not a validity Cloudflare's Origin CA offers", "Use 7, 30, 90, 365, 730, 1095 or 5475."),
        })
        .default(365),
      /**
       * Renewal marker of the Origin CA certificate (YYYY-MM-DD, the day renewal was asked for):
       * changing it makes the next deploy issue a new certificate before the old one is revoked
       * (Cloudflare's provider never renews it by itself). `npm run pki -- rotate origin` renews
       * with a new key instead.
       * @default - no renewal asked for yet
       */
      originCertRenewal: z
        .string()
        .regex(/^\d{4}-\d{2}-\d{2}$/, { error: rule("is not a date", "Write it as YYYY-MM-DD (the day you asked for the renewal).") })
        .optional(),
    }),
    /**
     * Secrets in Google Secret Manager, keyed by a stable name (the secret id is `<name>-<key>`).
     * Values never appear here or in the plan; they are added out of band (README, "Secrets").
     */
    secrets: z.strictObject({
      /** Replica locations; empty = automatic replication. */
      replicaLocations: z
        .array(z.string().regex(REGION, { error: rule("is not a region", "Use a region such as us-central1.") }))
        .default([]),
      /** Pub/Sub topic (full id) that receives rotation reminders. @default - no rotation notifications */
      rotationTopic: z
        .string()
        .regex(/^projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/topics\/[A-Za-z][A-Za-z0-9._~%+-]{2,254}$/, {
          error: rule("is not a Pub/Sub topic id", "Write it as projects/<project>/topics/<topic>."),
        })
        .optional(),
      items: z.record(
        z.string().regex(/^[a-z][a-z0-9-]{1,40}$/, { error: rule("is not a secret name", "Use lowercase letters, digits and hyphens.") }),
        z.strictObject({
          description: z.string().min(1).max(200),
          /** Who reads it: the API, the schema Job, the egress gateway, or Terraform at apply time (edge, data). */
          consumers: z
            .array(z.enum(SECRET_CONSUMERS, { error: rule("is not a consumer", "Use api, migrate, egress, edge or data.") }))
            .min(1),
          /** Environment variable name in the API's Secret (consumer api only). */
          env: z
            .string()
            .regex(/^[A-Z][A-Z0-9_]*$/, { error: rule("is not an environment variable name", "Use UPPER_SNAKE_CASE.") })
            .optional(),
          /** Rotation reminder period in days. @default - no rotation schedule */
          rotationDays: count(1, 3650).optional(),
        }),
      ),
    }),
    externalSecrets: z.strictObject({
      /** Version of the `external-secrets` chart from https://charts.external-secrets.io. */
      chartVersion: z
        .string()
        .regex(/^[0-9]+\.[0-9]+\.[0-9]+$/, { error: rule("is not an exact chart version", "Pin an exact version such as 2.0.1.") }),
      namespace: z
        .string()
        .regex(/^[a-z][a-z0-9-]{0,62}$/)
        .default("external-secrets"),
      /** How often ExternalSecrets re-read Secret Manager. */
      refreshInterval: z
        .string()
        .regex(/^[0-9]+(s|m|h)$/, { error: rule("is not a duration", "Write it as e.g. 1h or 15m.") })
        .default("1h"),
    }),
    /**
     * Who deploys from CI (docs/adr/0014): the GitHub repository by its numeric ids (a name can be
     * re-registered after a rename or deletion, an id cannot) and the protected branch. The deploy
     * and drift jobs run in the GitHub environment named like `environment`, pull-request plans
     * in `<environment>-plan`.
     */
    ci: z.strictObject({
      /** `repository_id` claim of GitHub's OIDC token (Settings → the repository's id, or `gh api repos/<o>/<r> --jq .id`). */
      repositoryId: githubId,
      /** `repository_owner_id` claim (`gh api users/<owner> --jq .id`). */
      repositoryOwnerId: githubId,
      /** The protected branch that deploys. */
      branch: z.string().regex(BRANCH, {
        error: rule("is not a branch name", "Use a branch name such as main or release/prod (letters, digits, . _ / -)."),
      }),
    }),
    /** The private CA and the certificates of origin protection (see `pki/`). */
    pki: z.strictObject({
      /** Private store (keys), relative to the repository root; git-ignored. */
      dir: z.string().regex(/^[A-Za-z0-9._/-]+$/, { error: rule("is not a relative path", "Use a path such as .pki/example.") }),
      /** Committed public certificates the plan reads (CA and client certificate). */
      publicDir: z
        .string()
        .regex(/^[A-Za-z0-9._/-]+$/, { error: rule("is not a relative path", "Use a path such as config/pki/example.") }),
      organization: z.string().min(1).max(64),
      caValidityDays: count(30, 7300).default(3650),
      clientValidityDays: count(1, 825).default(365),
      /** Hostnames of the origin certificate (Cloudflare Origin CA). */
      originHostnames: z
        .array(
          z.string().regex(/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, {
            error: rule("is not a hostname", "Use a name such as plue.example.com or *.plue.example.com."),
          }),
        )
        .min(1),
    }),
    /** The review's accepted findings (`npm run review`). */
    review: z
      .strictObject({
        suppressions: z.array(suppression).default([]),
      })
      .default({ suppressions: [] }),
  })
  .superRefine(crossFieldRules, { when: () => true });

/** Validated configuration, as the stacks and charts receive it. */
export type PlueConfig = z.infer<typeof configSchema>;

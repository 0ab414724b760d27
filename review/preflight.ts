/**
 * The pre-deployment checklist (seed 004, "Pre-Deployment Checklist", for this platform): checks
 * against the environment's configuration, the synthesized plan and the committed public
 * certificates, each ✓ or ✗ with what is wrong. CI runs it before applying (`deploy.yml`).
 * Pure apart from reading the plan directory and the certificate files.
 */
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { githubEnvironments, names, secretId } from "../config/names.ts";
import { PUBLIC_CERT_FILES } from "../config/public-certs.ts";
import { PLACEHOLDER, type PlueConfig, ZERO_DIGEST } from "../config/schema.ts";
import { REQUIRED_SECRETS } from "../config/secrets.ts";
import { ALL_RULES } from "./rules/index.ts";
import { evaluateRules } from "./run.ts";
import { type Json, loadPlan, type PlanModel } from "./plan-model.ts";
import { readStacks, stackOrder } from "./stack-order.ts";

/** One line of the checklist. */
export interface PreflightItem {
  /** Stable id, e.g. `state-backend`. */
  readonly id: string;
  /** What holds when the item passes. */
  readonly title: string;
  readonly ok: boolean;
  /** Each problem (✗), or what was checked (✓). */
  readonly details: readonly string[];
}

/** The whole checklist for one environment. */
export interface PreflightReport {
  readonly environment: string;
  readonly production: boolean;
  readonly items: readonly PreflightItem[];
  /** True when every item passed. */
  readonly ok: boolean;
}

/** What the checklist reads. */
export interface PreflightInputs {
  readonly config: PlueConfig;
  /** The synthesized plan of this environment (`npm run synth -- --env <name>`). */
  readonly planDir: string;
  /** Directory `pki.publicDir` is relative to (the repository root). */
  readonly repoRoot: string;
  /** The time certificates are judged at. */
  readonly now: Date;
  /** A certificate must stay valid at least this many days past `now`. */
  readonly warnDays: number;
}

/** Default of {@link PreflightInputs.warnDays}: a month to rotate a certificate before it expires. */
export const DEFAULT_WARN_DAYS = 30;

const item = (id: string, title: string, problems: readonly string[], checked: readonly string[]): PreflightItem => ({
  id,
  title,
  ok: problems.length === 0,
  details: problems.length === 0 ? checked : problems,
});

/** Every block of one Terraform type in a stack, by logical id. */
function blocks(plan: PlanModel, stack: string, type: string, mode: "resource" | "data" = "resource"): [string, Json][] {
  const tf = plan.stacks.find((s) => s.name === stack)?.tf;
  const section = (mode === "resource" ? tf?.resource : tf?.data)?.[type] ?? {};
  return Object.entries(section);
}

/** Every block of one type in every stack, with its stack. */
function everywhere(plan: PlanModel, type: string, mode: "resource" | "data" = "resource"): { stack: string; id: string; body: Json }[] {
  return plan.stacks.flatMap((s) => blocks(plan, s.name, type, mode).map(([id, body]) => ({ stack: s.name, id, body })));
}

/**
 * No placeholder left in the values that name real things (project, bucket, domain, zone, CA
 * organisation, hostnames, images, the GitHub repository). In every environment: an environment
 * that is deployed is not an example (the schema already refuses these in production at synth).
 */
export function checkPlaceholders(config: PlueConfig): PreflightItem {
  const problems: string[] = [];
  const fields: [string, string | undefined][] = [
    ["project.id", config.project.id],
    ["state.bucket", config.state.bucket],
    ["edge.domain", config.edge.domain],
    ["pki.organization", config.pki.organization],
    ...config.pki.originHostnames.map((h, i): [string, string] => [`pki.originHostnames[${i}]`, h]),
    ["secrets.rotationTopic", config.secrets.rotationTopic],
  ];
  for (const [field, v] of fields) if (v !== undefined && PLACEHOLDER.test(v)) problems.push(`'${field}' holds a placeholder (got ${v})`);
  if (/^0+$/.test(config.edge.cloudflareZoneId))
    problems.push(`'edge.cloudflareZoneId' holds a placeholder (got ${config.edge.cloudflareZoneId})`);
  const images: [string, string][] = [
    ...Object.entries(config.images).map(([key, ref]): [string, string] => [`images.${key}`, ref]),
    ["egressGateway.image", config.egressGateway.image],
  ];
  for (const [field, ref] of images) {
    if (ZERO_DIGEST.test(ref)) problems.push(`'${field}' carries a placeholder digest (got ${ref})`);
  }
  for (const key of ["repositoryId", "repositoryOwnerId"] as const) {
    if (/^0+$/.test(config.ci[key])) problems.push(`'ci.${key}' holds a placeholder id (got ${config.ci[key]})`);
  }
  return item("placeholders", "No placeholder values", problems, [`${fields.length + 3 + images.length} values checked`]);
}

/**
 * Every secret the plan needs is declared: the required ones are configured, every configured
 * one is created by the plan, and every secret the plan reads (Terraform data sources, External
 * Secrets) is one the plan creates.
 */
export function checkSecrets(config: PlueConfig, plan: PlanModel): PreflightItem {
  const problems: string[] = [];
  for (const name of Object.keys(REQUIRED_SECRETS)) {
    if (!(name in config.secrets.items)) problems.push(`'secrets.items.${name}' is not configured (the plan reads it)`);
  }
  const created = new Set(everywhere(plan, "google_secret_manager_secret").map((b) => String(b.body.secret_id)));
  for (const name of Object.keys(config.secrets.items)) {
    const id = secretId(config, name);
    if (!created.has(id)) problems.push(`secret ${id} ('secrets.items.${name}') is not created by the plan`);
  }
  const reads: { id: string; where: string }[] = [];
  for (const b of everywhere(plan, "google_secret_manager_secret_version", "data")) {
    reads.push({
      id: String(b.body.secret).split("/").pop() ?? "",
      where: `${b.stack}: data.google_secret_manager_secret_version.${b.id}`,
    });
  }
  for (const { file, objects } of plan.charts) {
    for (const o of objects) {
      if (o.kind !== "ExternalSecret") continue;
      const data = ((o as Json).spec as { data?: { remoteRef?: { key?: unknown } }[] } | undefined)?.data ?? [];
      for (const d of data) {
        if (typeof d.remoteRef?.key === "string")
          reads.push({ id: d.remoteRef.key, where: `k8s/${file}: ExternalSecret ${o.metadata.name}` });
      }
    }
  }
  for (const r of reads) if (!created.has(r.id)) problems.push(`${r.where} reads secret ${r.id}, which the plan does not create`);
  return item("secrets", "Every required Secret Manager secret is declared", problems, [
    `${Object.keys(config.secrets.items).length} configured, ${created.size} created, ${reads.length} reads resolved`,
  ]);
}

/** The committed public certificates are valid now and for `warnDays` more, and the client certificate is the CA's. */
export function checkCertificates(config: PlueConfig, repoRoot: string, now: Date, warnDays: number): PreflightItem {
  const problems: string[] = [];
  const checked: string[] = [];
  const dir = config.pki.publicDir.replace(/\/+$/, "");
  const horizon = new Date(now.getTime() + warnDays * 86_400_000);
  const read = (file: string, optional: boolean): X509Certificate | undefined => {
    const path = join(repoRoot, dir, file);
    if (!existsSync(path)) {
      if (!optional) problems.push(`${dir}/${file} is missing. Run \`npm run pki -- publish --env ${config.environment}\`.`);
      return undefined;
    }
    try {
      return new X509Certificate(readFileSync(path));
    } catch (e) {
      problems.push(`${dir}/${file} is not a certificate (got ${(e as Error).message})`);
      return undefined;
    }
  };
  const ca = read(PUBLIC_CERT_FILES.ca, false);
  const nextCa = read(PUBLIC_CERT_FILES.nextCa, true);
  const client = read(PUBLIC_CERT_FILES.client, false);
  for (const [file, cert] of [
    [PUBLIC_CERT_FILES.ca, ca],
    [PUBLIC_CERT_FILES.nextCa, nextCa],
    [PUBLIC_CERT_FILES.client, client],
  ] as const) {
    if (!cert) continue;
    const from = new Date(cert.validFrom);
    const to = new Date(cert.validTo);
    const days = Math.floor((to.getTime() - now.getTime()) / 86_400_000);
    if (from > now) problems.push(`${dir}/${file} is not valid before ${from.toISOString()}`);
    else if (to <= now) problems.push(`${dir}/${file} expired on ${to.toISOString()}. Issue a new one (pki/README.md).`);
    else if (to <= horizon)
      problems.push(`${dir}/${file} expires in ${days} days (${to.toISOString()}), within ${warnDays}. Rotate it (pki/README.md).`);
    else checked.push(`${file} valid until ${to.toISOString().slice(0, 10)} (${days} days)`);
  }
  if (client && ca) {
    const issuers = [ca, nextCa].filter((c): c is X509Certificate => c !== undefined);
    if (!issuers.some((i) => client.checkIssued(i) && client.verify(i.publicKey))) {
      problems.push(
        `${dir}/${PUBLIC_CERT_FILES.client} is not signed by ${PUBLIC_CERT_FILES.ca}. Issue it again with this environment's CA.`,
      );
    }
  }
  return item("certificates", `Certificates valid beyond ${warnDays} days`, problems, checked);
}

/** Every stack keeps its state in the environment's bucket under its own prefix; the bucket is CMEK-encrypted, versioned and private. */
export function checkStateBackend(config: PlueConfig, plan: PlanModel): PreflightItem {
  const problems: string[] = [];
  for (const s of plan.stacks) {
    const backend = (s.tf.terraform as { backend?: Record<string, Json> } | undefined)?.backend ?? {};
    const kinds = Object.keys(backend);
    const gcs = backend.gcs;
    if (kinds.length !== 1 || !gcs) {
      problems.push(
        `stack ${s.name} keeps its state in a ${kinds.join("+") || "default local"} backend, not gcs${s.name === "bootstrap" ? " (set 'state.bootstrapBackend' to gcs and migrate: README)" : ""}`,
      );
      continue;
    }
    if (gcs.bucket !== config.state.bucket)
      problems.push(`stack ${s.name}: state bucket ${String(gcs.bucket)} is not 'state.bucket' (${config.state.bucket})`);
    const prefix = `${config.environment}/${s.name}`;
    if (gcs.prefix !== prefix) problems.push(`stack ${s.name}: state prefix ${String(gcs.prefix)} is not ${prefix}`);
  }
  const buckets = everywhere(plan, "google_storage_bucket").filter((b) => b.body.name === config.state.bucket);
  if (buckets.length !== 1) {
    problems.push(`the plan creates ${buckets.length} buckets named ${config.state.bucket}, not one`);
  } else {
    const b = buckets[0]?.body ?? {};
    const key = (b.encryption as { default_kms_key_name?: unknown } | undefined)?.default_kms_key_name;
    if (typeof key !== "string" || !/^\$\{google_kms_crypto_key\.[^.]+\.id\}$/.test(key)) {
      problems.push(`state bucket ${config.state.bucket} is not encrypted with a KMS key of the plan (got ${JSON.stringify(key ?? null)})`);
    }
    if ((b.versioning as { enabled?: unknown } | undefined)?.enabled !== true)
      problems.push(`state bucket ${config.state.bucket} is not versioned`);
    if (b.public_access_prevention !== "enforced")
      problems.push(`state bucket ${config.state.bucket} does not enforce public access prevention`);
  }
  return item("state-backend", "State backend configured and encrypted", problems, [
    `${plan.stacks.length} stacks in gs://${config.state.bucket}/${config.environment}/<stack>, CMEK, versioned, private`,
  ]);
}

/**
 * The posture review passes: every rule of `npm run review` (posture, cross-layer and deploy
 * readiness) over the plan, with the environment's suppressions, as of `today` (YYYY-MM-DD).
 */
export function checkPosture(plan: PlanModel, config: PlueConfig, today: string): PreflightItem {
  const { findings, outcome } = evaluateRules({ plan, config }, ALL_RULES, config.review.suppressions, today);
  const failing = findings.filter((f) => f.failing);
  return item(
    "posture",
    "Posture review passing",
    [
      ...failing.map((f) => `${f.rule} ${f.resource}: ${f.message}`),
      ...outcome.expired.map((s) => `suppression of ${s.rule} for ${s.resource} expired on ${s.expires}`),
    ],
    [`${ALL_RULES.length} rules, ${findings.length} findings: none failing (${findings.filter((f) => f.suppressed).length} suppressed)`],
  );
}

/** Every container image of every Kubernetes object is pinned by a real digest. */
export function checkImages(plan: PlanModel): PreflightItem {
  const problems: string[] = [];
  let count = 0;
  const visit = (v: unknown, where: string): void => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x, where);
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v as Json)) {
        if ((k === "containers" || k === "initContainers" || k === "ephemeralContainers") && Array.isArray(x)) {
          for (const c of x as { name?: unknown; image?: unknown }[]) {
            count++;
            const image = typeof c.image === "string" ? c.image : "";
            if (!/@sha256:[a-f0-9]{64}$/.test(image))
              problems.push(`${where}: container ${String(c.name)} image is not pinned by digest (got ${image || "none"})`);
            else if (ZERO_DIGEST.test(image))
              problems.push(`${where}: container ${String(c.name)} image carries a placeholder digest (got ${image})`);
          }
        }
        visit(x, where);
      }
    }
  };
  for (const { file, objects } of plan.charts) for (const o of objects) visit(o, `k8s/${file}: ${o.kind} ${o.metadata.name}`);
  if (count === 0) problems.push("the plan has no container at all (synthesize the charts)");
  return item("images", "Images pinned by digest", problems, [`${count} containers pinned by digest`]);
}

/**
 * The deploy identity admits only the configured repository (by numeric ids), branch and
 * environments: the GitHub provider's condition pins each, the CI accounts are impersonable only
 * through this pool, no service account key and no basic role exists anywhere in the plan.
 */
export function checkDeployIdentity(config: PlueConfig, plan: PlanModel): PreflightItem {
  const problems: string[] = [];
  const providers = everywhere(plan, "google_iam_workload_identity_pool_provider");
  const envs = githubEnvironments(config);
  if (providers.length !== 1) problems.push(`the plan has ${providers.length} workload identity providers, not one`);
  for (const p of providers) {
    const condition = typeof p.body.attribute_condition === "string" ? p.body.attribute_condition : "";
    const issuer = (p.body.oidc as { issuer_uri?: unknown } | undefined)?.issuer_uri;
    if (issuer !== "https://token.actions.githubusercontent.com")
      problems.push(`provider ${p.id}: issuer is not GitHub Actions (got ${String(issuer)})`);
    if (condition === "") problems.push(`provider ${p.id} has no attribute condition: every GitHub repository could exchange tokens`);
    const clauses = condition.split("||");
    const pins = [
      `assertion.repository_id == '${config.ci.repositoryId}'`,
      `assertion.repository_owner_id == '${config.ci.repositoryOwnerId}'`,
    ];
    for (const clause of clauses) {
      for (const pin of pins) if (!clause.includes(pin)) problems.push(`provider ${p.id}: a clause of the condition does not pin ${pin}`);
    }
    if (
      !clauses.some(
        (c) => c.includes(`assertion.environment == '${envs.deploy}'`) && c.includes(`assertion.ref == 'refs/heads/${config.ci.branch}'`),
      )
    ) {
      problems.push(`provider ${p.id}: no clause pins environment ${envs.deploy} on refs/heads/${config.ci.branch}`);
    }
    for (const key of ["repositoryId", "repositoryOwnerId"] as const) {
      if (/^0+$/.test(config.ci[key]))
        problems.push(`provider ${p.id}: 'ci.${key}' is a placeholder (got ${config.ci[key]}): no job can deploy`);
    }
  }
  const n = names(config);
  const ciAccounts = new Set([n.ciServiceAccount, n.ciPlanServiceAccount]);
  const accountAddress = new Map(
    everywhere(plan, "google_service_account")
      .filter((b) => ciAccounts.has(String(b.body.account_id)))
      .map((b) => [`\${google_service_account.${b.id}.name}`, String(b.body.account_id)]),
  );
  if (accountAddress.size !== ciAccounts.size) problems.push(`the plan does not create both CI accounts (${[...ciAccounts].join(", ")})`);
  for (const b of everywhere(plan, "google_service_account_iam_member")) {
    const account = accountAddress.get(String(b.body.service_account_id));
    if (!account) continue;
    const member = String(b.body.member);
    if (
      b.body.role !== "roles/iam.workloadIdentityUser" ||
      !/^principalSet:\/\/iam\.googleapis\.com\/\$\{google_iam_workload_identity_pool\.[^.]+\.name\}\/attribute\.ci_role\/(deploy|plan)$/.test(
        member,
      )
    ) {
      problems.push(`${account} grants ${String(b.body.role)} to ${member}: only the GitHub pool's principal set may impersonate it`);
    }
  }
  for (const b of everywhere(plan, "google_service_account_key"))
    problems.push(`${b.stack}: google_service_account_key.${b.id} creates a key`);
  for (const type of ["google_project_iam_member", "google_project_iam_binding"]) {
    for (const b of everywhere(plan, type)) {
      if (["roles/owner", "roles/editor", "roles/viewer"].includes(String(b.body.role)))
        problems.push(`${b.stack}: ${type}.${b.id} grants the basic role ${String(b.body.role)}`);
      if (b.body.role === "roles/secretmanager.secretAccessor")
        problems.push(`${b.stack}: ${type}.${b.id} grants Secret Manager access project-wide`);
    }
  }
  return item("deploy-identity", "Deploy identity pinned to the repository, branch and environment", problems, [
    `repository ${config.ci.repositoryId} of owner ${config.ci.repositoryOwnerId}, refs/heads/${config.ci.branch}, environments ${envs.deploy} and ${envs.plan}`,
  ]);
}

/** The plan's stacks have a dependency order (manifest.json): CI applies them in it. */
export function checkDeployOrder(planDir: string): PreflightItem {
  try {
    return item("deploy-order", "Stacks have a dependency order", [], [stackOrder(readStacks(planDir)).join(" → ")]);
  } catch (e) {
    return item("deploy-order", "Stacks have a dependency order", [(e as Error).message], []);
  }
}

/**
 * Runs the whole checklist.
 * @throws Error when the plan directory holds no synthesized plan (a usage error, not a ✗).
 */
export function runPreflight(inputs: PreflightInputs): PreflightReport {
  const { config } = inputs;
  const plan = loadPlan(inputs.planDir);
  const items = [
    checkPlaceholders(config),
    checkSecrets(config, plan),
    checkCertificates(config, inputs.repoRoot, inputs.now, inputs.warnDays),
    checkStateBackend(config, plan),
    checkPosture(plan, config, inputs.now.toISOString().slice(0, 10)),
    checkImages(plan),
    checkDeployIdentity(config, plan),
    checkDeployOrder(inputs.planDir),
  ];
  return { environment: config.environment, production: config.production, items, ok: items.every((i) => i.ok) };
}

/** The checklist as text: one ✓/✗ line per item, its details indented below. */
export function formatPreflight(report: PreflightReport): string {
  const lines = [`pre-deployment checklist: environment ${report.environment}${report.production ? " (production)" : ""}`, ""];
  for (const i of report.items) {
    lines.push(`${i.ok ? "✓" : "✗"} ${i.title}`);
    for (const d of i.details) lines.push(`    ${d}`);
  }
  const failed = report.items.filter((i) => !i.ok).length;
  lines.push("", failed === 0 ? `all ${report.items.length} checks passed` : `${failed} of ${report.items.length} checks failed`);
  return `${lines.join("\n")}\n`;
}

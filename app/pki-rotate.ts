/**
 * `npm run pki -- rotate <client|ca|origin> <begin|finish|abort>`: two-phase rotations of origin
 * protection's certificates without a window where none serves, crash-safe through the store's
 * journal (pki/journal.ts, pki/rotation.ts, docs/adr/0016-certificate-rotation.md).
 */
import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { secretId } from "../config/names.ts";
import { EDGE_SECRETS } from "../config/secrets.ts";
import { certificateId } from "../lib/cert-id.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import { InconsistentStoreError, OperationalError, UsageError } from "../pki/errors.ts";
import { describeStep, type Journal, type JournalStep, readJournal, resumeJournal, sha256Hex, startJournal } from "../pki/journal.ts";
import {
  PlanBuilder,
  planCaAbort,
  planCaBegin,
  planCaFinish,
  planClientAbort,
  planClientBegin,
  planClientFinish,
  planOriginAbort,
  planOriginBegin,
  planOriginFinish,
  type RotationKind,
  type RotationPhase,
  type RotationPlan,
} from "../pki/rotation.ts";
import { ensurePrivateDir, ensurePublicDir, pathExists, STORE_FILES } from "../pki/store.ts";
import {
  type Context,
  type Environment,
  environment,
  faultHook,
  MIN_PASSPHRASE_LENGTH,
  PASSPHRASE_ENV,
  passphrase,
} from "./pki-context.ts";

/** The environment variables `rotate … finish` reads to ask Cloudflare. */
export const CLOUDFLARE_TOKEN_ENV = "CLOUDFLARE_API_TOKEN";
export const CLOUDFLARE_BASE_URL_ENV = "CLOUDFLARE_BASE_URL";

/** What one rotate command says it did (also its `--json`). */
export interface RotationReport {
  readonly command: string;
  readonly dryRun: boolean;
  /** True when this run completed an interrupted one. */
  readonly resumed: boolean;
  /** Every file operation of the command (for a resumed run: those left when it resumed). */
  readonly steps: readonly { readonly op: JournalStep["op"]; readonly path: string; readonly what: string; readonly line: string }[];
  /** What changes in the synthesized plan once the public files are committed. */
  readonly planChanges: readonly string[];
  /** What the operator does next. */
  readonly next: readonly string[];
  /** Cloudflare's answer, when finish asked. */
  readonly cloudflare?: { readonly certificateId: string | null; readonly status: string };
}

/** Help texts of each rotate command. */
export const ROTATE_HELP: Record<RotationKind, Record<RotationPhase, { summary: string; description: string }>> = {
  client: {
    begin: {
      summary: "issue the next client certificate beside the current one",
      description:
        "Issues the next Cloudflare origin-pull client certificate (client-next.key.pem, client-next.pem)\nwith the current CA and publishes client-next.pem: the plan then carries two AOP certificates,\neach keyed by its fingerprint, so a deploy of the edge stack uploads the new one while the old\none still serves. Needs PLUE_PKI_PASSPHRASE (the CA key).",
    },
    finish: {
      summary: "make the next client certificate current once it is active at Cloudflare",
      description:
        "Checks through the Cloudflare API (CLOUDFLARE_API_TOKEN, zone edge.cloudflareZoneId) that the\nnext client certificate is active, or takes --confirmed-active; then makes it client.pem and\nretires the old one (client-retired.*): the next deploy deletes it at Cloudflare.",
    },
    abort: {
      summary: "withdraw the next client certificate",
      description:
        "Removes the public client-next.pem and retires the next client certificate and key\n(client-retired.*, the previous retired pair backed up): the next deploy deletes it at Cloudflare.",
    },
  },
  ca: {
    begin: {
      summary: "create the next CA and a client certificate it issued",
      description:
        "Creates the next CA (ca-next.key.pem encrypted with PLUE_PKI_PASSPHRASE, ca-next.pem) and a\nclient certificate it issued (client-next.*), and publishes ca-next.pem and client-next.pem:\nthe TrustConfig then trusts both CAs, and the new client certificate is uploaded after it does.",
    },
    finish: {
      summary: "make the next CA current once its client certificate is active at Cloudflare",
      description:
        "Checks that the next client certificate is active at Cloudflare (as rotate client finish), then\nmakes ca-next and client-next current and retires the old CA and client certificate: the next\ndeploy removes the old anchor and deletes the old certificate.",
    },
    abort: {
      summary: "withdraw the next CA's client certificate, then (run again after a deploy) the next CA",
      description:
        "Takes two runs with a deploy of the edge stack between them. The first removes the public\nclient-next.pem and retires the next client certificate (client-retired.*) while both CAs stay\ntrusted: Cloudflare may present it until its deletion completes. Once Cloudflare no longer lists\nit, the second removes the public ca-next.pem and retires the next CA (ca-retired.*).",
    },
  },
  origin: {
    begin: {
      summary: "create a new origin key and CSR, and publish the CSR",
      description:
        "Creates a new origin key and CSR (origin-next.key.pem, origin-next.csr.pem; hostnames\npki.originHostnames) and publishes the CSR as origin.csr.pem: the next deploy has Cloudflare's\nOrigin CA issue a certificate for it and the load balancer serve it, each created before the\nold one is removed. Add the new key to Secret Manager BEFORE that deploy.",
    },
    finish: {
      summary: "make the new origin key and CSR current in the store",
      description:
        "Makes origin-next.* current (origin.key.pem, origin.csr.pem; origin-next.pem too, when you saved\nCloudflare's certificate there) and retires the old ones (origin-retired.*). The plan does not\nchange.",
    },
    abort: {
      summary: "put the current CSR back and withdraw the new origin key",
      description: "Publishes the current origin.csr.pem again and retires origin-next.* (origin-retired.*).",
    },
  },
};

/** Runs `rotate <kind> <phase>`; returns the exit code. */
export async function rotate(ctx: Context, kind: RotationKind, phase: RotationPhase): Promise<number> {
  const env = await environment(ctx);
  const dryRun = ctx.values.dryRun === true;
  const journalPath = env.file(STORE_FILES.journal);
  const fault = faultHook(ctx.io);
  const interrupted = readJournal(journalPath);
  if (interrupted !== undefined) {
    if (interrupted.command !== ctx.command) {
      throw new InconsistentStoreError(
        `pki ${ctx.command}: '${journalPath}' holds an interrupted '${interrupted.command}' (got step ${interrupted.done} of ${interrupted.steps.length}). Run npm run pki -- ${interrupted.command} again to complete it first.`,
      );
    }
    checkJournalPlace(interrupted, env);
    if (dryRun) {
      return report(ctx, env, kind, phase, {
        changes: journalChanges(env, interrupted),
        steps: interrupted.steps.slice(interrupted.done),
        dryRun: true,
        resumed: true,
      });
    }
    const changes = journalChanges(env, interrupted);
    const outcome = resumeJournal(interrupted, { journalPath, ...(fault === undefined ? {} : { afterStep: fault }) });
    if (outcome !== "restart") {
      return report(ctx, env, kind, phase, { changes, steps: outcome.applied, dryRun: false, resumed: true });
    }
    ctx.warn(
      `pki ${ctx.command}: the interrupted run had not written its new key yet; its other new keys were moved to backups, and the command starts again.`,
    );
  }

  const cloudflare = phase === "finish" && kind !== "origin" ? await checkActive(ctx, env, kind, dryRun) : undefined;
  const plan = await planFor(ctx, env, kind, phase);
  if (plan.journal.steps.length === 0)
    throw new OperationalError(`pki ${ctx.command}: nothing to do (the store is already in that state).`);
  const changes = planChanges(publicView(env, [], true), publicView(env, plan.journal.steps, false));
  if (dryRun) return report(ctx, env, kind, phase, { changes, steps: plan.journal.steps, dryRun: true, resumed: false, cloudflare });
  ensurePrivateDir(env.layout.privateDir, ctx.warn);
  ensurePublicDir(env.layout.publicDir);
  const outcome = startJournal(plan.journal, { journalPath, secrets: plan.secrets, ...(fault === undefined ? {} : { afterStep: fault }) });
  // A run that started over (the warning above says so) completed nothing of the interrupted one.
  return report(ctx, env, kind, phase, { changes, steps: outcome.applied, dryRun: false, resumed: false, cloudflare });
}

/** A journal is resumed only on the store and public directory it was written for. */
function checkJournalPlace(journal: Journal, env: Environment): void {
  if (journal.storeDir !== env.layout.privateDir || journal.publicDir !== env.layout.publicDir) {
    throw new InconsistentStoreError(
      `${env.file(STORE_FILES.journal)}: was written for store ${journal.storeDir} and public directory ${journal.publicDir} (got ${env.layout.privateDir} and ${env.layout.publicDir}). Run the command again with the --env/--dir it was started with.`,
    );
  }
}

function readOrNull(path: string): Buffer | null {
  return pathExists(path) ? readFileSync(path) : null;
}

function need(env: Environment, names: readonly string[], fix: string): void {
  for (const name of names) {
    if (!pathExists(env.file(name))) throw new OperationalError(`${env.file(name)}: does not exist. ${fix}`);
  }
}

function refuse(env: Environment, names: readonly string[], why: string): void {
  for (const name of names) {
    if (pathExists(env.file(name))) throw new OperationalError(`${env.file(name)}: exists: ${why}`);
  }
}

function x509(env: Environment, name: string): X509Certificate {
  const path = env.file(name);
  try {
    return new X509Certificate(readFileSync(path));
  } catch {
    throw new OperationalError(`${path}: is not a readable certificate. Restore it from its backup.`);
  }
}

function issued(leaf: X509Certificate, ca: X509Certificate): boolean {
  return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
}

/** Checks the store's preconditions for the command, generates what it needs, and plans it. */
async function planFor(ctx: Context, env: Environment, kind: RotationKind, phase: RotationPhase): Promise<RotationPlan> {
  const b = new PlanBuilder(env.layout.privateDir, env.layout.publicDir, ctx.now, readOrNull);
  const cmd = (k: string, p: string): string => `npm run pki -- rotate ${k} ${p}`;
  const caUnderWay = `a CA rotation is under way; finish it (${cmd("ca", "finish")}) or abort it (${cmd("ca", "abort")}) first.`;
  const clientUnderWay = `a client rotation is under way; finish it (${cmd("client", "finish")}) or abort it (${cmd("client", "abort")}) first.`;
  switch (`${kind} ${phase}`) {
    case "client begin": {
      need(env, [STORE_FILES.caCert, STORE_FILES.caKey], "Run npm run pki -- init-ca first.");
      need(
        env,
        [STORE_FILES.clientCert, STORE_FILES.clientKey],
        "Issue the first client certificate with npm run pki -- issue-client; rotate replaces an existing one.",
      );
      refuse(env, [STORE_FILES.caNextCert, STORE_FILES.caNextKey], caUnderWay);
      refuse(env, [STORE_FILES.clientNextCert, STORE_FILES.clientNextKey], clientUnderWay);
      const pass = passphrase(ctx, 1);
      const { issueClientCertificate } = await import("../pki/issue.ts");
      const { decryptPrivateKeyPem } = await import("../pki/keys.ts");
      const caKey = decryptPrivateKeyPem(
        readFileSync(env.file(STORE_FILES.caKey), "utf8"),
        pass,
        env.file(STORE_FILES.caKey),
        PASSPHRASE_ENV,
      );
      const next = issueClientCertificate({
        ca: {
          certPem: readFileSync(env.file(STORE_FILES.caCert), "utf8"),
          keyPem: caKey.privateKeyPem,
          name: env.file(STORE_FILES.caCert),
        },
        organization: env.config.pki.organization,
        validityDays: env.config.pki.clientValidityDays,
        now: ctx.now,
      });
      if (next.clamped)
        ctx.warn(
          `warning: the next client certificate ends with its CA on ${next.notAfter.toISOString()}: rotate the CA (${cmd("ca", "begin")}) instead.`,
        );
      return planClientBegin(b, { keyPem: next.keyPem, certPem: next.certPem });
    }
    case "client finish":
      refuse(env, [STORE_FILES.caNextCert], `it is a CA rotation: use ${cmd("ca", "finish")}.`);
      need(
        env,
        [STORE_FILES.clientNextCert, STORE_FILES.clientNextKey],
        `No client rotation is under way; start one with ${cmd("client", "begin")}.`,
      );
      if (!issued(x509(env, STORE_FILES.clientNextCert), x509(env, STORE_FILES.caCert))) {
        throw new InconsistentStoreError(
          `${env.file(STORE_FILES.clientNextCert)}: is not issued by ${env.file(STORE_FILES.caCert)}; the origin would reject it. Run ${cmd("client", "abort")}.`,
        );
      }
      return planClientFinish(b);
    case "client abort":
      refuse(env, [STORE_FILES.caNextCert], `it is a CA rotation: use ${cmd("ca", "abort")}.`);
      need(env, [STORE_FILES.clientNextCert], `No client rotation is under way (nothing to abort).`);
      return planClientAbort(b);
    case "ca begin": {
      need(env, [STORE_FILES.caCert, STORE_FILES.caKey], "Run npm run pki -- init-ca first; rotate replaces an existing CA.");
      refuse(env, [STORE_FILES.caNextCert, STORE_FILES.caNextKey], caUnderWay);
      refuse(env, [STORE_FILES.clientNextCert, STORE_FILES.clientNextKey], clientUnderWay);
      const pass = passphrase(ctx, MIN_PASSPHRASE_LENGTH);
      const bits = Number(ctx.values.bits ?? "3072");
      const { createCa } = await import("../pki/ca.ts");
      const { issueClientCertificate } = await import("../pki/issue.ts");
      const { encryptPrivateKeyPem, rsaKeyPairFromPem } = await import("../pki/keys.ts");
      const ca = createCa({ organization: env.config.pki.organization, validityDays: env.config.pki.caValidityDays, now: ctx.now, bits });
      const client = issueClientCertificate({
        ca: { certPem: ca.certPem, keyPem: ca.keyPem, name: "the next CA" },
        organization: env.config.pki.organization,
        validityDays: env.config.pki.clientValidityDays,
        now: ctx.now,
      });
      const caKeyPem = encryptPrivateKeyPem(rsaKeyPairFromPem(ca.keyPem, "next CA key").privateKey, pass);
      return planCaBegin(b, { caKeyPem, caCertPem: ca.certPem, clientKeyPem: client.keyPem, clientCertPem: client.certPem });
    }
    case "ca finish":
      need(env, [STORE_FILES.caNextCert, STORE_FILES.caNextKey], `No CA rotation is under way; start one with ${cmd("ca", "begin")}.`);
      need(
        env,
        [STORE_FILES.clientNextCert, STORE_FILES.clientNextKey],
        `The CA rotation has no client certificate of the next CA; run ${cmd("ca", "abort")} and begin again.`,
      );
      if (!issued(x509(env, STORE_FILES.clientNextCert), x509(env, STORE_FILES.caNextCert))) {
        throw new InconsistentStoreError(
          `${env.file(STORE_FILES.clientNextCert)}: is not issued by ${env.file(STORE_FILES.caNextCert)}. Run ${cmd("ca", "abort")} and begin again.`,
        );
      }
      return planCaFinish(b);
    case "ca abort":
      need(env, [STORE_FILES.caNextCert], `No CA rotation is under way (nothing to abort).`);
      return planCaAbort(b);
    case "origin begin": {
      need(
        env,
        [STORE_FILES.originKey, STORE_FILES.originCsr],
        "Run npm run pki -- origin-csr first; rotate replaces an existing origin key.",
      );
      refuse(
        env,
        [STORE_FILES.originNextKey, STORE_FILES.originNextCsr],
        `an origin rotation is under way; finish it (${cmd("origin", "finish")}) or abort it (${cmd("origin", "abort")}) first.`,
      );
      const { createOriginCsr } = await import("../pki/csr.ts");
      const csr = createOriginCsr({ hostnames: env.config.pki.originHostnames, organization: env.config.pki.organization });
      return planOriginBegin(b, { keyPem: csr.keyPem, csrPem: csr.csrPem });
    }
    case "origin finish":
      need(
        env,
        [STORE_FILES.originNextKey, STORE_FILES.originNextCsr],
        `No origin rotation is under way; start one with ${cmd("origin", "begin")}.`,
      );
      if (pathExists(env.file(STORE_FILES.originNextCert))) {
        const { createPrivateKey, createPublicKey } = await import("node:crypto");
        const spki = (k: ReturnType<typeof createPublicKey>): string => k.export({ type: "spki", format: "der" }).toString("base64");
        const key = createPublicKey(createPrivateKey(readFileSync(env.file(STORE_FILES.originNextKey), "utf8")));
        if (spki(key) !== spki(x509(env, STORE_FILES.originNextCert).publicKey)) {
          throw new InconsistentStoreError(
            `${env.file(STORE_FILES.originNextCert)}: is not the certificate of ${env.file(STORE_FILES.originNextKey)}. Save the certificate Cloudflare issued for origin-next.csr.pem there, or remove the file.`,
          );
        }
      }
      return planOriginFinish(b);
    case "origin abort":
      need(env, [STORE_FILES.originNextKey], `No origin rotation is under way (nothing to abort).`);
      return planOriginAbort(b);
    default:
      throw new UsageError(`pki rotate: '${kind} ${phase}' is not a rotation. See npm run pki -- rotate --help.`);
  }
}

/**
 * Before `finish`: the next client certificate must be `active` at Cloudflare (asked through
 * the SDK with CLOUDFLARE_API_TOKEN), or the operator confirms it with --confirmed-active.
 */
async function checkActive(ctx: Context, env: Environment, kind: "client" | "ca", dryRun: boolean): Promise<RotationReport["cloudflare"]> {
  const certPath = env.file(STORE_FILES.clientNextCert);
  if (!pathExists(certPath)) return undefined; // planFor names what is missing
  if (ctx.values.confirmedActive === true) {
    ctx.warn(
      `pki ${ctx.command}: --confirmed-active: not asking Cloudflare; you confirmed the next certificate is Active (SSL/TLS > Origin Server).`,
    );
    return undefined;
  }
  const token = ctx.io.env[CLOUDFLARE_TOKEN_ENV];
  if (token === undefined || token === "") {
    if (dryRun) return undefined;
    throw new UsageError(
      `pki ${ctx.command}: '${CLOUDFLARE_TOKEN_ENV}' is not set (got nothing). Export a token with SSL and Certificates Read on zone ${env.config.edge.cloudflareZoneId}, or check in the dashboard that the new certificate is Active and pass --confirmed-active.`,
    );
  }
  const { aopCertificateStatus } = await import("../pki/cloudflare.ts");
  const baseUrl = ctx.io.env[CLOUDFLARE_BASE_URL_ENV];
  const certificatePem = readFileSync(certPath, "utf8");
  const status = await aopCertificateStatus({
    zoneId: env.config.edge.cloudflareZoneId,
    apiToken: token,
    ...(baseUrl === undefined || baseUrl === "" ? {} : { baseUrl }),
    certificatePem,
  });
  const id = certificateId(certificatePem);
  const what = `the next client certificate (${relative(ctx.io.cwd, certPath)}, id ${id})`;
  switch (status.status) {
    case "active":
      ctx.out(`cloudflare: ${what} is active (Cloudflare id ${status.id ?? "?"}).`);
      return { certificateId: status.id, status: status.status };
    case "not-uploaded":
      throw new OperationalError(
        `pki ${ctx.command}: ${what} is not uploaded to zone ${env.config.edge.cloudflareZoneId} (got ${status.zone.length} other certificate${status.zone.length === 1 ? "" : "s"}). Commit the public files and deploy the edge stack first, then run this again.`,
      );
    case "initializing":
    case "pending_deployment":
      throw new OperationalError(
        `pki ${ctx.command}: ${what} is not active yet at Cloudflare (got ${status.status}). Wait a few minutes and run this again; nothing was changed.`,
      );
    case "deployment_timed_out":
      throw new OperationalError(
        `pki ${ctx.command}: Cloudflare's deployment of ${what} timed out (got deployment_timed_out). Withdraw it and start over: npm run pki -- rotate ${kind} abort, deploy the edge stack (it deletes the upload origin-pull-certificate-${id}), then begin again; nothing was changed.`,
      );
    default:
      throw new OperationalError(
        `pki ${ctx.command}: ${what} is not active at Cloudflare (got ${status.status}). Check it in the dashboard (SSL/TLS > Origin Server); nothing was changed.`,
      );
  }
}

/** The public files the plan reads, before and after the steps. */
function publicView(env: Environment, steps: readonly JournalStep[], current: boolean): Map<string, string> {
  const names = [STORE_FILES.caCert, STORE_FILES.caNextCert, STORE_FILES.clientCert, STORE_FILES.clientNextCert, STORE_FILES.originCsr];
  const view = new Map<string, string>();
  for (const name of names) {
    const path = env.publicFile(name);
    if (pathExists(path)) view.set(name, readFileSync(path, "utf8"));
  }
  if (current) return view;
  for (const step of steps) {
    const name = names.find((n) => env.publicFile(n) === step.path);
    if (name === undefined) continue;
    if (step.op === "remove") view.delete(name);
    else if (step.op === "write" && step.content !== undefined) view.set(name, step.content);
  }
  return view;
}

function describeCert(pem: string): string {
  const x = new X509Certificate(pem);
  return `serial ${x.serialNumber.toUpperCase()}, until ${new Date(x.validTo).toISOString().slice(0, 10)}`;
}

/** What the edge stack's plan gains and loses when the public files go from `a` to `b`. */
export function planChanges(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  const aop = (v: Map<string, string>): Map<string, string> => {
    const m = new Map<string, string>();
    for (const name of [STORE_FILES.clientCert, STORE_FILES.clientNextCert]) {
      const pem = v.get(name);
      if (pem !== undefined && !m.has(certificateId(pem))) m.set(certificateId(pem), `${name}, ${describeCert(pem)}`);
    }
    return m;
  };
  const [aopA, aopB] = [aop(a), aop(b)];
  for (const [id, what] of aopB) {
    if (!aopA.has(id))
      out.push(
        `edge: + AOP certificate origin-pull-certificate-${id} (${what}): uploaded beside the others; Cloudflare uses the newest active one`,
      );
  }
  for (const [id, what] of aopA) {
    if (!aopB.has(id))
      out.push(`edge: - AOP certificate origin-pull-certificate-${id} (${what.replace(/^[^,]+, /, "")}): deleted at Cloudflare`);
  }
  for (const [id] of aopB) if (aopA.has(id)) out.push(`edge: = AOP certificate origin-pull-certificate-${id} (unchanged)`);
  const anchors = (v: Map<string, string>): Map<string, string> => {
    const m = new Map<string, string>();
    for (const [slot, name] of [
      ["current", STORE_FILES.caCert],
      ["next", STORE_FILES.caNextCert],
    ] as const) {
      const pem = v.get(name);
      if (pem !== undefined) m.set(slot, certificateId(pem));
    }
    return m;
  };
  const [anA, anB] = [anchors(a), anchors(b)];
  const show = (m: Map<string, string>): string => [...m].map(([slot, id]) => `${slot} ${id}`).join(", ") || "none";
  if (show(anA) !== show(anB)) out.push(`edge: ~ TrustConfig anchors: ${show(anA)} -> ${show(anB)} (updated in place)`);
  if (a.get(STORE_FILES.originCsr) !== b.get(STORE_FILES.originCsr)) {
    out.push(
      "edge: ~ Origin CA certificate replaced (new CSR), then the served Certificate Manager certificate (a new name from its text): each new one is created before the old one is removed",
    );
  }
  if (out.length > 0 && out.every((l) => l.includes("(unchanged)"))) return ["edge: no change (the public files stay as they are)"];
  return out.length === 0 ? ["no change to the plan (only the private store changes)"] : out;
}

function nextSteps(ctx: Context, env: Environment, kind: RotationKind, phase: RotationPhase, dryRun: boolean): string[] {
  const rel = (p: string): string => {
    const r = relative(ctx.io.cwd, p);
    return r.startsWith("..") ? p : r;
  };
  const project = env.config.project.id;
  const clientSecret = secretId(env.config, EDGE_SECRETS.clientKey);
  const originSecret = secretId(env.config, EDGE_SECRETS.originKey);
  const pub = rel(env.layout.publicDir);
  const addVersion = (secret: string, file: string): string =>
    `gcloud secrets versions add ${secret} --project ${project} --data-file=${rel(env.file(file))}`;
  const disableOld = (secret: string): string =>
    `disable the older versions of ${secret}: gcloud secrets versions list ${secret} --project ${project} --filter=state=ENABLED, then gcloud secrets versions disable <version> --secret ${secret} --project ${project} for each but the newest`;
  const deploy = `commit ${pub} and deploy the edge stack (cdktf deploy edge, or merge for CI's deploy)`;
  const waitActive = `wait until Cloudflare shows the new certificate Active (SSL/TLS > Origin Server; minutes), then npm run pki -- rotate ${kind} finish (it asks Cloudflare with ${CLOUDFLARE_TOKEN_ENV}, or pass --confirmed-active)`;
  const key = (name: string): string => rel(env.file(name));
  switch (`${kind} ${phase}`) {
    case "client begin":
      return [
        `add the next key to Secret Manager: ${addVersion(clientSecret, STORE_FILES.clientNextKey)} (only a new AOP certificate reads it; the uploaded one keeps its key)`,
        `${deploy}: it uploads the new certificate while the current one keeps serving`,
        waitActive,
      ];
    case "ca begin":
      return [
        `add the next client key to Secret Manager: ${addVersion(clientSecret, STORE_FILES.clientNextKey)}`,
        `${deploy}: the TrustConfig trusts both CAs, then the new client certificate is uploaded (it waits for the TrustConfig)`,
        waitActive,
        `keep ${key(STORE_FILES.caNextKey)} safe like ca.key.pem (encrypted with ${PASSPHRASE_ENV})`,
      ];
    case "client finish":
    case "ca finish":
      return [
        `${deploy}: it deletes the retired certificate at Cloudflare${kind === "ca" ? " and removes the old CA from the TrustConfig" : ""}`,
        disableOld(clientSecret),
        `the retired ${kind === "ca" ? "CA and client certificate stay" : "certificate stays"} in the store as *-retired.* until the next rotation backs ${kind === "ca" ? "them" : "it"} up`,
      ];
    case "client abort":
    case "ca abort": {
      const restoreKey = `if you added the withdrawn key to ${clientSecret}, add the current key back as its newest version (${addVersion(clientSecret, STORE_FILES.clientKey)}) and disable the withdrawn version`;
      if (kind === "client") return [`${deploy}: it deletes the withdrawn certificate at Cloudflare if it was uploaded`, restoreKey];
      // A CA abort is two runs: this one withdrew the next client certificate when the next CA is still there.
      const firstHalf = dryRun ? pathExists(env.file(STORE_FILES.clientNextCert)) : pathExists(env.file(STORE_FILES.caNextCert));
      if (!firstHalf) return [`${deploy}: the TrustConfig trusts only the current CA again`];
      return [
        restoreKey,
        `${deploy}: it deletes the withdrawn client certificate at Cloudflare while both CAs stay trusted`,
        `once Cloudflare no longer lists it (SSL/TLS > Origin Server), run npm run pki -- rotate ca abort again: it withdraws the next CA`,
      ];
    }
    case "origin begin":
      return [
        `FIRST add the new origin key to Secret Manager: ${addVersion(originSecret, STORE_FILES.originNextKey)} (the served certificate keeps the key it was created with; the new one is created with the newest version)`,
        `then ${deploy}: Cloudflare's Origin CA issues a certificate for the new CSR and the load balancer serves it; each new certificate is created before the old one is removed`,
        `check that one certificate is served (gcloud certificate-manager certificates list --project ${project} --filter="name~${env.config.name}-edge-origin-"), then npm run pki -- rotate origin finish`,
      ];
    case "origin finish":
      return [disableOld(originSecret), "nothing to deploy: the plan did not change"];
    case "origin abort":
      return [
        `if you added the withdrawn key to ${originSecret}, FIRST add the current key back as its newest version: ${addVersion(originSecret, STORE_FILES.originKey)}`,
        `then ${deploy}: if the new CSR was deployed, a certificate for the current key is issued and served again`,
      ];
    default:
      return [];
  }
}

interface ReportInput {
  /** What changes in the plan (computed before the run changed the files). */
  readonly changes: readonly string[];
  readonly steps: readonly JournalStep[];
  readonly dryRun: boolean;
  readonly resumed: boolean;
  readonly cloudflare?: RotationReport["cloudflare"] | undefined;
}

function report(ctx: Context, env: Environment, kind: RotationKind, phase: RotationPhase, input: ReportInput): number {
  const rel = (p: string): string => {
    const r = relative(ctx.io.cwd, p);
    return r.startsWith("..") ? p : r;
  };
  const result: RotationReport = {
    command: ctx.command,
    dryRun: input.dryRun,
    resumed: input.resumed,
    steps: input.steps.map((s) => ({ op: s.op, path: s.path, what: s.what, line: describeStep(s, rel) })),
    planChanges: input.changes,
    next: nextSteps(ctx, env, kind, phase, input.dryRun),
    ...(input.cloudflare === undefined ? {} : { cloudflare: input.cloudflare }),
  };
  if (ctx.values.json === true) {
    ctx.io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  ctx.out(
    `pki ${ctx.command}: ${input.dryRun ? `dry run, nothing written; ${input.resumed ? "the interrupted run would continue with" : "it would do"} ${result.steps.length} step${result.steps.length === 1 ? "" : "s"}` : `done${input.resumed ? " (completed the interrupted run)" : ""}, ${result.steps.length} step${result.steps.length === 1 ? "" : "s"}`}:`,
  );
  for (const s of result.steps) ctx.out(`  ${s.line}`);
  ctx.out(`plan changes once ${rel(env.layout.publicDir)} is committed:`);
  for (const c of result.planChanges) ctx.out(`  ${c}`);
  ctx.out("next:");
  result.next.forEach((n, i) => {
    ctx.out(`  ${i + 1}. ${n}`);
  });
  return 0;
}

/**
 * Plan changes of a journal: the public files before its first step (rebuilt from the files as
 * they are now by undoing its steps, with old texts found by their SHA-256 among the journal's
 * and the store's certificates) and after its last.
 */
function journalChanges(env: Environment, journal: Journal): string[] {
  const names = [STORE_FILES.caCert, STORE_FILES.caNextCert, STORE_FILES.clientCert, STORE_FILES.clientNextCert, STORE_FILES.originCsr];
  const byHash = new Map<string, string>();
  for (const step of journal.steps) if (step.op === "write" && step.content !== undefined) byHash.set(step.sha256, step.content);
  for (const dir of [env.layout.privateDir, env.layout.publicDir]) {
    for (const name of pathExists(dir) ? readdirSync(dir) : []) {
      if (!/\.pem(\.bak-[0-9TZ-]+)?$/.test(name) || name.includes(".key.")) continue;
      const text = readFileSync(join(dir, name), "utf8");
      byHash.set(sha256Hex(text), text);
    }
  }
  const done = publicView(env, [], true);
  // The state after the journal: the steps not yet done applied to the files as they are.
  const after = publicView(env, journal.steps.slice(journal.done), false);
  const before = new Map(done);
  for (const step of journal.steps.slice(0, journal.done).reverse()) {
    const name = names.find((n) => env.publicFile(n) === step.path);
    if (name === undefined || step.op === "copy") continue;
    const old = step.before === null ? undefined : byHash.get(step.before);
    if (step.before === null) before.delete(name);
    else if (old !== undefined) before.set(name, old);
  }
  return planChanges(before, after);
}

/** Repository-relative form of a path, for messages. */
export function repoRelative(path: string): string {
  return relative(REPO_ROOT, path);
}

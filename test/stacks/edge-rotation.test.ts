/**
 * The edge plan through a client rotation and a CA rotation, built from a real store that the
 * real `pki rotate` commands change (in-process, in a temp dir): the public copies they write are
 * what the plan reads. Certificates are fresh keys each run, so the snapshots show the plan with
 * every certificate replaced by the order it first appeared in (`client #1` is the first client
 * certificate, `client #2` the one the first rotation issued, `CA #2` the next CA) and every AOP
 * certificate's address by the same name: what the plan uploads, trusts and orders, stage by
 * stage.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { loadPublicCerts } from "../../config/public-certs.ts";
import type { PlueConfig } from "../../config/schema.ts";
import { certificateId } from "../../lib/cert-id.ts";
import { normalisePem } from "../../lib/pem.ts";
import { PASSPHRASE, pki, tempDirs, writeStore } from "../pki/helpers.ts";
import { stackFor } from "../support/build.ts";
import { exampleConfig } from "../support/config.ts";
import { resources } from "../support/plan.ts";

type Json = Record<string, any>;

const dirs = tempDirs();
afterAll(() => dirs.cleanup());
let store: string;
/** Every certificate seen so far, by its normalised PEM: its name in the snapshots. */
const seen = new Map<string, string>();
const counts = new Map<string, number>();

/** Names a certificate once, the first time it is seen (`client #2`): by role and order. */
function name(role: "CA" | "client", pem: string): string {
  const known = seen.get(pem);
  if (known !== undefined) return known;
  const n = (counts.get(role) ?? 0) + 1;
  counts.set(role, n);
  const label = `${role} #${n}`;
  seen.set(pem, label);
  return label;
}

/**
 * The AOP certificates, the trust anchors and the AOP switch's order, certificates named; and
 * each AOP certificate's Terraform address (random per run, so beside the view, not in it).
 */
function edgeView(): { view: Json; addresses: Record<string, string> } {
  const example = exampleConfig();
  const config: PlueConfig = { ...example, pki: { ...example.pki, publicDir: "public" } };
  const certs = loadPublicCerts(config, { repoRoot: store });
  name("CA", certs.caPem);
  if (certs.nextCaPem !== undefined) name("CA", certs.nextCaPem);
  name("client", certs.clientPem);
  if (certs.nextClientPem !== undefined) name("client", certs.nextClientPem);
  const tf = stackFor(config, "edge", certs);
  const label = (pem: string): string => seen.get(normalisePem(pem)) ?? "an unknown certificate";
  const aop = resources(tf, "cloudflare_authenticated_origin_pulls_certificate") as Record<string, Json>;
  const byId = new Map<string, string>();
  const certificates: Json = {};
  const addresses: Record<string, string> = {};
  for (const [address, cert] of Object.entries(aop)) {
    const who = label(cert.certificate as string);
    // The address carries the certificate's own id, so it survives the certificate's renaming.
    expect(address).toContain(`origin-pull-certificate-${certificateId(cert.certificate as string)}`);
    byId.set(`cloudflare_authenticated_origin_pulls_certificate.${address}`, who);
    addresses[who] = address;
    certificates[who] = {
      certificate: who,
      private_key: String(cert.private_key).replace(/\.[A-Za-z0-9_-]+\.secret_data/, ".<client key>.secret_data"),
      lifecycle: cert.lifecycle,
      depends_on: (cert.depends_on as string[]).map((d) => d.replace(/\.[^.]+$/, ".<id>")),
    };
  }
  const trust = Object.values(resources(tf, "google_certificate_manager_trust_config"))[0] as Json;
  const settings = Object.values(resources(tf, "cloudflare_authenticated_origin_pulls_settings"))[0] as Json;
  return {
    view: {
      aopCertificates: certificates,
      trustAnchors: (trust.trust_stores as Json[]).flatMap((s) =>
        (s.trust_anchors as Json[]).map((a) => label(a.pem_certificate as string)),
      ),
      aopEnabledAfter: (settings.depends_on as string[]).map((d) => byId.get(d) ?? d).sort(),
    },
    addresses,
  };
}

async function rotate(kind: string, phase: string): Promise<void> {
  const r = await pki(["rotate", kind, phase, "--dir", store, ...(phase === "finish" ? ["--confirmed-active"] : [])], PASSPHRASE);
  expect(r.code, r.stderr).toBe(0);
}

const stages: Record<string, Json> = {};
const addressesAt: Record<string, Record<string, string>> = {};

function record(stage: string): void {
  const { view, addresses } = edgeView();
  stages[stage] = view;
  addressesAt[stage] = addresses;
}

beforeAll(async () => {
  store = join(dirs.make(), "store");
  await writeStore(store, new Date());

  record("before");
  await rotate("client", "begin");
  record("duringClient");
  await rotate("client", "finish");
  record("afterClient");
  await rotate("ca", "begin");
  record("duringCa");
  await rotate("ca", "finish");
  record("afterCa");
}, 120_000);

describe("the edge plan through a client rotation", () => {
  it("uploads one AOP certificate and trusts one CA before any rotation", () => {
    expect(Object.keys(stages.before?.aopCertificates)).toEqual(["client #1"]);
    expect(stages.before?.trustAnchors).toEqual(["CA #1"]);
    expect(stages.before).toMatchSnapshot();
  });

  it("carries two AOP certificates during the rotation: the current one serves while the next one is uploaded", () => {
    expect(Object.keys(stages.duringClient?.aopCertificates).sort()).toEqual(["client #1", "client #2"]);
    expect(stages.duringClient?.aopEnabledAfter).toEqual(["client #1", "client #2"]);
    expect(stages.duringClient?.trustAnchors).toEqual(["CA #1"]);
    expect(stages.duringClient).toMatchSnapshot();
  });

  it("keeps the current certificate's address and block unchanged when the next one is added (no replacement of the serving upload)", () => {
    expect(addressesAt.duringClient?.["client #1"]).toBe(addressesAt.before?.["client #1"]);
    expect(stages.duringClient?.aopCertificates["client #1"]).toEqual(stages.before?.aopCertificates["client #1"]);
  });

  it("carries one AOP certificate after finish: the next one, at the address it was uploaded under", () => {
    // client #2 is now client.pem: the same certificate, so the same name and address.
    expect(Object.keys(stages.afterClient?.aopCertificates)).toEqual(["client #2"]);
    expect(addressesAt.afterClient?.["client #2"]).toBe(addressesAt.duringClient?.["client #2"]);
    expect(stages.afterClient?.aopCertificates["client #2"]).toEqual(stages.duringClient?.aopCertificates["client #2"]);
    expect(stages.afterClient).toMatchSnapshot();
  });
});

describe("the edge plan through a CA rotation", () => {
  it("trusts both CAs, current then next, and uploads the new CA's client certificate only after the TrustConfig", () => {
    expect(stages.duringCa?.trustAnchors).toEqual(["CA #1", "CA #2"]);
    expect(Object.keys(stages.duringCa?.aopCertificates).sort()).toEqual(["client #2", "client #3"]);
    expect(stages.duringCa?.aopCertificates["client #3"].depends_on).toEqual(["google_certificate_manager_trust_config.<id>"]);
    expect(addressesAt.duringCa?.["client #2"]).toBe(addressesAt.afterClient?.["client #2"]);
    expect(stages.duringCa).toMatchSnapshot();
  });

  it("trusts only the new CA after finish, with one AOP certificate: the new CA's", () => {
    expect(stages.afterCa?.trustAnchors).toEqual(["CA #2"]);
    expect(Object.keys(stages.afterCa?.aopCertificates)).toEqual(["client #3"]);
    expect(addressesAt.afterCa?.["client #3"]).toBe(addressesAt.duringCa?.["client #3"]);
    expect(stages.afterCa).toMatchSnapshot();
  });
});

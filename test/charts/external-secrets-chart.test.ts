/**
 * The External Secrets chart, read from the real synthesized plan, and checked against the other
 * stacks it must agree with: the secrets and IAM of the secrets stack, the service accounts of the
 * platform stack, and the cluster of the cluster stack.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parse as parsePg } from "pg-connection-string";
import { allObjects, chart, chartText, only, resources, stack, type K8sObject } from "../support/plan.ts";
import { exampleConfig } from "../support/config.ts";

type Resource = Record<string, any>;

const config = exampleConfig();
const objects = chart("external-secrets");
const stores = objects.filter((o) => o.kind === "ClusterSecretStore") as Resource[];
const externalSecrets = objects.filter((o) => o.kind === "ExternalSecret") as Resource[];
/** Every ExternalSecret of the plan: this chart's, and the egress gateway's own (in its chart). */
const allExternalSecrets = allObjects().filter((o) => o.kind === "ExternalSecret") as Resource[];
const byName = (name: string) => externalSecrets.find((e) => e.metadata.name === name) as Resource;
const secretsStack = stack("secrets");
const platform = stack("platform");

// --- A hand-written schema of the fields used, from the external-secrets v1 API types (v2.0.1:
// apis/externalsecrets/v1/externalsecret_types.go, secretstore_types.go, secretstore_gcpsm_types.go,
// apis/meta/v1/types.go). Objects are strict: an unknown or misspelt field fails.
const DNS_SUBDOMAIN = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
const DNS_LABEL = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
const SECRET_KEY = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[-._a-zA-Z0-9]+$/);
/** metav1.Duration as Go's time.ParseDuration reads it. */
const DURATION = z.string().regex(/^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/);
/** A Secret Manager secret id. */
const GSM_SECRET_ID = z.string().regex(/^[a-zA-Z0-9_-]{1,255}$/);
const metadata = (namespaced: boolean) =>
  z.strictObject({
    name: DNS_SUBDOMAIN,
    labels: z.record(z.string(), z.string()).optional(),
    ...(namespaced ? { namespace: DNS_LABEL } : {}),
  });

const clusterSecretStoreSchema = z.strictObject({
  apiVersion: z.literal("external-secrets.io/v1"),
  kind: z.literal("ClusterSecretStore"),
  metadata: metadata(false),
  spec: z.strictObject({
    conditions: z.array(z.strictObject({ namespaces: z.array(DNS_LABEL).min(1) })).optional(),
    provider: z.strictObject({
      gcpsm: z.strictObject({
        projectID: z.string().min(1),
        secretVersionSelectionPolicy: z.enum(["LatestOrFail", "LatestOrFetch"]).optional(),
        auth: z.strictObject({
          workloadIdentity: z.strictObject({
            clusterLocation: z.string().min(1),
            clusterName: z.string().min(1),
            clusterProjectID: z.string().min(1),
            serviceAccountRef: z.strictObject({ name: DNS_SUBDOMAIN, namespace: DNS_LABEL }),
          }),
        }),
      }),
    }),
  }),
});

const externalSecretSchema = z.strictObject({
  apiVersion: z.literal("external-secrets.io/v1"),
  kind: z.literal("ExternalSecret"),
  metadata: metadata(true),
  spec: z.strictObject({
    refreshInterval: DURATION,
    secretStoreRef: z.strictObject({ name: DNS_SUBDOMAIN, kind: z.enum(["SecretStore", "ClusterSecretStore"]) }),
    target: z.strictObject({
      name: DNS_SUBDOMAIN,
      creationPolicy: z.enum(["Owner", "Orphan", "Merge", "None"]),
      deletionPolicy: z.enum(["Delete", "Merge", "Retain"]),
      template: z.strictObject({
        engineVersion: z.literal("v2"),
        mergePolicy: z.enum(["Replace", "Merge"]),
        type: z.literal("Opaque").optional(),
        data: z.record(SECRET_KEY, z.string()),
      }),
    }),
    data: z
      .array(
        z.strictObject({
          secretKey: SECRET_KEY,
          remoteRef: z.strictObject({
            key: GSM_SECRET_ID,
            version: z.string().min(1),
            conversionStrategy: z.enum(["Default", "Unicode"]),
            decodingStrategy: z.enum(["Auto", "Base64", "Base64URL", "None"]),
            metadataPolicy: z.enum(["None", "Fetch"]),
          }),
        }),
      )
      .min(1),
  }),
});

/** Go's url.QueryEscape (the template's `urlquery`): space is `+`, all but [A-Za-z0-9-_.~] escaped. */
function queryEscape(s: string): string {
  return [...new TextEncoder().encode(s)]
    .map((b) => {
      const c = String.fromCharCode(b);
      if (/[A-Za-z0-9\-_.~]/.test(c)) return c;
      return c === " " ? "+" : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    })
    .join("");
}

/** Renders the two template forms the chart uses: `{{ .KEY }}` and `{{ .KEY | urlquery }}`. */
function render(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{ \.([A-Za-z_][A-Za-z0-9_]*)( \| urlquery)? \}\}/g, (_, key: string, q?: string) => {
    const v = vars[key];
    if (v === undefined) throw new Error(`template reads .${key}, which is not a data key`);
    return q ? queryEscape(v) : v;
  });
}

/**
 * A binding's member as an IAM member string: the bindings reference the service accounts the
 * same stack creates (`${google_service_account.<id>.member}`), which is `serviceAccount:<email>`.
 */
function memberOf(grant: Resource): string {
  const ref = /^\$\{google_service_account\.([^.]+)\.member\}$/.exec(grant.member as string);
  if (!ref) return grant.member as string;
  const account = resources(secretsStack, "google_service_account")[ref[1] as string];
  if (!account) throw new Error(`binding names an unknown service account ${String(ref[1])}`);
  return `serviceAccount:${String(account.account_id)}@${String(secretsStack.provider?.google?.[0]?.project)}.iam.gserviceaccount.com`;
}

/** Who may read a secret: members of per-secret accessor bindings, by reference or full name. */
function readersOf(secretId: string): string[] {
  const entry = Object.entries(resources(secretsStack, "google_secret_manager_secret")).find(([, s]) => s.secret_id === secretId);
  if (!entry) return [];
  const refs = [`\${google_secret_manager_secret.${entry[0]}.id}`, `projects/plue-example/secrets/${secretId}`];
  return (Object.values(resources(secretsStack, "google_secret_manager_secret_iam_member")) as Resource[])
    .filter((g) => refs.includes(g.secret_id) && g.role === "roles/secretmanager.secretAccessor")
    .map(memberOf);
}

/** The Google service account a store authenticates as: its KSA in the platform stack, and that KSA's annotation. */
function storeIdentity(storeName: string): string {
  const store = stores.find((s) => s.metadata.name === storeName);
  const ref = store?.spec.provider.gcpsm.auth.workloadIdentity.serviceAccountRef;
  const namespace = only(platform, "kubernetes_namespace_v1") as Resource;
  expect(ref?.namespace).toBe(namespace.metadata.name);
  const ksa = (Object.values(resources(platform, "kubernetes_service_account_v1")) as Resource[]).find(
    (k) => k.metadata.name === ref?.name,
  );
  const email = ksa?.metadata.annotations["iam.gke.io/gcp-service-account"] as string | undefined;
  if (!email) throw new Error(`store ${storeName}: no annotated service account ${String(ref?.name)} in the platform stack`);
  return email;
}

describe("external-secrets chart", () => {
  it("matches the snapshot", () => {
    expect(chartText("external-secrets")).toMatchSnapshot();
  });

  it("uses external-secrets.io/v1 for every External Secrets object in every chart", () => {
    const eso = allObjects().filter((o: K8sObject) => o.apiVersion.startsWith("external-secrets.io/"));
    // Three stores (api, migrate, egress) and three ExternalSecrets (two here, the gateway's in its chart).
    expect(eso.length).toBe(6);
    for (const o of eso) expect(o.apiVersion).toBe("external-secrets.io/v1");
  });

  it("matches the v1 ClusterSecretStore and ExternalSecret schemas (required fields, enums, patterns, no unknown field)", () => {
    for (const s of stores) expect(clusterSecretStoreSchema.safeParse(s).error?.issues ?? []).toEqual([]);
    for (const e of allExternalSecrets) expect(externalSecretSchema.safeParse(e).error?.issues ?? []).toEqual([]);
  });

  it("has one store per in-cluster consumer, each as its own Kubernetes service account in the operator namespace", () => {
    expect(stores.map((s) => [s.metadata.name, s.spec.provider.gcpsm.auth.workloadIdentity.serviceAccountRef]).sort()).toEqual([
      ["gcp-secret-manager-api", { name: "eso-api", namespace: "external-secrets" }],
      ["gcp-secret-manager-egress", { name: "eso-egress", namespace: "external-secrets" }],
      ["gcp-secret-manager-migrate", { name: "eso-migrate", namespace: "external-secrets" }],
    ]);
  });

  it("names the cluster exactly as the cluster stack creates it (name, location, project)", () => {
    const cluster = stack("cluster");
    const gke = only(cluster, "google_container_cluster") as Resource;
    const project = gke.project ?? (cluster.provider?.google?.[0]?.project as string);
    for (const s of stores) {
      const wi = s.spec.provider.gcpsm.auth.workloadIdentity;
      expect(wi.clusterName).toBe(gke.name);
      expect(wi.clusterLocation).toBe(gke.location);
      expect(wi.clusterProjectID).toBe(project);
      expect(gke.workload_identity_config.workload_pool).toBe(`${wi.clusterProjectID}.svc.id.goog`);
      expect(s.spec.provider.gcpsm.projectID).toBe(secretsStack.provider?.google?.[0]?.project);
    }
  });

  it("lets only its consumer's namespace use each store: api for the API's and the schema Job's, egress for the gateway's", () => {
    expect(Object.fromEntries(stores.map((s) => [s.metadata.name, s.spec.conditions]))).toEqual({
      "gcp-secret-manager-api": [{ namespaces: ["api"] }],
      "gcp-secret-manager-migrate": [{ namespaces: ["api"] }],
      "gcp-secret-manager-egress": [{ namespaces: ["egress"] }],
    });
  });

  it("writes one Secret per consumer in its consumer's namespace, through that consumer's store (the gateway's ExternalSecret is in its own chart)", () => {
    expect(externalSecrets.map((e) => [e.metadata.namespace, e.metadata.name, e.spec.target.name, e.spec.secretStoreRef]).sort()).toEqual([
      ["api", "api-env", "api-env", { kind: "ClusterSecretStore", name: "gcp-secret-manager-api" }],
      ["api", "schema-migrate-env", "schema-migrate-env", { kind: "ClusterSecretStore", name: "gcp-secret-manager-migrate" }],
    ]);
    expect(
      allExternalSecrets
        .filter((e) => !externalSecrets.some((x) => x.metadata.namespace === e.metadata.namespace && x.metadata.name === e.metadata.name))
        .map((e) => [e.metadata.namespace, e.metadata.name, e.spec.target.name, e.spec.secretStoreRef]),
    ).toEqual([
      [
        "egress",
        "egress-gateway-upstream-auth",
        "egress-gateway-upstream-auth",
        { kind: "ClusterSecretStore", name: "gcp-secret-manager-egress" },
      ],
    ]);
  });

  it("gives the Anthropic API key to the egress gateway alone: no other ExternalSecret names it", () => {
    const readers = allExternalSecrets
      .filter((e) => (e.spec.data as Resource[]).some((d) => d.remoteRef.key === "plue-anthropic-api-key"))
      .map((e) => `${e.metadata.namespace}/${e.metadata.name}`);
    expect(readers).toEqual(["egress/egress-gateway-upstream-auth"]);
    expect(JSON.stringify(byName("api-env"))).not.toContain("ANTHROPIC");
  });

  it("maps every API secret that has an env to that env name, explicitly", () => {
    const api = byName("api-env");
    const expected = Object.entries(config.secrets.items)
      .filter(([, i]) => i.env !== undefined && i.consumers.includes("api"))
      .map(([name, i]) => [i.env, `plue-${name}`]);
    const got = (api.spec.data as Resource[]).map((d) => [d.secretKey, d.remoteRef.key]);
    expect(got).toEqual(expect.arrayContaining(expected));
    expect(api.spec.target.template.mergePolicy).toBe("Merge");
  });

  // The schema Job's runner takes its connection from the libpq variables only (db/README.md), so
  // its Secret holds exactly those: no URL to decode, no password to percent-encode; TLS required.
  it("gives the schema Job exactly the libpq variables PGHOST..PGSSLMODE (sslmode require), nothing else", () => {
    const migrate = byName("schema-migrate-env");
    expect(migrate.spec.target.template).toEqual({
      engineVersion: "v2",
      mergePolicy: "Replace",
      data: {
        PGHOST: "{{ .DATABASE_HOST }}",
        PGPORT: "5432",
        PGUSER: "plue_app",
        PGPASSWORD: "{{ .DATABASE_PASSWORD }}",
        PGDATABASE: "plue",
        PGSSLMODE: "require",
      },
    });
    expect((migrate.spec.data as Resource[]).map((d) => [d.secretKey, d.remoteRef.key])).toEqual([
      ["DATABASE_PASSWORD", "plue-db-password"],
      ["DATABASE_HOST", "plue-db-host"],
    ]);
  });

  it("renders the schema Job's password byte for byte (no URL encoding on this path)", () => {
    const password = "p+a/s=s@w:o%rd?&#x {{ .x }}";
    const data = byName("schema-migrate-env").spec.target.template.data as Record<string, string>;
    const vars = { DATABASE_PASSWORD: password, DATABASE_HOST: "10.30.0.5" };
    expect(Object.fromEntries(Object.entries(data).map(([k, v]) => [k, render(v, vars)]))).toEqual({
      PGHOST: "10.30.0.5",
      PGPORT: "5432",
      PGUSER: "plue_app",
      PGPASSWORD: password,
      PGDATABASE: "plue",
      PGSSLMODE: "require",
    });
  });

  it("renders the API's DATABASE_URL so that PostgreSQL clients read back the same user, password, host, database and sslmode", () => {
    const password = "p+a/s=s@w:o%rd?&#x";
    for (const e of [byName("api-env")]) {
      const vars = Object.fromEntries(
        (e.spec.data as Resource[]).map((d) => [
          d.secretKey,
          d.remoteRef.key === "plue-db-host" ? "10.30.0.5" : d.remoteRef.key === "plue-db-password" ? password : "x",
        ]),
      );
      const url = render(e.spec.target.template.data.DATABASE_URL, vars);
      expect(parsePg(url, { useLibpqCompat: true })).toMatchObject({
        user: "plue_app",
        password,
        host: "10.30.0.5",
        port: "5432",
        database: "plue",
        sslmode: "require",
      });
    }
  });

  it("refreshes at the configured interval, owns its Secret, and keeps it if the ExternalSecret is deleted", () => {
    for (const e of allExternalSecrets) {
      expect(e.spec.refreshInterval).toBe("1h");
      expect(e.spec.target.creationPolicy).toBe("Owner");
      expect(e.spec.target.deletionPolicy).toBe("Retain");
    }
  });

  it("reads only secrets the secrets stack creates (configured items or the Cloud SQL host secret)", () => {
    const created = new Set(
      (Object.values(resources(secretsStack, "google_secret_manager_secret")) as Resource[]).map((s) => s.secret_id as string),
    );
    const configured = new Set([...Object.keys(config.secrets.items).map((n) => `plue-${n}`), "plue-db-host"]);
    for (const e of allExternalSecrets) {
      for (const d of e.spec.data as Resource[]) {
        expect(configured.has(d.remoteRef.key), d.remoteRef.key).toBe(true);
        expect(created.has(d.remoteRef.key), d.remoteRef.key).toBe(true);
      }
    }
  });

  it("can read every secret it names: a per-secret accessor binding for its store's own identity", () => {
    for (const e of allExternalSecrets) {
      const member = `serviceAccount:${storeIdentity(e.spec.secretStoreRef.name)}`;
      for (const d of e.spec.data as Resource[])
        expect(readersOf(d.remoteRef.key), `${e.metadata.name} ← ${d.remoteRef.key}`).toContain(member);
    }
  });

  it("gives each store's identity read access to exactly the secrets its ExternalSecrets name, no more", () => {
    const grants = Object.values(resources(secretsStack, "google_secret_manager_secret_iam_member")) as Resource[];
    const secretsById = Object.entries(resources(secretsStack, "google_secret_manager_secret"));
    const secretOf = (ref: string) =>
      secretsById.find(
        ([id, s]) => ref === `\${google_secret_manager_secret.${id}.id}` || ref === `projects/plue-example/secrets/${s.secret_id}`,
      )?.[1].secret_id as string;
    for (const store of stores) {
      const member = `serviceAccount:${storeIdentity(store.metadata.name)}`;
      const readable = grants
        .filter((g) => memberOf(g) === member)
        .map((g) => secretOf(g.secret_id))
        .sort();
      const named = [
        ...new Set(
          allExternalSecrets
            .filter((e) => e.spec.secretStoreRef.name === store.metadata.name)
            .flatMap((e) => (e.spec.data as Resource[]).map((d) => d.remoteRef.key as string)),
        ),
      ].sort();
      expect(readable, store.metadata.name).toEqual(named);
    }
  });
});

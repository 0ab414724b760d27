/** Rules about the Google APIs the plan calls: enabled before use, and no retired values. */
import { allBlocks, at, type Block, dependsTransitively, isLiteral, type PlanModel, transitiveDependencies } from "../../plan-model.ts";
import type { Finding, Rule } from "../types.ts";

/** The services a Google resource type (or data source) calls, by type pattern. */
const SERVICES: readonly [RegExp, readonly string[]][] = [
  [/^google_client_config$/, []],
  [/^google_compute_/, ["compute.googleapis.com"]],
  [/^google_container_/, ["container.googleapis.com"]],
  [/^google_kms_/, ["cloudkms.googleapis.com"]],
  [/^google_storage_/, ["storage.googleapis.com"]],
  [/^google_service_account/, ["iam.googleapis.com"]],
  [/^google_iam_workload_identity_pool/, ["iam.googleapis.com"]],
  [/^google_project_iam_/, ["cloudresourcemanager.googleapis.com"]],
  [/^google_project$/, ["cloudresourcemanager.googleapis.com"]],
  // Enabling goes through Service Usage; the provider's Read then calls Cloud Resource Manager (resource_google_project_service.go L208).
  [/^google_project_service$/, ["cloudresourcemanager.googleapis.com"]],
  [/^google_project_service_identity$/, []],
  [/^google_secret_manager_/, ["secretmanager.googleapis.com"]],
  [/^google_sql_/, ["sqladmin.googleapis.com"]],
  [/^google_service_networking_/, ["servicenetworking.googleapis.com"]],
  [/^google_dns_/, ["dns.googleapis.com"]],
  [/^google_certificate_manager_/, ["certificatemanager.googleapis.com"]],
  [/^google_network_security_/, ["networksecurity.googleapis.com"]],
  [/^google_pubsub_/, ["pubsub.googleapis.com"]],
  [/^google_logging_/, ["logging.googleapis.com"]],
  [/^google_monitoring_/, ["monitoring.googleapis.com"]],
  [/^google_artifact_registry_/, ["artifactregistry.googleapis.com"]],
  [/^google_binary_authorization_/, ["binaryauthorization.googleapis.com"]],
];

/** The services `block` calls; `undefined` for a Google type this table does not know. */
export function servicesOf(block: Block): readonly string[] | undefined {
  if (!block.type.startsWith("google_")) return [];
  const found = SERVICES.find(([re]) => re.test(block.type));
  if (!found) return undefined;
  const extra =
    block.type === "google_container_cluster" &&
    block.mode === "resource" &&
    isLiteral(at(block.body, "binary_authorization.evaluation_mode")) &&
    at(block.body, "binary_authorization.evaluation_mode") !== "DISABLED"
      ? ["binaryauthorization.googleapis.com"]
      : [];
  return [...found[1], ...extra];
}

/** `google_project_service` resources by the service they enable. */
function enablers(plan: PlanModel): Map<string, Block[]> {
  const by = new Map<string, Block[]>();
  for (const b of allBlocks(plan)) {
    if (b.type !== "google_project_service" || b.mode !== "resource" || !isLiteral(b.body.service)) continue;
    by.set(b.body.service, [...(by.get(b.body.service) ?? []), b]);
  }
  return by;
}

/** DR005: a Google API the plan calls is not enabled by it, or is enabled without ordering. */
export const apisEnabled: Rule = {
  id: "DR005",
  title: "Google APIs used but not enabled (or not enabled first)",
  rationale:
    "every resource type calls one Google API, which is disabled on a new project unless something enables it; a resource in the stack that enables its API must depend on that google_project_service, or it races the enablement (data sources are read at plan time, before any enablement)",
  source:
    "https://cloud.google.com/service-usage/docs/enable-disable; https://github.com/hashicorp/terraform-provider-google/blob/v6.50.0/google/services/resourcemanager/resource_google_project_service.go",
  severity: "error",
  check(plan) {
    const enabledBy = enablers(plan);
    const findings: Finding[] = [];
    const unknown = new Map<string, Block[]>();
    const missing = new Map<string, Block[]>();
    for (const stack of plan.stacks) {
      const before = transitiveDependencies(plan, stack.name);
      for (const b of stack.blocks) {
        const services = servicesOf(b);
        if (services === undefined) {
          unknown.set(`${stack.name}|${b.type}`, [...(unknown.get(`${stack.name}|${b.type}`) ?? []), b]);
          continue;
        }
        for (const service of services) {
          const by = enabledBy.get(service) ?? [];
          const earlier = by.some((e) => before.has(e.stack));
          const same = by.find((e) => e.stack === stack.name);
          if (earlier) continue;
          if (same) {
            if (b.type === "google_project_service" || dependsTransitively(stack, b, same.address)) continue;
            findings.push({
              rule: "DR005",
              severity: "error",
              stack: stack.name,
              address: b.address,
              message: `calls ${service}, which ${same.address} enables in the same stack, but does not depend on it${b.mode === "data" ? " (a data source is read at plan time, before the enablement)" : ""}`,
              fix: `depends_on = [${same.address}]${b.mode === "data" ? " (which defers the read to apply)" : ""}`,
            });
            continue;
          }
          const key = `${stack.name}|${service}`;
          missing.set(key, [...(missing.get(key) ?? []), b]);
        }
      }
    }
    for (const [key, blocks] of [...missing.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const [stack, service] = key.split("|") as [string, string];
      const elsewhere = (enabledBy.get(service) ?? []).map((e) => e.stack);
      findings.push({
        rule: "DR005",
        severity: "error",
        stack,
        address: blocks.map((b) => b.address).join(", "),
        message:
          elsewhere.length > 0
            ? `calls ${service}, enabled only in stack ${elsewhere.join(", ")}, which is not applied before stack ${stack}`
            : `calls ${service}, which no google_project_service in the plan enables`,
        fix: `add "${service}" to the services the bootstrap stack enables (REQUIRED_SERVICES), and make these resources depend on it where they are in that stack`,
      });
    }
    for (const [key, blocks] of [...unknown.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const [stack, type] = key.split("|") as [string, string];
      findings.push({
        rule: "DR005",
        severity: "error",
        stack,
        address: blocks.map((b) => b.address).join(", "),
        message: `no Google service is known for ${type}, so this rule cannot tell whether its API is enabled`,
        fix: `add ${type} to SERVICES in review/readiness/rules/apis.ts with the API it calls`,
      });
    }
    return findings;
  },
};

/** Argument values the API has retired, by resource type and path. */
export const RETIRED_VALUES: readonly {
  readonly type: string;
  readonly path: string;
  readonly values: Readonly<Record<string, string>>;
  readonly fix: string;
}[] = [
  {
    type: "google_container_cluster",
    path: "security_posture_config.vulnerability_mode",
    values: {
      VULNERABILITY_BASIC: "workload vulnerability scanning, standard tier: deprecated 2024-07-23, removed 2025-07-31",
      VULNERABILITY_ENTERPRISE: "Advanced Vulnerability Insights: deprecated 2025-06-16, removed 2026-06-16",
    },
    fix: 'vulnerability_mode = "VULNERABILITY_DISABLED" (keep mode = "BASIC" for workload configuration audit; scan images in the registry instead)',
  },
];

/** DR012: an argument uses a value the Google API has retired. */
export const retiredValues: Rule = {
  id: "DR012",
  title: "retired API values",
  rationale:
    "the provider still validates values the API has retired (google 6.50.0 accepts VULNERABILITY_BASIC); the API then refuses them on create, or drops them and the next plan shows a permanent diff",
  source:
    "https://cloud.google.com/kubernetes-engine/docs/deprecations/posture-management-deprecation; https://cloud.google.com/kubernetes-engine/docs/deprecations/vulnerability-scanning-gkee; https://github.com/hashicorp/terraform-provider-google/blob/v6.50.0/google/services/container/resource_container_cluster.go (L1170-1177)",
  severity: "error",
  check(plan) {
    return RETIRED_VALUES.flatMap((r) =>
      allBlocks(plan)
        .filter((b) => b.type === r.type && b.mode === "resource")
        .flatMap((b) => {
          const v = at(b.body, r.path);
          const why = typeof v === "string" ? r.values[v] : undefined;
          return why
            ? [
                {
                  rule: "DR012",
                  severity: "error" as const,
                  stack: b.stack,
                  address: b.address,
                  message: `${r.path} = ${v}: ${why}`,
                  fix: r.fix,
                },
              ]
            : [];
        }),
    );
  },
};

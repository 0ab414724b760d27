/** Rules about resources that are replaced rather than updated, and credentials that expire. */
import { blocksOfType, isLiteral, lifecycle, referrers, stackNamed } from "../../plan-model.ts";
import type { Finding, Rule } from "../types.ts";

/** Resource types replaced (not updated) when their content changes, as they are used here. */
export const REPLACED_ON_CHANGE: Readonly<
  Record<string, { readonly nameAttr: string | undefined; readonly why: string; readonly source: string }>
> = {
  google_certificate_manager_certificate: {
    nameAttr: "name",
    why: "self_managed (PEM certificate and key) is ForceNew and names are unique",
    source:
      "https://github.com/hashicorp/terraform-provider-google/blob/v6.50.0/google/services/certificatemanager/resource_certificate_manager_certificate.go (L77-80 name, L226-262 self_managed ForceNew)",
  },
  google_compute_ssl_certificate: {
    nameAttr: "name",
    why: "certificate and private_key are ForceNew and names are unique (use name_prefix)",
    source: "https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/compute_ssl_certificate",
  },
  google_compute_region_ssl_certificate: {
    nameAttr: "name",
    why: "certificate and private_key are ForceNew and names are unique (use name_prefix)",
    source: "https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/compute_region_ssl_certificate",
  },
  cloudflare_origin_ca_certificate: {
    nameAttr: undefined,
    why: "every argument RequiresReplace, and destroying it revokes the certificate that is still being served",
    source:
      "https://github.com/cloudflare/terraform-provider-cloudflare/blob/v5.14.0/internal/services/origin_ca_certificate/schema.go (RequiresReplace on csr, hostnames, request_type, requested_validity)",
  },
};

/** DR004: a replace-on-change resource that something uses is replaced destroy-first, or under a fixed name. */
export const replacedWhileInUse: Rule = {
  id: "DR004",
  title: "ForceNew resources in use without create-before-destroy",
  rationale:
    "a resource that is replaced on change is destroyed first by default: while another resource references it (a certificate map entry, a load balancer) the delete is refused or the service loses its certificate; create-before-destroy needs a name that is not fixed, or the create collides with the old one",
  source:
    "https://developer.hashicorp.com/terraform/language/meta-arguments/lifecycle#create_before_destroy; https://github.com/hashicorp/terraform-provider-google/blob/v6.50.0/google/services/certificatemanager/resource_certificate_manager_certificate.go",
  severity: "error",
  check(plan) {
    const findings: Finding[] = [];
    for (const [type, spec] of Object.entries(REPLACED_ON_CHANGE)) {
      for (const b of blocksOfType(plan, type)) {
        const users = referrers(stackNamed(plan, b.stack), b.address);
        if (users.length === 0) continue;
        const cbd = lifecycle(b).createBeforeDestroy;
        const name = spec.nameAttr ? b.body[spec.nameAttr] : undefined;
        const fixedName = spec.nameAttr !== undefined && isLiteral(name) && b.body.name_prefix === undefined;
        if (cbd && !fixedName) continue;
        const problems = [...(cbd ? [] : ["it is replaced destroy-first"]), ...(fixedName ? [`its name is fixed (${String(name)})`] : [])];
        findings.push({
          rule: "DR004",
          severity: "error",
          stack: b.stack,
          address: b.address,
          message: `${type}: ${spec.why}; ${users.map((u) => u.address).join(", ")} use${users.length === 1 ? "s" : ""} it and ${problems.join(" and ")}`,
          fix: [
            ...(fixedName
              ? [`a name that changes with the content, e.g. "${String(name)}-\${substr(sha256(<certificate PEM>), 0, 8)}"`]
              : []),
            ...(cbd ? [] : ["lifecycle { create_before_destroy = true }"]),
          ].join(" and "),
        });
      }
    }
    return findings;
  },
};

/** Resources that issue a credential with an expiry and never renew it themselves. */
export const EXPIRING: Readonly<Record<string, { readonly why: string }>> = {
  cloudflare_origin_ca_certificate: {
    why: "the provider's Update is a no-op and there is no renewal setting: the certificate is replaced only when an argument changes",
  },
};

/** DR015: an expiring credential the plan issues has no renewal trigger. */
export const noRenewalTrigger: Rule = {
  id: "DR015",
  title: "expiring credentials without a renewal trigger",
  rationale:
    "a certificate the plan issues expires on a date no apply looks at; unless something the operator controls replaces it (replace_triggered_by on a terraform_data whose input is a renewal marker), it expires in place",
  source:
    "https://github.com/cloudflare/terraform-provider-cloudflare/blob/v5.14.0/internal/services/origin_ca_certificate/resource.go (L96-98: Update is not supported); https://developer.hashicorp.com/terraform/language/meta-arguments/lifecycle#replace_triggered_by",
  severity: "warning",
  check(plan) {
    return Object.entries(EXPIRING).flatMap(([type, spec]) =>
      blocksOfType(plan, type)
        .filter((b) => lifecycle(b).replaceTriggeredBy.length === 0)
        .map((b) => ({
          rule: "DR015",
          severity: "warning" as const,
          stack: b.stack,
          address: b.address,
          message: `${type}: ${spec.why}; nothing triggers its replacement before expires_on`,
          fix: 'terraform_data "origin-cert-renewal" { input = <config: edge.originCertRenewal> } and lifecycle { replace_triggered_by = [terraform_data.origin-cert-renewal], create_before_destroy = true }',
        })),
    );
  },
};

/** Key material and secret values: never in the plan. */
import { scanText } from "../key-scan.ts";
import { allBlocks, isLiteral } from "../plan-model.ts";
import { finding, objects, objectsOfKind, type Target } from "./helpers.ts";
import type { Finding, PostureRule } from "./types.ts";

export const noKeyMaterial: PostureRule = {
  id: "SEC01",
  title: "no key material anywhere in the plan",
  severity: "error",
  rationale:
    "a private key (PEM or bare base64 DER) or a known secret value in cdk.tf.json or a chart is in git history, CI logs and every copy of the plan; keys are read from Secret Manager at apply time",
  references: {
    seed: "004 Infrastructure as Code Security (no secret in code); 000 Secrets Management",
    checkov: "CKV_SECRET_* (regex-based, PEM only)",
  },
  check(ctx) {
    const out: Finding[] = [];
    const scan = (target: Target, value: unknown) => {
      const hits = scanText(JSON.stringify(value, null, 1), ctx.knownSecrets ?? []);
      const kinds = [...new Set(hits.map((h) => h.what))];
      if (kinds.length > 0)
        out.push(
          finding(
            noKeyMaterial,
            target,
            `contains ${kinds.join(", ")}`,
            "remove it: read the key at apply time (Secret Manager data source or a sensitive variable)",
          ),
        );
    };
    for (const b of allBlocks(ctx.plan)) scan(b, b.body);
    for (const s of ctx.plan.stacks) {
      const { resource: _r, data: _d, ...rest } = s.tf;
      scan(
        {
          stack: s.name,
          mode: "resource",
          type: "terraform",
          name: "settings",
          address: "(terraform, provider, variable, output)",
          body: {},
        },
        rest,
      );
    }
    for (const a of objects(ctx).filter((x) => x.block === undefined)) scan(a, a.object);
    return out;
  },
};

/** Argument names that carry secret values. */
const SECRET_ARG = /(^|_)(password|secret_data|private_key|pem_private_key|client_key|api_key|token|secret_string)(_wo)?$/;

export const noLiteralSecrets: PostureRule = {
  id: "SEC02",
  title: "no secret value written as a literal argument",
  severity: "error",
  rationale: "a password or key argument must come from a data source or a sensitive variable, never from text in the plan",
  references: { seed: "004 Infrastructure as Code Security (Use variables with sensitive flag; BAD: Hardcoded)" },
  check(ctx) {
    const out: Finding[] = [];
    for (const b of allBlocks(ctx.plan)) {
      if (b.mode !== "resource" || b.type === "kubernetes_manifest") continue;
      const walk = (v: unknown, path: string) => {
        if (Array.isArray(v)) {
          for (const [i, x] of v.entries()) walk(x, `${path}[${i}]`);
        } else if (v !== null && typeof v === "object") {
          for (const [k, x] of Object.entries(v)) if (k !== "//") walk(x, path ? `${path}.${k}` : k);
        } else {
          const key =
            path
              .replace(/\[\d+\]$/, "")
              .split(".")
              .pop() ?? "";
          if (SECRET_ARG.test(key) && isLiteral(v) && v !== "")
            out.push(
              finding(
                noLiteralSecrets,
                b,
                `${path} is a literal value`,
                `read it at apply time: \${data.google_secret_manager_secret_version.<x>.secret_data} or a sensitive variable`,
              ),
            );
        }
      };
      walk(b.body, "");
    }
    return out;
  },
};

export const noKubernetesSecretValues: PostureRule = {
  id: "SEC03",
  title: "no Kubernetes Secret with values in the plan",
  severity: "error",
  rationale:
    "a Secret's data in a manifest sits in the plan, in Terraform state and in git; External Secrets writes Secrets from Secret Manager inside the cluster",
  references: { cis: "4.4.2", seed: "000 Secrets Management (Google Secret Manager via External Secrets Operator)" },
  check: (ctx) =>
    objectsOfKind(ctx, "Secret")
      .filter((s) => Object.keys((s.object.data ?? {}) as object).length + Object.keys((s.object.stringData ?? {}) as object).length > 0)
      .map((s) =>
        finding(
          noKubernetesSecretValues,
          s,
          `Secret ${s.object.metadata.namespace ?? ""}/${s.object.metadata.name} carries values`,
          "add the value to Secret Manager and an ExternalSecret for it",
        ),
      ),
};

/** Every secrets rule, in id order. */
export const SECRET_RULES: readonly PostureRule[] = [noKeyMaterial, noLiteralSecrets, noKubernetesSecretValues];

import type { Construct } from "constructs";
import { dbHostSecretId, ESO_CONSUMERS, esoIdentities, names, plannerMember, secretId, serviceAccountEmail } from "../config/names.ts";
import { DATABASE_CONSUMERS, HOST_SECRET } from "../config/secrets.ts";
import { SecretManagerSecrets, type SecretSpec } from "../constructs/secret-manager-secrets.ts";
import { PlueStack, type PlueStackProps } from "./plue-stack.ts";

/** What the Cloud SQL host secret holds; the data stack writes its versions. */
export const HOST_SECRET_DESCRIPTION = "Private IP of the Cloud SQL instance (written by Terraform; not a secret value).";

/**
 * The `secrets` stack: every Secret Manager secret of the environment (values added out of band),
 * the Google service accounts External Secrets reads them as, and per-secret accessor bindings —
 * applied right after `bootstrap`, so the stacks that read secret values at plan or apply time
 * (`data`: the database password; `edge`: the two private keys) find them, and so an operator can
 * add the values between this stack and those (docs/deploy.md). Nothing here reads a value.
 * @see docs/adr/0010-apply-time-traps.md (item 3)
 */
export class SecretsStack extends PlueStack {
  /** The secrets, accounts and bindings. */
  readonly secrets: SecretManagerSecrets;

  constructor(scope: Construct, id: string, props: PlueStackProps) {
    super(scope, id, props);
    const { config } = props;
    const identities = esoIdentities(config);
    const ci = `serviceAccount:${serviceAccountEmail(config, names(config).ciServiceAccount)}`;

    const secrets: Record<string, SecretSpec> = {};
    for (const [name, item] of Object.entries(config.secrets.items)) {
      secrets[name] = {
        secretId: secretId(config, name),
        description: item.description,
        // Terraform reads edge and data secrets at plan time too: the pull-request planner (docs/adr/0014).
        readers: item.consumers.flatMap((c) => (c === "edge" || c === "data" ? [c, `${c}-plan`] : [c])),
        ...(item.rotationDays !== undefined ? { rotationDays: item.rotationDays } : {}),
      };
    }
    // The API and the schema Job build their connection string from the instance's address (the
    // egress gateway does not: it reads the Anthropic API key only).
    secrets[HOST_SECRET] = { secretId: dbHostSecretId(config), description: HOST_SECRET_DESCRIPTION, readers: [...DATABASE_CONSUMERS] };

    this.secrets = new SecretManagerSecrets(this, "secrets", {
      projectId: config.project.id,
      secrets,
      replicaLocations: config.secrets.replicaLocations,
      ...(config.secrets.rotationTopic !== undefined ? { rotationTopic: config.secrets.rotationTopic } : {}),
      readerAccounts: Object.fromEntries(ESO_CONSUMERS.map((c) => [c, { accountId: identities[c].accountId }])),
      // Terraform reads these at apply time as the CI deployer, created by the bootstrap stack.
      externalReaders: { edge: ci, data: ci, "edge-plan": plannerMember(config), "data-plan": plannerMember(config) },
    });
  }
}

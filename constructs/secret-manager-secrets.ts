import { Construct } from "constructs";
import type { PlueConfig } from "../config/schema.ts";

/** Props of {@link SecretManagerSecrets}. */
export interface SecretManagerSecretsProps {
  /** The validated environment. */
  readonly config: PlueConfig;
}

/**
 * One Secret Manager secret per configured secret, with per-secret accessor bindings (issue 5).
 * Placeholder until implemented.
 */
export class SecretManagerSecrets extends Construct {
  constructor(scope: Construct, id: string, props: SecretManagerSecretsProps) {
    super(scope, id);
    void props;
  }
}

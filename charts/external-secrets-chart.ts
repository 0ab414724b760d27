import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { PlueConfig } from "../config/schema.ts";

/** Props of {@link ExternalSecretsChart}. */
export interface ExternalSecretsChartProps {
  readonly config: PlueConfig;
}

/** ClusterSecretStore(s) and ExternalSecrets (issue 5). Placeholder until implemented. */
export class ExternalSecretsChart extends Chart {
  constructor(scope: Construct, id: string, props: ExternalSecretsChartProps) {
    super(scope, id, { disableResourceNameHashes: true, labels: { "app.kubernetes.io/part-of": props.config.name } });
  }
}

import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import type { PlueConfig } from "../config/schema.ts";

/** Props of {@link SchemaJobChart}. */
export interface SchemaJobChartProps {
  readonly config: PlueConfig;
}

/** The migrations ConfigMap and the schema Job (issue 6). Placeholder until implemented. */
export class SchemaJobChart extends Chart {
  /** Name of the Job (carries a hash of the migrations); the workloads stack waits for it. */
  readonly jobName: string = "";

  constructor(scope: Construct, id: string, props: SchemaJobChartProps) {
    super(scope, id, { disableResourceNameHashes: true, labels: { "app.kubernetes.io/part-of": props.config.name } });
  }
}

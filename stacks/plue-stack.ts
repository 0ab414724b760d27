import { GcsBackend, LocalBackend, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import type { PlueConfig } from "../config/schema.ts";

/** Props shared by every stack of the plan. */
export interface PlueStackProps {
  /** The validated environment. */
  readonly config: PlueConfig;
}

/**
 * Base of every stack: a GCS backend with its own prefix (`<environment>/<stack>`) and the
 * Google provider pinned to the environment's project and region, with its labels.
 * @see https://developer.hashicorp.com/terraform/language/backend/gcs
 */
export class PlueStack extends TerraformStack {
  /** The environment this stack was built for. */
  readonly config: PlueConfig;
  /** The default Google provider. */
  readonly google: GoogleProvider;

  constructor(scope: Construct, id: string, props: PlueStackProps & { readonly localBackend?: boolean }) {
    super(scope, id);
    this.config = props.config;
    if (props.localBackend) {
      // Relative path: reproducible on any machine (an absolute default would not be).
      new LocalBackend(this, { path: `${id}.tfstate` });
    } else {
      new GcsBackend(this, { bucket: props.config.state.bucket, prefix: `${props.config.environment}/${id}` });
    }
    this.google = new GoogleProvider(this, "google", {
      project: props.config.project.id,
      region: props.config.project.region,
      defaultLabels: { ...props.config.labels, environment: props.config.environment },
      addTerraformAttributionLabel: true,
    });
  }
}

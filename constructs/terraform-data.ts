import { TerraformResource } from "cdktf";
import type { Construct } from "constructs";

/** Props of {@link TerraformData}. */
export interface TerraformDataProps {
  /**
   * The value the resource stores; a change replaces it, and with it everything that names it in
   * `replace_triggered_by`.
   */
  readonly input: Readonly<Record<string, string>>;
}

/**
 * Terraform's built-in `terraform_data` resource (Terraform >= 1.4), holding `input`.
 *
 * cdktf's own `DataResource` checks the Terraform version at synth by running `terraform
 * version`: a synth on a machine without Terraform (a reviewer's laptop, the test machine) then
 * fails, and every synth pays the process (about 160 ms). The version is the deploy's concern:
 * the workflows pin Terraform 1.11.4 (.github/workflows), and an older Terraform stops at plan
 * on the unknown resource type.
 */
export class TerraformData extends TerraformResource {
  private readonly input: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: TerraformDataProps) {
    super(scope, id, { terraformResourceType: "terraform_data", terraformGeneratorMetadata: { providerName: "terraform" } });
    this.input = props.input;
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { input: { ...this.input } };
  }

  /** The plan is synthesized as JSON only; an HCL synth would otherwise drop `input` silently. */
  protected override synthesizeHclAttributes(): Record<string, unknown> {
    throw new Error(`TerraformData ${this.node.path}: HCL output is not supported (got an HCL synth). Synthesize JSON (npm run synth).`);
  }
}

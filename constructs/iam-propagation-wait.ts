import { TimeProvider } from "@cdktf/provider-time/lib/provider";
import { Sleep } from "@cdktf/provider-time/lib/sleep";
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";

/** How long a fresh IAM grant is given to take effect before it is used. */
export const DEFAULT_PROPAGATION = "120s";

/** Props of {@link IamPropagationWait}. */
export interface IamPropagationWaitProps {
  /**
   * The grants to wait for, by a stable name: each grant's `etag` (changes when the grant is
   * recreated, which starts the wait again).
   */
  readonly grants: Readonly<Record<string, string>>;
  /**
   * How long to wait after the grants are created.
   * @default DEFAULT_PROPAGATION (120 s: IAM changes typically take 2 minutes)
   */
  readonly duration?: string;
}

/**
 * A pause between IAM grants and the resource that needs them at create time (a CMEK bucket after
 * its key grant, a cluster after the KMS grant to the GKE service agent): IAM is eventually
 * consistent, and the first apply of a new environment would otherwise fail intermittently. The
 * wait runs when the grants are created (or replaced), not on later applies. Make the user depend
 * on {@link IamPropagationWait.sleep}.
 *
 * Declares the stack's `time` provider (hashicorp/time, pinned by its binding) when it has none.
 * @see https://cloud.google.com/iam/docs/access-change-propagation
 * @see https://registry.terraform.io/providers/hashicorp/time/0.13.1/docs/resources/sleep
 */
export class IamPropagationWait extends Construct {
  /** The `time_sleep` to depend on. */
  readonly sleep: Sleep;

  constructor(scope: Construct, id: string, props: IamPropagationWaitProps) {
    super(scope, id);
    if (Object.keys(props.grants).length === 0) {
      throw new Error(`IamPropagationWait ${id}: 'grants' is empty (got {}). Pass the grants the wait is for.`);
    }
    const stack = TerraformStack.of(this);
    if (!stack.node.children.some((c) => c instanceof TimeProvider)) new TimeProvider(stack, "time", {});
    this.sleep = new Sleep(this, "Default", {
      createDuration: props.duration ?? DEFAULT_PROPAGATION,
      triggers: { ...props.grants },
    });
  }
}

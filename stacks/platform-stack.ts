import type { Construct } from "constructs";
import { PlueStack, type PlueStackProps } from "./plue-stack.ts";

/**
 * The `platform` stack: cluster add-ons the workloads need, installed with Helm — the External
 * Secrets Operator (issue 5). Placeholder until implemented.
 */
export class PlatformStack extends PlueStack {
  constructor(scope: Construct, id: string, props: PlueStackProps) {
    super(scope, id, props);
  }
}

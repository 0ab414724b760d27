/**
 * Every resource name in the plan, derived from the config's `name` prefix. Stacks refer to
 * each other's resources through these names (and explicit stack dependencies), so a name is
 * written in one place only.
 */
import type { PlueConfig } from "../config/schema.ts";

/** Resource names for one environment. */
export interface Names {
  readonly network: string;
  readonly subnet: string;
  readonly router: string;
  readonly nat: string;
  readonly privateServicesRange: string;
  readonly keyRing: string;
  readonly stateKey: string;
  readonly clusterSecretsKey: string;
  readonly ciServiceAccount: string;
  readonly cluster: string;
  readonly nodeServiceAccount: string;
  readonly sqlInstance: string;
  readonly podsRange: string;
  readonly servicesRange: string;
}

/** Names for `config`, all `prefix + name`. */
export function names(config: PlueConfig): Names {
  const p = config.name;
  return {
    network: `${p}-vpc`,
    subnet: `${p}-${config.project.region}`,
    router: `${p}-router`,
    nat: `${p}-nat`,
    privateServicesRange: `${p}-private-services`,
    keyRing: `${p}-keyring`,
    stateKey: `${p}-tfstate`,
    clusterSecretsKey: `${p}-gke-secrets`,
    ciServiceAccount: `${p}-ci`,
    cluster: `${p}-gke`,
    nodeServiceAccount: `${p}-gke-nodes`,
    sqlInstance: `${p}-pg`,
    podsRange: "pods",
    servicesRange: "services",
  };
}

/** Full id of the environment's VPC network. */
export function networkId(config: PlueConfig): string {
  return `projects/${config.project.id}/global/networks/${names(config).network}`;
}

/** Full id of the environment's KMS key ring. */
export function keyRingId(config: PlueConfig): string {
  return `projects/${config.project.id}/locations/${config.project.region}/keyRings/${names(config).keyRing}`;
}

/**
 * An exact, pure evaluator of Kubernetes NetworkPolicy semantics (`networking.k8s.io/v1`) over
 * the plan's synthesized objects: "may A reach B on port P/protocol?". The review command and
 * the tests print or assert a connectivity matrix from it.
 *
 * Semantics follow the API reference and the API server's defaulting and validation:
 * - A policy applies to the pods of its own namespace that its `spec.podSelector` selects.
 * - `policyTypes`, when absent or empty, defaults exactly as the API server does
 *   (`SetDefaults_NetworkPolicy`): `Ingress` always, and `Egress` iff `spec.egress` has at least
 *   one rule. Note: `egress: []` without `policyTypes` therefore does NOT isolate egress — the
 *   server cannot tell an empty list from an absent one. Write `policyTypes` to isolate egress.
 * - A pod is isolated for a direction iff some policy selecting it has that type; a
 *   non-isolated direction allows everything. Isolated: allowed iff some rule of some
 *   selecting policy of that direction matches (policies are a union; there is no deny rule).
 * - A rule with no (or an empty) `from`/`to` matches every peer; with no (or empty) `ports`,
 *   every port and protocol.
 *
 * Deliberate decisions (where the API leaves room):
 * - `ipBlock` is meant for cluster-external addresses. A pod endpoint matches an `ipBlock` only
 *   if it carries an `ip` inside `cidr` and outside every `except`; a pod without `ip` never
 *   matches one. Some dataplanes (e.g. Cilium-based ones) never match pod IPs against
 *   `ipBlock`; leave `ip` unset to model them.
 * - Named ports resolve against the destination pod (for ingress and egress alike, as in
 *   Kubernetes) through its optional `namedPorts`; an external destination, or a pod that does
 *   not declare the name, does not match, and the reason says so.
 * - Not modelled: the pod's own node always reaching it, host-network pods, Services (give the
 *   backend pod as the destination), NAT in front of external sources.
 * - Unknown fields in a policy are errors (as with `kubectl`'s default strict validation), so a
 *   typo such as `form:` cannot silently widen a rule to "all peers".
 * - Only `kind: NetworkPolicy` with `apiVersion: networking.k8s.io/v1` is a NetworkPolicy here;
 *   other kinds (and other API groups' `NetworkPolicy`, e.g. Calico's) are ignored, except
 *   `FQDNNetworkPolicy` (`networking.gke.io`), read by {@link fqdnAllows}.
 *
 * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/
 * @see https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/
 */
export { evaluate, fqdnAllows } from "./evaluate.ts";
export { formatMatrix, matrix } from "./matrix.ts";
export type * from "./types.ts";

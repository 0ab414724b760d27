/**
 * Typed Kubernetes objects for the charts. The types come from `kubernetes-models` (type-only
 * imports: nothing of it is loaded at synth) and the objects are plain cdk8s `ApiObject`s, in
 * the API's own field names. cdk8s-plus-28's generated L1 classes would add ~26 MB to every
 * synth for the same JSON (docs/adr/0006).
 */
import { ApiObject } from "cdk8s";
import type { Construct } from "constructs";

/** Any Kubernetes object with its type meta. */
export interface TypedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
}

/** Adds `obj` to `scope` as an ApiObject under construct id `id`. */
export function k8s<T extends TypedObject>(scope: Construct, id: string, obj: T): ApiObject {
  return new ApiObject(scope, id, { ...obj });
}

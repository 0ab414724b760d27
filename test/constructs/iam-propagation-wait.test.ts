/** IamPropagationWait: the pause between a grant and its user, and its one rule. */
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { TimeProvider } from "@cdktf/provider-time/lib/provider";
import { describe, expect, it } from "vitest";
import { IamPropagationWait } from "../../constructs/iam-propagation-wait.ts";
import { synthConstruct } from "../support/build.ts";
import { resources } from "../support/plan.ts";

describe("IamPropagationWait", () => {
  it("sleeps 120 s after the grants, restarting when a grant is recreated, and pins the time provider once per stack", () => {
    const json = synthConstruct((scope) => {
      new GoogleProvider(scope, "google", { project: "p" });
      new IamPropagationWait(scope, "a", { grants: { one: "${google_kms_crypto_key_iam_member.one.etag}" } });
      new IamPropagationWait(scope, "b", { grants: { two: "${google_kms_crypto_key_iam_member.two.etag}" }, duration: "300s" });
    });
    expect(Object.values(resources(json, "time_sleep")).map((s) => ({ create_duration: s.create_duration, triggers: s.triggers }))).toEqual(
      [
        { create_duration: "120s", triggers: { one: "${google_kms_crypto_key_iam_member.one.etag}" } },
        { create_duration: "300s", triggers: { two: "${google_kms_crypto_key_iam_member.two.etag}" } },
      ],
    );
    expect(json.provider?.time).toHaveLength(1);
    expect(json.terraform.required_providers?.time).toEqual({ source: "hashicorp/time", version: "0.13.1" });
  });

  it("reuses a time provider the stack already has", () => {
    const json = synthConstruct((scope) => {
      new TimeProvider(scope, "own-time", {});
      new IamPropagationWait(scope, "a", { grants: { one: "x" } });
    });
    expect(json.provider?.time).toHaveLength(1);
  });

  it("fails if there is no grant to wait for", () => {
    expect(() => synthConstruct((scope) => new IamPropagationWait(scope, "a", { grants: {} }))).toThrow(
      "IamPropagationWait a: 'grants' is empty (got {}). Pass the grants the wait is for.",
    );
  });
});

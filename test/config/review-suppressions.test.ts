/** `review.suppressions` in the environment file: every field validated, each way it can fail. */
import { describe, expect, it } from "vitest";
import { exampleConfig, exampleRaw, PROBLEM_LINE, problemsOf } from "../support/config.ts";

const valid = {
  rule: "GKE15",
  resource: "cluster google_container_node_pool.sandbox_pool_7FB69A50",
  reason: "PID limit set by the node image",
  expires: "2027-03-31",
};

function withSuppression(s: Record<string, unknown>): Record<string, any> {
  const raw = exampleRaw();
  raw.review = { suppressions: [s] };
  return raw;
}

describe("review.suppressions", () => {
  it("defaults to none; the example environment lists its accepted findings with reasons and dates", () => {
    const raw = exampleRaw();
    delete raw.review;
    expect(problemsOf(raw)).toEqual([]);
    expect(exampleConfig().review.suppressions.map((s) => [s.rule, s.resource, s.expires])).toEqual([
      ["IAM05", "bootstrap google_project_iam_member.github_deployer-service-account-user_8654EBFB", "2027-05-31"],
      ["IAM05", "bootstrap google_project_iam_member.github_deployer-service-account-admin_E75BB62E", "2027-05-31"],
    ]);
  });

  it("accepts a complete suppression", () => {
    expect(problemsOf(withSuppression(valid))).toEqual([]);
  });

  const broken: [string, Record<string, unknown>, string][] = [
    [
      "a rule id that is not a review id",
      { ...valid, rule: "gke-15" },
      `'review.suppressions[0].rule' is not a review rule id (got "gke-15"). Use the id the review prints, e.g. GKE15 or DR008.`,
    ],
    [
      "a resource too short to name one",
      { ...valid, resource: "x" },
      `'review.suppressions[0].resource' is too short to name a resource (got "x").`,
    ],
    [
      "a reason too short to be one",
      { ...valid, reason: "because" },
      `'review.suppressions[0].reason' is too short to be a reason (got "because").`,
    ],
    [
      "an expiry that is not a date",
      { ...valid, expires: "next year" },
      `'review.suppressions[0].expires' is not a date (got "next year"). Write it as YYYY-MM-DD`,
    ],
    [
      "an expiry that does not exist",
      { ...valid, expires: "2027-02-30" },
      `'review.suppressions[0].expires' is not a date (got "2027-02-30").`,
    ],
    ["an unknown field", { ...valid, until: "2027-01-01" }, `'review.suppressions[0].until' is not a known field`],
  ];
  for (const [what, s, message] of broken) {
    it(`fails on ${what}, naming the field`, () => {
      const problems = problemsOf(withSuppression(s));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain(message);
      expect(problems[0]).toMatch(PROBLEM_LINE);
    });
  }

  it("fails on a missing field", () => {
    const { reason: _r, ...rest } = valid;
    expect(problemsOf(withSuppression(rest))).toEqual([
      "config/example.yaml: 'review.suppressions[0].reason' is missing (got nothing). Add it (see config/example.yaml).",
    ]);
  });
});

/** The secrets stack: its snapshot, backend and place in the deploy order (SecretManagerSecrets has its own tests). */
import { describe, expect, it } from "vitest";
import { resources, stack, stackNames, stackText } from "../support/plan.ts";

const tf = stack("secrets");

describe("secrets stack", () => {
  it("matches the snapshot", () => {
    expect(stackText("secrets")).toMatchSnapshot();
  });

  it("keeps its state in GCS under its own prefix", () => {
    expect(tf.terraform.backend?.gcs).toEqual({ bucket: "plue-example-tfstate", prefix: "example/secrets" });
  });

  it("holds the secrets, their readers' accounts and bindings, and reads no secret value", () => {
    expect(Object.keys(tf.resource ?? {}).sort()).toEqual([
      "google_secret_manager_secret",
      "google_secret_manager_secret_iam_member",
      "google_service_account",
    ]);
    expect(tf.data).toBeUndefined();
  });

  it("is the only stack that creates Secret Manager secrets", () => {
    for (const name of stackNames().filter((n) => n !== "secrets")) {
      expect(stack(name).resource?.google_secret_manager_secret, name).toBeUndefined();
    }
    expect(Object.keys(resources(tf, "google_secret_manager_secret")).length).toBe(8);
  });
});

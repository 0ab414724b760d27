/** The whole data stack: its snapshot and backend (the Cloud SQL and secrets constructs have their own tests). */
import { describe, expect, it } from "vitest";
import { stack, stackText } from "../support/plan.ts";

const tf = stack("data");

describe("data stack", () => {
  it("matches the snapshot", () => {
    expect(stackText("data")).toMatchSnapshot();
  });

  it("keeps its state in GCS under its own prefix", () => {
    expect(tf.terraform.backend?.gcs).toEqual({ bucket: "plue-example-tfstate", prefix: "example/data" });
  });

  it("holds both the database and the secrets", () => {
    expect(Object.keys(tf.resource ?? {})).toEqual(
      expect.arrayContaining(["google_sql_database_instance", "google_secret_manager_secret", "google_secret_manager_secret_iam_member"]),
    );
  });
});

/** The whole data stack: its snapshot, backend and contents (the Cloud SQL construct has its own tests). */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { planDir, stack, stackText } from "../support/plan.ts";

const tf = stack("data");

describe("data stack", () => {
  it("matches the snapshot", () => {
    expect(stackText("data")).toMatchSnapshot();
  });

  it("keeps its state in GCS under its own prefix", () => {
    expect(tf.terraform.backend?.gcs).toEqual({ bucket: "plue-example-tfstate", prefix: "example/data" });
  });

  it("holds the database and nothing of Secret Manager but the host address it writes (the secrets stack holds the secrets and their IAM)", () => {
    expect(Object.keys(tf.resource ?? {}).sort()).toEqual([
      "google_secret_manager_secret_version",
      "google_sql_database",
      "google_sql_database_instance",
      "google_sql_user",
    ]);
  });

  it("is applied after the secrets stack, whose password it reads and whose host secret it writes", () => {
    const manifest = JSON.parse(readFileSync(join(planDir(), "manifest.json"), "utf8")) as {
      stacks: Record<string, { dependencies: string[] }>;
    };
    expect(manifest.stacks.data?.dependencies.sort()).toEqual(["network", "secrets"]);
    expect(manifest.stacks.secrets?.dependencies).toEqual(["bootstrap"]);
    expect(manifest.stacks.edge?.dependencies.sort()).toEqual(["secrets", "workloads"]);
  });
});

import { Construct } from "constructs";
import type { PlueConfig } from "../config/schema.ts";

/** Props of {@link CloudSqlPostgres}. */
export interface CloudSqlPostgresProps {
  /** The validated environment. */
  readonly config: PlueConfig;
}

/**
 * Cloud SQL for PostgreSQL on a private IP (issue 6). Placeholder until implemented.
 */
export class CloudSqlPostgres extends Construct {
  constructor(scope: Construct, id: string, props: CloudSqlPostgresProps) {
    super(scope, id);
    void props;
  }
}

/**
 * Props of the egress gateway chart as the example environment will pass them (phase 2 wires the
 * chart into the plan from config; until then the tests build it from these).
 */
import type { EgressGatewayChartProps } from "../../charts/egress-gateway-chart.ts";

/** The allowlist the runners need (Claude Code: messages, and token counting). */
export const EXAMPLE_ROUTES = [
  { method: "POST", path: "/v1/messages" },
  { method: "POST", path: "/v1/messages/count_tokens" },
] as const;

/** The example environment's gateway props; `proxy` fields can be overridden. */
export function exampleGatewayProps(proxy: Partial<EgressGatewayChartProps["proxy"]> = {}): EgressGatewayChartProps {
  return {
    partOf: "plue",
    namespace: "egress",
    image: `docker.io/nginxinc/nginx-unprivileged:1.29-alpine@sha256:${"0".repeat(64)}`,
    replicas: 2,
    clusterIP: "10.20.0.64",
    resources: { cpu: "250m", memory: "128Mi", ephemeralStorage: "1Gi" },
    proxy: {
      port: 8080,
      healthPort: 8081,
      workerProcesses: 2,
      routes: EXAMPLE_ROUTES,
      maxBodyMegabytes: 32,
      rateLimit: { requestsPerMinute: 600, burst: 60 },
      upstreamReadTimeoutSeconds: 600,
      ...proxy,
    },
    apiKey: { store: "gcp-secret-manager-egress", remoteKey: "plue-anthropic-api-key", refreshInterval: "1h" },
    runners: { namespace: "runners", podLabels: { "app.kubernetes.io/name": "runner" } },
    nodeLocalDns: false,
  };
}

/**
 * Props of the egress gateway chart exactly as the plan maps them from config/example.yaml
 * (app/charts.ts), for the chart's own tests that vary one prop at a time.
 */
import { chartProps } from "../../app/charts.ts";
import { readSchemaInputs } from "../../app/plan.ts";
import type { EgressGatewayChartProps } from "../../charts/egress-gateway-chart.ts";
import { exampleConfig } from "./config.ts";

/** The example environment's gateway props; `proxy` fields can be overridden. */
export function exampleGatewayProps(proxy: Partial<EgressGatewayChartProps["proxy"]> = {}): EgressGatewayChartProps {
  const props = chartProps(exampleConfig(), readSchemaInputs()).egressGateway;
  return { ...props, proxy: { ...props.proxy, ...proxy } };
}

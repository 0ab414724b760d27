/**
 * The cdk8s charts of one environment, in apply order, and the one place their props are mapped
 * from the validated config (and, for the schema Job, from the migration files `db/` reads).
 */
import { App as K8sApp, type Chart } from "cdk8s";
import { ApiChart, type ApiChartProps } from "../charts/api-chart.ts";
import { EgressGatewayChart, type EgressGatewayChartProps } from "../charts/egress-gateway-chart.ts";
import { ExternalSecretsChart, type ExternalSecretsChartProps, type SecretKeySource } from "../charts/external-secrets-chart.ts";
import { NamespacesChart, type NamespacesChartProps } from "../charts/namespaces-chart.ts";
import { NetworkPoliciesChart, type NetworkPoliciesChartProps } from "../charts/network-policies-chart.ts";
import { RunnerSandboxChart, type RunnerSandboxChartProps } from "../charts/runner-sandbox-chart.ts";
import { SchemaJobChart, type SchemaJobChartProps } from "../charts/schema-job-chart.ts";
import { DB_USER, dbHostSecretId, type EsoConsumer, esoIdentities, names, secretId, serviceAccountEmail } from "../config/names.ts";
import { ANTHROPIC_KEY_SECRET, DB_PASSWORD_SECRET, ENV_CONSUMER } from "../config/secrets.ts";
import type { PlueConfig } from "../config/schema.ts";
import type { Migration } from "../db/migrations.ts";
import { K8S } from "../lib/k8s-names.ts";
import { quantityValue } from "../lib/quantity.ts";

/** What the schema Job packages: the migrations, the runner script, and their hash. */
export interface SchemaInputs {
  readonly migrations: readonly Pick<Migration, "file" | "sql">[];
  readonly runnerScript: string;
  readonly migrationsHash: string;
}

/** Props of every chart, mapped from `config`. */
export interface ChartProps {
  readonly namespaces: NamespacesChartProps;
  readonly runnerSandbox: RunnerSandboxChartProps;
  readonly networkPolicies: NetworkPoliciesChartProps;
  readonly externalSecrets: ExternalSecretsChartProps;
  readonly egressGateway: EgressGatewayChartProps;
  readonly schemaJob: SchemaJobChartProps;
  readonly api: ApiChartProps;
}

/**
 * The keys of a consumer's Secret: every configured secret the consumer reads that names an `env`
 * (the API's; the schema Job reads just its connection), sorted by secret name. The config
 * schema has already checked that no two entries write the same key.
 */
function envSecrets(config: PlueConfig, consumer: EsoConsumer): SecretKeySource[] {
  if (consumer !== ENV_CONSUMER) return [];
  return Object.keys(config.secrets.items)
    .sort()
    .flatMap((name) => {
      const item = config.secrets.items[name];
      return item?.env !== undefined && item.consumers.includes(consumer)
        ? [{ secretKey: item.env, remoteKey: secretId(config, name) }]
        : [];
    });
}

/** Maps the validated config (and the schema Job's inputs) to every chart's props. */
export function chartProps(config: PlueConfig, schema: SchemaInputs): ChartProps {
  const n = names(config);
  const partOf = config.name;
  const identities = esoIdentities(config);
  const consumer = (c: EsoConsumer, target: string, mergePolicy: "Merge" | "Replace", connection: "url" | "libpq") => ({
    store: identities[c].store,
    kubernetesServiceAccount: identities[c].kubernetesServiceAccount,
    target,
    mergePolicy,
    connection,
    data: envSecrets(config, c),
  });
  const gateway = config.egressGateway;
  const gatewayPods = { "app.kubernetes.io/name": K8S.apps.egressGateway };
  const runnerPods = { "app.kubernetes.io/name": K8S.apps.runner };
  return {
    namespaces: { partOf },
    runnerSandbox: {
      partOf,
      image: config.images.runner,
      resources: config.runner.resources,
      maxPods: config.runner.maxPods,
      maxRuntimeSeconds: config.runner.maxRuntimeSeconds,
      gateway: { host: K8S.runnerHosts.gateway, clusterIP: gateway.clusterIP, port: gateway.port },
      callback: { host: K8S.runnerHosts.callback, clusterIP: config.api.callbackClusterIP, port: config.api.callbackPort },
    },
    networkPolicies: {
      partOf,
      apiPort: config.api.port,
      callbackPort: config.api.callbackPort,
      gateway: { namespace: K8S.namespaces.egress, podLabels: gatewayPods, port: gateway.port },
      ssh: config.api.ssh,
      nodeLocalDns: config.cluster.nodeLocalDns,
      privateServicesCidr: config.network.privateServicesCidr,
      controlPlaneCidr: config.network.controlPlaneCidr,
    },
    externalSecrets: {
      partOf,
      namespace: K8S.namespaces.api,
      projectId: config.project.id,
      cluster: { name: n.cluster, location: config.project.region, projectId: config.project.id },
      operatorNamespace: config.externalSecrets.namespace,
      refreshInterval: config.externalSecrets.refreshInterval,
      database: {
        user: DB_USER,
        name: config.database.databaseName,
        passwordSecret: secretId(config, DB_PASSWORD_SECRET),
        hostSecret: dbHostSecretId(config),
      },
      consumers: {
        api: consumer("api", K8S.secrets.api, "Merge", "url"),
        // The runner reads no URL: the libpq variables (db/README.md).
        migrate: consumer("migrate", K8S.secrets.migrate, "Replace", "libpq"),
      },
      // The gateway's ExternalSecret is in its own chart, in its own namespace.
      storesOnly: {
        egress: {
          store: identities.egress.store,
          kubernetesServiceAccount: identities.egress.kubernetesServiceAccount,
          namespace: K8S.namespaces.egress,
        },
      },
    },
    egressGateway: {
      partOf,
      namespace: K8S.namespaces.egress,
      image: gateway.image,
      replicas: gateway.replicas,
      clusterIP: gateway.clusterIP,
      resources: gateway.resources,
      proxy: {
        port: gateway.port,
        healthPort: gateway.healthPort,
        // One worker per CPU of the container's limit (nginx's `auto` would count the node's).
        workerProcesses: Math.max(1, Math.ceil(quantityValue(gateway.resources.cpu) ?? 1)),
        routes: gateway.routes,
        maxBodyMegabytes: gateway.maxBodyMegabytes,
        rateLimit: gateway.rateLimit,
        upstreamReadTimeoutSeconds: gateway.upstreamReadTimeoutSeconds,
      },
      apiKey: {
        store: identities.egress.store,
        remoteKey: secretId(config, ANTHROPIC_KEY_SECRET),
        refreshInterval: config.externalSecrets.refreshInterval,
      },
      runners: { namespace: K8S.namespaces.runners, podLabels: runnerPods },
      nodeLocalDns: config.cluster.nodeLocalDns,
    },
    schemaJob: {
      partOf,
      image: config.images.migrate,
      migrations: schema.migrations,
      runnerScript: schema.runnerScript,
      migrationsHash: schema.migrationsHash,
      nodeLocalDns: config.cluster.nodeLocalDns,
      privateServicesCidr: config.network.privateServicesCidr,
    },
    api: {
      partOf,
      image: config.images.api,
      port: config.api.port,
      callbackPort: config.api.callbackPort,
      callbackClusterIP: config.api.callbackClusterIP,
      minReplicas: config.api.minReplicas,
      maxReplicas: config.api.maxReplicas,
      healthPath: config.api.healthPath,
      resources: config.api.resources,
      ssh: config.api.ssh,
      googleServiceAccount: serviceAccountEmail(config, n.apiServiceAccount),
    },
  };
}

/** The built charts, in apply order, and the schema Job chart (the workloads stack waits for its Job). */
export interface Charts {
  readonly charts: readonly Chart[];
  readonly schemaJob: SchemaJobChart;
}

/** Builds every chart for `config`, in apply order. */
export function buildCharts(config: PlueConfig, schema: SchemaInputs): Charts {
  const props = chartProps(config, schema);
  const k8s = new K8sApp();
  const schemaJob = new SchemaJobChart(k8s, "schema-job", props.schemaJob);
  const charts: Chart[] = [
    new NamespacesChart(k8s, "namespaces", props.namespaces),
    new RunnerSandboxChart(k8s, "runner-sandbox", props.runnerSandbox),
    new NetworkPoliciesChart(k8s, "network-policies", props.networkPolicies),
    new ExternalSecretsChart(k8s, "external-secrets", props.externalSecrets),
    // Before the API: runners can start only once their gateway is up (workloads stack).
    new EgressGatewayChart(k8s, "egress-gateway", props.egressGateway),
    schemaJob,
    new ApiChart(k8s, "api", props.api),
  ];
  return { charts, schemaJob };
}

/**
 * The egress gateway chart's objects, as synthesized for the example environment's props (and
 * equal to the plan's `egress-gateway` chart): each
 * security-relevant block pinned whole, every object valid against the Kubernetes schema, and
 * every validation of the nginx settings failing in each direction. (Its nginx configuration
 * runs under a real nginx in egress-gateway-nginx.test.ts.)
 */
import { createHash } from "node:crypto";
import { App } from "cdk8s";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { EgressGatewayChart } from "../../charts/egress-gateway-chart.ts";
import { ACCESS_LOG_FIELDS, nginxConf, type NginxConfProps } from "../../charts/egress-gateway-nginx.ts";
import { exampleGatewayProps } from "../support/egress-gateway.ts";
import { chart } from "../support/plan.ts";
import { exampleConfig } from "../support/config.ts";
import { chartProps } from "../../app/charts.ts";
import { readSchemaInputs } from "../../app/plan.ts";

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: any };

function synth(props = exampleGatewayProps()): { objects: Obj[]; conf: string } {
  const chart = new EgressGatewayChart(new App(), "egress-gateway", props);
  return { objects: chart.toJson() as Obj[], conf: chart.nginxConf };
}

const { objects, conf } = synth();
const find = (kind: string, name: string): Obj => {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  expect(found, `${kind} ${name}`).toHaveLength(1);
  return found[0] as Obj;
};
const PART_OF = { "app.kubernetes.io/part-of": "plue" };
const GATEWAY = { "app.kubernetes.io/name": "egress-gateway" };
const RUNNER_PEER = {
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "runners" } },
  podSelector: { matchLabels: { "app.kubernetes.io/name": "runner" } },
};

describe("egress gateway chart", () => {
  it("synthesizes the same objects twice (no clock, randomness or path)", () => {
    expect(JSON.stringify(synth().objects)).toBe(JSON.stringify(objects));
  });

  it("is the plan's egress-gateway chart, object for object", () => {
    expect(chart("egress-gateway")).toEqual(objects);
  });

  it("matches the reviewed snapshot", () => {
    expect(objects.map((o) => stringify(o)).join("---\n")).toMatchSnapshot();
  });

  it("declares exactly these objects, all in its own namespace", () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      [
        "ConfigMap/egress-gateway-nginx",
        "Deployment/egress-gateway",
        "ExternalSecret/egress-gateway-upstream-auth",
        "FQDNNetworkPolicy/gateway-egress-anthropic-fqdn",
        "Namespace/egress",
        "NetworkPolicy/default-deny-all",
        "NetworkPolicy/gateway-egress-anthropic",
        "NetworkPolicy/gateway-egress-dns",
        "NetworkPolicy/gateway-ingress-runners",
        "PodDisruptionBudget/egress-gateway",
        "Service/egress-gateway",
        "ServiceAccount/egress-gateway",
      ].sort(),
    );
    for (const o of objects.filter((o) => o.kind !== "Namespace")) expect(o.metadata.namespace, o.kind).toBe("egress");
  });

  it("validates every object against the Kubernetes schema (the two CRD kinds are pinned whole below)", async () => {
    const crds = new Set(["external-secrets.io/v1/ExternalSecret", "networking.gke.io/v1alpha1/FQDNNetworkPolicy"]);
    let validated = 0;
    for (const o of objects) {
      if (crds.has(`${o.apiVersion}/${o.kind}`)) continue;
      const path = o.apiVersion.includes("/") ? `${o.apiVersion}/${o.kind}` : `v1/${o.kind}`;
      const mod = (await import(`kubernetes-models/${path}`)) as Record<string, new (data: unknown) => { validate(): void }>;
      const Model = mod[o.kind];
      expect(Model, path).toBeDefined();
      if (Model) expect(() => new Model(o).validate(), `${o.kind} ${o.metadata.name}`).not.toThrow();
      validated++;
    }
    expect(validated).toBe(objects.length - 2);
  });

  it("creates its namespace with Pod Security Admission restricted and a default-deny policy", () => {
    expect(find("Namespace", "egress").metadata).toEqual({
      name: "egress",
      labels: {
        ...PART_OF,
        "kubernetes.io/metadata.name": "egress",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
      },
    });
    expect(find("NetworkPolicy", "default-deny-all").spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  });

  it("runs nginx restricted, unprivileged, off the gVisor pool, spread across zones, with its key only as a mounted file", () => {
    const deployment = find("Deployment", "egress-gateway");
    const cm = find("ConfigMap", "egress-gateway-nginx");
    expect(cm.data).toEqual({ "nginx.conf": conf });
    expect(deployment.spec).toEqual({
      replicas: 2,
      revisionHistoryLimit: 5,
      selector: { matchLabels: GATEWAY },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: { ...GATEWAY, ...PART_OF },
          annotations: { "checksum/nginx-conf": createHash("sha256").update(conf).digest("hex") },
        },
        spec: {
          serviceAccountName: "egress-gateway",
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            fsGroup: 1000,
            seccompProfile: { type: "RuntimeDefault" },
          },
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: "sandbox.gke.io/runtime", operator: "DoesNotExist" }] }],
              },
            },
          },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: "topology.kubernetes.io/zone",
              whenUnsatisfiable: "DoNotSchedule",
              labelSelector: { matchLabels: GATEWAY },
            },
            {
              maxSkew: 1,
              topologyKey: "kubernetes.io/hostname",
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: GATEWAY },
            },
          ],
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: "nginx",
              image: `docker.io/nginxinc/nginx-unprivileged:1.29-alpine@sha256:${"0".repeat(64)}`,
              imagePullPolicy: "IfNotPresent",
              command: ["nginx", "-p", "/tmp/", "-e", "stderr", "-c", "/etc/egress-gateway/conf/nginx.conf"],
              ports: [
                { name: "proxy", containerPort: 8080, protocol: "TCP" },
                { name: "health", containerPort: 8081, protocol: "TCP" },
              ],
              startupProbe: { httpGet: { path: "/healthz", port: "health" }, timeoutSeconds: 2, periodSeconds: 1, failureThreshold: 30 },
              readinessProbe: { httpGet: { path: "/healthz", port: "health" }, timeoutSeconds: 2, periodSeconds: 5, failureThreshold: 2 },
              livenessProbe: { httpGet: { path: "/healthz", port: "health" }, timeoutSeconds: 2, periodSeconds: 10, failureThreshold: 3 },
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 1000,
                runAsGroup: 1000,
                privileged: false,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
              resources: {
                requests: { cpu: "250m", memory: "128Mi", "ephemeral-storage": "1Gi" },
                limits: { cpu: "250m", memory: "128Mi", "ephemeral-storage": "1Gi" },
              },
              volumeMounts: [
                { name: "tmp", mountPath: "/tmp" },
                { name: "conf", mountPath: "/etc/egress-gateway/conf", readOnly: true },
                { name: "key", mountPath: "/etc/egress-gateway/key", readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: "tmp", emptyDir: { sizeLimit: "1Gi" } },
            { name: "conf", configMap: { name: "egress-gateway-nginx", defaultMode: 0o444 } },
            { name: "key", secret: { secretName: "egress-gateway-upstream-auth", defaultMode: 0o440 } },
          ],
        },
      },
    });
  });

  it("writes the key's Secret through External Secrets as an nginx include, guarded against anything but a plain token", () => {
    expect(find("ExternalSecret", "egress-gateway-upstream-auth").spec).toEqual({
      refreshInterval: "1h",
      secretStoreRef: { kind: "ClusterSecretStore", name: "gcp-secret-manager-egress" },
      target: {
        name: "egress-gateway-upstream-auth",
        creationPolicy: "Owner",
        deletionPolicy: "Retain",
        template: {
          engineVersion: "v2",
          mergePolicy: "Replace",
          type: "Opaque",
          data: {
            "upstream-auth.conf": [
              "{{- $key := .anthropicApiKey | trim -}}",
              '{{- if not (regexMatch "^[A-Za-z0-9_-]{20,256}$" $key) -}}',
              "{{- fail \"the Anthropic API key is not a plain token (letters, digits, '_' and '-', 20 to 256 characters)\" -}}",
              "{{- end -}}",
              "# Rendered by External Secrets from Secret Manager. Never log or print this file.",
              'proxy_set_header x-api-key "{{ $key }}";',
              "",
            ].join("\n"),
          },
        },
      },
      data: [
        {
          secretKey: "anthropicApiKey",
          remoteRef: {
            key: "plue-anthropic-api-key",
            version: "latest",
            conversionStrategy: "Default",
            decodingStrategy: "None",
            metadataPolicy: "None",
          },
        },
      ],
    });
  });

  it("puts no credential anywhere in a pod spec: no env at all, no envFrom, the Secret only as a volume", () => {
    const pod = find("Deployment", "egress-gateway").spec.template.spec;
    for (const c of pod.containers) {
      expect(c.env, c.name).toBeUndefined();
      expect(c.envFrom, c.name).toBeUndefined();
    }
    expect(JSON.stringify(objects)).not.toMatch(/sk-ant-|secretKeyRef/);
  });

  it("serves runners on a fixed clusterIP, the proxy port only (not the health port)", () => {
    expect(find("Service", "egress-gateway").spec).toEqual({
      type: "ClusterIP",
      clusterIP: "10.20.0.64",
      selector: GATEWAY,
      ports: [{ name: "proxy", port: 8080, targetPort: "proxy", protocol: "TCP" }],
    });
  });

  it("keeps at least one replica through voluntary disruptions", () => {
    expect(find("PodDisruptionBudget", "egress-gateway").spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: GATEWAY } });
  });

  it("accepts runner pods only, on the proxy port only", () => {
    expect(find("NetworkPolicy", "gateway-ingress-runners").spec).toEqual({
      podSelector: { matchLabels: GATEWAY },
      policyTypes: ["Ingress"],
      ingress: [{ from: [RUNNER_PEER], ports: [{ protocol: "TCP", port: 8080 }] }],
    });
  });

  it("reaches DNS, and Anthropic's ranges and name on 443 only", () => {
    expect(find("NetworkPolicy", "gateway-egress-dns").spec).toEqual({
      podSelector: { matchLabels: GATEWAY },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
              podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
            },
          ],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ],
    });
    expect(find("NetworkPolicy", "gateway-egress-anthropic").spec).toEqual({
      podSelector: { matchLabels: GATEWAY },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ ipBlock: { cidr: "160.79.104.0/23" } }, { ipBlock: { cidr: "2607:6bc0::/48" } }],
          ports: [{ protocol: "TCP", port: 443 }],
        },
      ],
    });
    expect(find("FQDNNetworkPolicy", "gateway-egress-anthropic-fqdn")).toEqual({
      apiVersion: "networking.gke.io/v1alpha1",
      kind: "FQDNNetworkPolicy",
      metadata: { name: "gateway-egress-anthropic-fqdn", namespace: "egress", labels: PART_OF },
      spec: {
        podSelector: { matchLabels: GATEWAY },
        egress: [{ matches: [{ name: "api.anthropic.com" }], ports: [{ protocol: "TCP", port: 443 }] }],
      },
    });
  });

  it("adds the NodeLocal DNS cache to the gateway's DNS egress when it is enabled", () => {
    const { objects: withCache } = synth({ ...exampleGatewayProps(), nodeLocalDns: true });
    const dns = withCache.find((o) => o.metadata.name === "gateway-egress-dns") as Obj;
    expect(dns.spec.egress[0].to).toEqual([
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
        podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
      },
      { ipBlock: { cidr: "169.254.20.10/32" } },
    ]);
  });
});

describe("egress gateway nginx.conf (production upstream)", () => {
  const lines = conf.split("\n").map((l) => l.trim());
  const directive = (name: string) => lines.filter((l) => l.startsWith(`${name} `));

  it("runs one nginx worker per CPU of the container's limit (the plan maps 250m to 1; `auto` would count the node's CPUs)", () => {
    expect(directive("worker_processes")).toEqual(["worker_processes 1;"]);
    const config = exampleConfig();
    const workers = (cpu: string) =>
      chartProps(
        { ...config, egressGateway: { ...config.egressGateway, resources: { ...config.egressGateway.resources, cpu } } },
        readSchemaInputs(),
      ).egressGateway.proxy.workerProcesses;
    expect(["100m", "1", "1500m", "2", "4"].map(workers)).toEqual([1, 1, 2, 2, 4]);
  });

  it("has one upstream, api.anthropic.com:443, verified against the system roots with SNI and name check", () => {
    expect(lines.filter((l) => l.startsWith("server ") && l !== "server {")).toEqual(["server api.anthropic.com:443;"]);
    expect(directive("proxy_pass")).toEqual(["proxy_pass https://anthropic;"]);
    expect(directive("proxy_ssl_verify")).toEqual(["proxy_ssl_verify on;"]);
    expect(directive("proxy_ssl_trusted_certificate")).toEqual(["proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;"]);
    expect(directive("proxy_ssl_server_name")).toEqual(["proxy_ssl_server_name on;"]);
    expect(directive("proxy_ssl_name")).toEqual(["proxy_ssl_name api.anthropic.com;"]);
    expect(directive("proxy_ssl_verify_depth")).toEqual(["proxy_ssl_verify_depth 3;"]);
    expect(directive("proxy_ssl_protocols")).toEqual(["proxy_ssl_protocols TLSv1.2 TLSv1.3;"]);
  });

  it("allows exactly the configured routes, on the raw request line", () => {
    expect(lines.filter((l) => l.startsWith('"~^'))).toEqual([
      '"~^POST /v1/messages(\\?[^ ]*)?$" 1;',
      '"~^POST /v1/messages/count_tokens(\\?[^ ]*)?$" 1;',
    ]);
    expect(directive("map")).toEqual(['map "$request_method $request_uri" $gateway_route_allowed {']);
  });

  it("streams responses, buffers (and size-checks) requests, limits body and rate, hides its version", () => {
    expect(directive("proxy_buffering")).toEqual(["proxy_buffering off;"]);
    expect(directive("proxy_request_buffering")).toEqual(["proxy_request_buffering on;"]);
    expect(directive("proxy_http_version")).toEqual(["proxy_http_version 1.1;"]);
    expect(directive("proxy_read_timeout")).toEqual(["proxy_read_timeout 600s;"]);
    expect(directive("client_max_body_size")).toEqual(["client_max_body_size 32m;"]);
    expect(directive("limit_req_zone")).toEqual(["limit_req_zone $binary_remote_addr zone=gateway_per_client:10m rate=600r/m;"]);
    expect(directive("limit_req")).toEqual(["limit_req zone=gateway_per_client burst=60 nodelay;"]);
    expect(directive("server_tokens")).toEqual(["server_tokens off;"]);
    expect(directive("listen")).toEqual(["listen 8080 default_server;", "listen 8081;"]);
  });

  it("sets every outgoing credential header itself and includes nothing but the key file", () => {
    expect(directive("proxy_set_header")).toEqual([
      "proxy_set_header Host api.anthropic.com;",
      'proxy_set_header Connection "";',
      'proxy_set_header Authorization "";',
      'proxy_set_header Proxy-Authorization "";',
      'proxy_set_header Cookie "";',
      'proxy_set_header Forwarded "";',
      'proxy_set_header X-Forwarded-For "";',
      'proxy_set_header X-Real-IP "";',
    ]);
    expect(directive("include")).toEqual(["include ../key/upstream-auth.conf;"]);
  });

  it("logs fixed fields to stdout (no header, cookie, query string or body variable) and has no user directive", () => {
    expect(directive("access_log")).toEqual(["access_log off;", "access_log /dev/stdout gateway;"]);
    expect(conf).not.toMatch(/\$(http_|cookie_|sent_http_|request_body)/);
    const format = conf.slice(conf.indexOf("log_format"), conf.indexOf("access_log off;"));
    expect(format).not.toMatch(/\$(args|query_string|request_uri|request\b|arg_)/);
    expect([...format.matchAll(/"([a-z_]+)":/g)].map((m) => m[1])).toEqual([...ACCESS_LOG_FIELDS]);
    expect(directive("user")).toEqual([]);
  });
});

describe("egress gateway nginx settings validation", () => {
  const base = exampleGatewayProps().proxy;
  const fails = (change: Partial<NginxConfProps>, message: string) => {
    expect(() => nginxConf({ ...base, ...change })).toThrow(message);
  };

  it("renders the example settings", () => {
    expect(nginxConf(base)).toBe(conf);
  });

  it("fails if a port is not a TCP port, or the health port is the proxy port", () => {
    fails({ port: 0 }, "egress gateway: 'port' is not a TCP port (got 0). Use an integer from 1 to 65535.");
    fails({ port: 65536 }, "'port' is not a TCP port (got 65536)");
    fails({ port: 80.5 }, "'port' is not a TCP port (got 80.5)");
    fails({ healthPort: -1 }, "'healthPort' is not a TCP port (got -1)");
    fails({ healthPort: 8080 }, "egress gateway: 'healthPort' equals 'port' (got 8080). Give the health endpoint its own port.");
    fails(
      { upstream: { address: "api.anthropic.com", port: 0, trustedCertificate: "/ca.pem" } },
      "'upstream.port' is not a TCP port (got 0)",
    );
  });

  it("fails if a count or limit is not a positive whole number", () => {
    fails({ workerProcesses: 0 }, "egress gateway: 'workerProcesses' is not a positive integer (got 0). Use a whole number of at least 1.");
    fails({ maxBodyMegabytes: 0 }, "'maxBodyMegabytes' is not a positive integer (got 0)");
    fails({ maxBodyMegabytes: 1.5 }, "'maxBodyMegabytes' is not a positive integer (got 1.5)");
    fails({ rateLimit: { requestsPerMinute: 0, burst: 1 } }, "'rateLimit.requestsPerMinute' is not a positive integer (got 0)");
    fails(
      { rateLimit: { requestsPerMinute: 60, burst: -1 } },
      "egress gateway: 'rateLimit.burst' is not a whole number (got -1). Use 0 or more.",
    );
    fails({ upstreamReadTimeoutSeconds: 0 }, "'upstreamReadTimeoutSeconds' is not a positive integer (got 0)");
    expect(() => nginxConf({ ...base, rateLimit: { requestsPerMinute: 60, burst: 0 } })).not.toThrow();
  });

  it("fails if an address or path could break out of its directive", () => {
    fails({ listenAddress: "127.0.0.1; include /etc/passwd" }, "egress gateway: 'listenAddress' is not an address");
    fails(
      { upstream: { address: "evil.example:443; server x", port: 443, trustedCertificate: "/ca.pem" } },
      "'upstream.address' is not a host name",
    );
    fails(
      { upstream: { address: "api.anthropic.com", port: 443, trustedCertificate: "/a b.pem" } },
      "'upstream.trustedCertificate' is not a plain file path",
    );
    expect(() => nginxConf({ ...base, listenAddress: "[::1]" })).not.toThrow();
  });

  it("fails if the allowlist is empty, a method is not an upper-case token, a path is not exact, or a route repeats", () => {
    fails({ routes: [] }, "egress gateway: 'routes' is empty (got []). Allow at least one method and path, e.g. POST /v1/messages.");
    fails({ routes: [{ method: "post", path: "/v1/messages" }] }, "'routes[0].method' is not an upper-case HTTP method (got \"post\")");
    fails({ routes: [{ method: "POST GET", path: "/v1/messages" }] }, "'routes[0].method' is not an upper-case HTTP method");
    for (const path of ["v1/messages", "/v1/(.*)", "/v1/messages?x=1", '/v1/"messages', "/v1/messages$", "/v1/ messages", ""]) {
      fails({ routes: [{ method: "POST", path }] }, `'routes[0].path' is not an exact path (got ${JSON.stringify(path)})`);
    }
    fails(
      {
        routes: [
          { method: "POST", path: "/v1/messages" },
          { method: "POST", path: "/v1/messages" },
        ],
      },
      "egress gateway: 'routes[1]' repeats an earlier route (got \"POST /v1/messages\"). List each method and path once.",
    );
  });

  it("reports every bad setting at once", () => {
    expect(() => nginxConf({ ...base, port: 0, workerProcesses: 0, routes: [] })).toThrow(
      /'port'[^\n]*\n[^\n]*'workerProcesses'[^\n]*\n[^\n]*'routes' is empty/,
    );
  });

  it("escapes the dots of a path in its pattern (a dot matches only a dot)", () => {
    const text = nginxConf({ ...base, routes: [{ method: "GET", path: "/v1/a.b" }] });
    expect(text).toContain('"~^GET /v1/a\\.b(\\?[^ ]*)?$" 1;');
  });
});

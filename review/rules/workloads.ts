/** Every container of every workload: Pod Security Standards (Restricted) and more. */
import { parse } from "yaml";
import type { Json } from "../plan-model.ts";
import { type ContainerRef, containersOf, finding, get, list, objectsOfKind, type PodSpecRef, podSpecs, resourcesOf } from "./helpers.ts";
import type { Finding, PostureRule, ReviewContext } from "./types.ts";

const PSS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/";
const SEED_POD = "000 Sandboxed Execution (gVisor): Pod Security Context";

/** A rule over each container of each pod spec; `test` gets the pod spec too (for inherited settings). */
function containerRule(
  spec: Omit<PostureRule, "check"> & {
    readonly test: (c: ContainerRef, pod: PodSpecRef, ctx: ReviewContext) => [string, string] | undefined;
  },
): PostureRule {
  const rule: PostureRule = {
    ...spec,
    check: (ctx) =>
      podSpecs(ctx).flatMap((pod) =>
        containersOf(pod.spec).flatMap((c) => {
          const r = spec.test(c, pod, ctx);
          return r ? [finding(rule, pod.applied, `${pod.label} ${c.list}[${c.name}]: ${r[0]}`, r[1])] : [];
        }),
      ),
  };
  return rule;
}

/** A rule over each pod spec. */
function podRule(
  spec: Omit<PostureRule, "check"> & { readonly test: (pod: PodSpecRef, ctx: ReviewContext) => [string, string][] },
): PostureRule {
  const rule: PostureRule = {
    ...spec,
    check: (ctx) =>
      podSpecs(ctx).flatMap((pod) => spec.test(pod, ctx).map(([m, fix]) => finding(rule, pod.applied, `${pod.label}: ${m}`, fix))),
  };
  return rule;
}

/** A container's setting, or the pod's when the container leaves it out. */
function effective(c: ContainerRef, pod: PodSpecRef, key: string): unknown {
  const own = get(c.container, `securityContext.${key}`);
  return own !== undefined ? own : get(pod.spec, `securityContext.${key}`);
}

export const runAsNonRoot = containerRule({
  id: "POD01",
  title: "containers run as non-root",
  severity: "error",
  rationale: "a process that is root in its container is one kernel or runtime bug away from root on the node",
  references: { pss: `Restricted: Running as Non-root (${PSS})`, checkov: "CKV_K8S_23", kubeLinter: "run-as-non-root", seed: SEED_POD },
  test: (c, pod) => {
    if (effective(c, pod, "runAsNonRoot") !== true)
      return ["runAsNonRoot is not true (container or pod)", "securityContext.runAsNonRoot: true"];
    return effective(c, pod, "runAsUser") === 0 ? ["runAsUser is 0", "a non-zero runAsUser"] : undefined;
  },
});

export const noPrivilegeEscalation = containerRule({
  id: "POD02",
  title: "no privilege escalation",
  severity: "error",
  rationale: "no setuid binary or file capability can give the process more than it started with",
  references: {
    pss: `Restricted: Privilege Escalation (${PSS})`,
    checkov: "CKV_K8S_20",
    kubeLinter: "privilege-escalation-container",
    seed: SEED_POD,
  },
  test: (c) =>
    get(c.container, "securityContext.allowPrivilegeEscalation") === false
      ? undefined
      : ["allowPrivilegeEscalation is not false", "securityContext.allowPrivilegeEscalation: false"],
});

export const dropAllCapabilities = containerRule({
  id: "POD03",
  title: "all capabilities dropped, none added",
  severity: "error",
  rationale: "NET_RAW, SYS_ADMIN and the rest stay out of reach of the workload",
  references: {
    pss: `Restricted: Capabilities (${PSS})`,
    checkov: "CKV_K8S_28, CKV_K8S_37",
    kubeLinter: "drop-net-raw-capability",
    seed: SEED_POD,
  },
  test: (c) => {
    const drop = list(c.container, "securityContext.capabilities.drop");
    const add = list(c.container, "securityContext.capabilities.add").filter((x) => x !== "NET_BIND_SERVICE");
    if (!drop.includes("ALL")) return ["capabilities.drop does not include ALL", 'securityContext.capabilities.drop: ["ALL"]'];
    return add.length > 0 ? [`capabilities.add lists ${add.join(", ")}`, "add no capability (NET_BIND_SERVICE at most)"] : undefined;
  },
});

export const seccompRuntimeDefault = containerRule({
  id: "POD04",
  title: "seccomp RuntimeDefault",
  severity: "error",
  rationale: "the runtime's default seccomp profile blocks the syscalls container escapes use most",
  references: { cis: "4.6.2", pss: `Restricted: Seccomp (${PSS})`, checkov: "CKV_K8S_31" },
  test: (c, pod) => {
    const t = effective(c, pod, "seccompProfile.type");
    return t === "RuntimeDefault" || t === "Localhost"
      ? undefined
      : [`seccompProfile.type is ${JSON.stringify(t)}`, "securityContext.seccompProfile.type: RuntimeDefault"];
  },
});

export const readOnlyRootFs = containerRule({
  id: "POD05",
  title: "read-only root filesystem",
  severity: "error",
  rationale: "a compromised process cannot change its own binaries or drop tools into the image; writable paths are explicit emptyDirs",
  references: { checkov: "CKV_K8S_22", kubeLinter: "no-read-only-root-fs", seed: SEED_POD },
  test: (c) =>
    get(c.container, "securityContext.readOnlyRootFilesystem") === true
      ? undefined
      : ["readOnlyRootFilesystem is not true", "securityContext.readOnlyRootFilesystem: true"],
});

export const notPrivileged = containerRule({
  id: "POD06",
  title: "no privileged container",
  severity: "error",
  rationale: "a privileged container has every capability and every device of the node: it is the node",
  references: { pss: `Baseline: Privileged Containers (${PSS})`, checkov: "CKV_K8S_16", kubeLinter: "privileged-container" },
  test: (c) => (get(c.container, "securityContext.privileged") === true ? ["privileged is true", "remove privileged: true"] : undefined),
});

export const noHostAccess = podRule({
  id: "POD07",
  title: "no host namespaces, hostPath volumes or host ports",
  severity: "error",
  rationale: "host network, PID or IPC namespaces and host paths give a pod the node's view and files",
  references: {
    pss: `Baseline: Host Namespaces, HostPath Volumes, Host Ports (${PSS})`,
    checkov: "CKV_K8S_17, CKV_K8S_18, CKV_K8S_19, CKV_K8S_26",
    kubeLinter: "host-network, host-pid, host-ipc, sensitive-host-mounts",
  },
  test: (pod) => {
    const out: [string, string][] = [];
    for (const k of ["hostNetwork", "hostPID", "hostIPC"]) if (pod.spec[k] === true) out.push([`${k} is true`, `remove ${k}`]);
    for (const v of list(pod.spec, "volumes"))
      if (get(v, "hostPath") !== undefined)
        out.push([`volume ${String(get(v, "name"))} is a hostPath`, "use emptyDir or a projected volume"]);
    for (const c of containersOf(pod.spec))
      for (const p of list(c.container, "ports"))
        if (get(p, "hostPort") !== undefined) out.push([`${c.name} binds hostPort ${String(get(p, "hostPort"))}`, "remove hostPort"]);
    return out;
  },
});

export const resourceLimits = containerRule({
  id: "POD08",
  title: "cpu and memory requests and limits",
  severity: "error",
  rationale: "a container without limits can starve its node (for runners: every other agent run on it)",
  references: {
    checkov: "CKV_K8S_10, CKV_K8S_11, CKV_K8S_12, CKV_K8S_13",
    kubeLinter: "unset-cpu-requirements, unset-memory-requirements",
    seed: "000 Sandboxed Execution (gVisor): Resource Limits",
  },
  test: (c) => {
    const missing = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"].filter(
      (k) => get(c.container, `resources.${k}`) === undefined,
    );
    return missing.length === 0 ? undefined : [`resources lack ${missing.join(", ")}`, "set cpu and memory requests and limits"];
  },
});

const DIGEST = /@sha256:[a-f0-9]{64}$/;

export const imagesPinned = containerRule({
  id: "POD09",
  title: "images pinned by digest in production; never :latest",
  severity: "error",
  rationale: "a digest names exactly the image that was reviewed; a tag can be moved to another image after review",
  references: { checkov: "CKV_K8S_43, CKV_K8S_14", kubeLinter: "latest-tag", seed: "004 A08: Data Integrity Failures" },
  test: (c, _pod, ctx) => {
    const image = String(c.container.image ?? "");
    if (!DIGEST.test(image)) {
      const tag = /:([^/:@]+)$/.exec(image)?.[1];
      if (tag === undefined || tag === "latest")
        return [
          `image ${image} has no digest and ${tag === undefined ? "no tag" : "the latest tag"}`,
          "reference it as registry/path@sha256:<digest>",
        ];
      if (ctx.config.production)
        return [`image ${image} is not pinned by digest (production)`, "reference it as registry/path@sha256:<digest>"];
    } else if (ctx.config.production && /@sha256:0{64}$/.test(image)) {
      return [`image ${image} carries a placeholder digest (production)`, "use the digest of the published image"];
    }
    return undefined;
  },
});

export const tokenOnlyWhereNeeded: PostureRule = {
  id: "POD10",
  title: "service-account token mounted only where the pod uses the Kubernetes API",
  severity: "error",
  rationale:
    "a mounted token is a credential for the API server; only a pod whose service account some RoleBinding grants rights needs one",
  references: { cis: "4.1.5", checkov: "CKV_K8S_38" },
  check(ctx) {
    const bound = new Set(
      objectsOfKind(ctx, "RoleBinding", "ClusterRoleBinding").flatMap((b) =>
        list(b.object, "subjects")
          .filter((s) => get(s, "kind") === "ServiceAccount")
          .map((s) => `${String(get(s, "namespace") ?? b.object.metadata.namespace)}/${String(get(s, "name"))}`),
      ),
    );
    const saAutomount = new Map(
      objectsOfKind(ctx, "ServiceAccount").map((s) => [
        `${s.object.metadata.namespace}/${s.object.metadata.name}`,
        s.object.automountServiceAccountToken,
      ]),
    );
    return podSpecs(ctx).flatMap((pod) => {
      const sa = `${pod.namespace}/${String(pod.spec.serviceAccountName ?? "default")}`;
      const mounted =
        pod.spec.automountServiceAccountToken !== undefined
          ? pod.spec.automountServiceAccountToken !== false
          : saAutomount.get(sa) !== false;
      return mounted && !bound.has(sa)
        ? [
            finding(
              tokenOnlyWhereNeeded,
              pod.applied,
              `${pod.label}: mounts the token of ${sa}, which no RoleBinding uses`,
              "automountServiceAccountToken: false",
            ),
          ]
        : [];
    });
  },
};

export const probes: PostureRule = {
  id: "POD11",
  title: "long-running workloads have readiness and liveness probes",
  severity: "warning",
  rationale: "traffic reaches only ready pods, and a hung process is restarted",
  references: { checkov: "CKV_K8S_8, CKV_K8S_9", kubeLinter: "no-liveness-probe, no-readiness-probe" },
  check: (ctx) =>
    podSpecs(ctx)
      .filter((p) => ["Deployment", "StatefulSet", "DaemonSet"].includes(p.applied.object.kind))
      .flatMap((pod) =>
        list(pod.spec, "containers").flatMap((c) => {
          const missing = ["readinessProbe", "livenessProbe"].filter((k) => get(c, k) === undefined);
          return missing.length === 0
            ? []
            : [
                finding(
                  probes,
                  pod.applied,
                  `${pod.label} container ${String(get(c, "name"))}: no ${missing.join(", ")}`,
                  "add the probes",
                ),
              ];
        }),
      ),
};

export const dedicatedServiceAccount = podRule({
  id: "POD12",
  title: "pods run as their own service account, in their own namespace",
  severity: "error",
  rationale:
    "the default service account (and the default namespace) is shared by everything that forgets to choose; rights and policies then leak between workloads",
  references: { cis: "4.1.4, 4.6.4", checkov: "CKV_K8S_41, CKV_K8S_21", kubeLinter: "default-service-account, use-namespace" },
  test: (pod) => {
    const out: [string, string][] = [];
    if (pod.spec.serviceAccountName === undefined || pod.spec.serviceAccountName === "default")
      out.push(["uses the default service account", "serviceAccountName: <its own>"]);
    if (pod.namespace === undefined || pod.namespace === "default")
      out.push(["is in the default namespace", "put it in its own namespace"]);
    return out;
  },
});

/** Components of the External Secrets chart whose pods its values configure. */
const ESO_COMPONENTS = ["", "webhook", "certController"];

export const helmValuesHardened: PostureRule = {
  id: "HELM01",
  title: "Helm-installed pods get the restricted settings and limits through their values",
  severity: "error",
  rationale:
    "pods a chart creates never appear in the plan's YAML, so their security context and limits are checked in the release's values",
  references: { pss: `Restricted (${PSS})`, checkov: "(none: checkov does not render helm_release values)" },
  check(ctx) {
    const out: Finding[] = [];
    for (const b of resourcesOf(ctx, "helm_release").filter((r) => r.body.chart === "external-secrets")) {
      const values = (Array.isArray(b.body.values) ? b.body.values : [])
        .filter((v): v is string => typeof v === "string")
        .reduce<Json>((acc, v) => Object.assign(acc, (parse(v) as Json | null) ?? {}), {});
      for (const comp of ESO_COMPONENTS) {
        const base = comp === "" ? values : ((values[comp] ?? {}) as Json);
        const name = comp === "" ? "controller" : comp;
        const sc = (base.securityContext ?? {}) as Json;
        const problems: string[] = [];
        if (sc.allowPrivilegeEscalation !== false) problems.push("allowPrivilegeEscalation");
        if (!list(sc, "capabilities.drop").includes("ALL")) problems.push("capabilities.drop ALL");
        if (sc.readOnlyRootFilesystem !== true) problems.push("readOnlyRootFilesystem");
        if (sc.runAsNonRoot !== true) problems.push("runAsNonRoot");
        if (get(sc, "seccompProfile.type") !== "RuntimeDefault") problems.push("seccompProfile RuntimeDefault");
        for (const k of ["limits.cpu", "limits.memory"]) if (get(base, `resources.${k}`) === undefined) problems.push(`resources.${k}`);
        if (problems.length > 0)
          out.push(
            finding(
              helmValuesHardened,
              b,
              `values for the ${name}: ${problems.join(", ")} not set`,
              `set ${comp === "" ? "" : `${comp}.`}securityContext and resources in the release values`,
            ),
          );
      }
    }
    return out;
  },
};

export const helmPinned: PostureRule = {
  id: "HELM02",
  title: "Helm charts pinned to an exact version from an https repository, installed atomically",
  severity: "error",
  rationale: "an unpinned chart installs whatever was published last; atomic rolls a failed install back",
  references: {
    seed: "004 A06: Vulnerable Components",
    docs: "https://registry.terraform.io/providers/hashicorp/helm/3.1.1/docs/resources/release",
  },
  check: (ctx) =>
    resourcesOf(ctx, "helm_release").flatMap((b) => {
      const problems: string[] = [];
      if (typeof b.body.version !== "string" || !/^\d+\.\d+\.\d+$/.test(b.body.version))
        problems.push(`version ${JSON.stringify(b.body.version)} is not an exact x.y.z`);
      if (typeof b.body.repository !== "string" || !b.body.repository.startsWith("https://"))
        problems.push(`repository ${JSON.stringify(b.body.repository)} is not https`);
      if (b.body.atomic !== true) problems.push("atomic is not true");
      return problems.length === 0
        ? []
        : [finding(helmPinned, b, problems.join("; "), 'version = "x.y.z", repository = "https://...", atomic = true')];
    }),
};

/** Every workload rule, in id order. */
export const WORKLOAD_RULES: readonly PostureRule[] = [
  runAsNonRoot,
  noPrivilegeEscalation,
  dropAllCapabilities,
  seccompRuntimeDefault,
  readOnlyRootFs,
  notPrivileged,
  noHostAccess,
  resourceLimits,
  imagesPinned,
  tokenOnlyWhereNeeded,
  probes,
  dedicatedServiceAccount,
  helmValuesHardened,
  helmPinned,
];

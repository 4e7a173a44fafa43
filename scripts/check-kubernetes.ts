/**
 * What a schema cannot say about the rendered Kubernetes manifests (scripts/check-kubernetes.sh
 * renders them with kustomize and validates their structure with kubeconform first): that they
 * run Kilat as the code and the README expect.
 *
 *   node --import tsx scripts/check-kubernetes.ts <name>=<rendered.yaml> …
 *
 * Exits 1 naming each problem.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { PROBE_PORT } from "../config/defaults";
import { EVENT_BUS_TUNING } from "../config/tuning";
import { ALL_TOPICS, PARTITIONS, dlqOf } from "../events/catalog";
import { ConfigError, SERVICE_NAMES, loadConfig, type Config } from "../lib/config";

const ROOT = join(__dirname, "..");
/** The Secret template's value for what an operator must fill in (deploy/kubernetes/base). */
const PLACEHOLDER = "REPLACE-ME";
/** Stands for a real secret when the rest of the configuration is checked. */
const STRONG_SECRET = "validation-only-0123456789abcdefghijklmnopqrstuvwxyz";
/** Time for the transporter and the Kafka group to say goodbye after the drain, in seconds. */
const EXIT_MARGIN_S = 5;

interface Metadata {
  name: string;
  labels?: Record<string, string>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string };
  };
}
interface Probe {
  httpGet?: { path?: string; port?: string | number };
}
type Quantities = Record<string, string | number>;
interface Container {
  name: string;
  image?: string;
  command?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds: number } } };
  securityContext?: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
  };
  resources?: { requests?: Quantities; limits?: Quantities };
}
interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  terminationGracePeriodSeconds?: number;
}
interface Selector {
  matchLabels?: Record<string, string>;
}
interface Resource {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    replicas?: number;
    selector?: Selector | Record<string, string>;
    minAvailable?: number | string;
    template?: { metadata?: Metadata; spec: PodSpec };
    ports?: { name?: string; port: number; targetPort?: string | number }[];
  };
}

const problems: string[] = [];
const fail = (where: string, message: string) => problems.push(`${where}: ${message}`);

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const documented = (name: string) => readme.includes("`" + name + "`");

/** Milli-units of a CPU or bytes of memory, from a Kubernetes quantity. */
function quantity(value: string | number): number {
  const match = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(value));
  if (!match) return NaN;
  const factor: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(match[1]) * (match[2] ? factor[match[2]] : 1);
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([key, value]) => labels[key] === value);

/** The longest a stopping process takes after SIGTERM, in seconds (see pod-defaults.yaml). */
function drainSeconds(): number {
  const config = readFileSync(join(ROOT, "moleculer.config.ts"), "utf8");
  const tracking = /shutdownTimeout:\s*([\d_]+)/.exec(config);
  if (!tracking) throw new Error("moleculer.config.ts: no tracking.shutdownTimeout");
  return (Number(tracking[1].replace(/_/g, "")) + EVENT_BUS_TUNING.stopWaitMs) / 1000;
}

function preStopSeconds(container: Container): number | undefined {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep) return preStop.sleep.seconds;
  const command = preStop?.exec?.command ?? [];
  return command[0] === "sleep" && command.length === 2 ? Number(command[1]) : undefined;
}

function secretValues(secret: Resource): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    values[key] = Buffer.from(value, "base64").toString("utf8");
  }
  return { ...values, ...secret.stringData };
}

/** A pod's environment as the kubelet builds it: envFrom in order (later wins), then env. */
function environment(
  where: string,
  podName: string,
  container: Container,
  configMaps: Map<string, Resource>,
  secrets: Map<string, Resource>,
): Record<string, string> {
  const env: Record<string, string> = {};
  const source = (kind: string, map: Map<string, Resource>, name: string) => {
    const found = map.get(name);
    if (!found) fail(where, `refers to ${kind} ${name}, which the manifests do not define`);
    return found;
  };
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) {
      Object.assign(env, source("ConfigMap", configMaps, from.configMapRef.name)?.data);
    }
    if (from.secretRef) {
      const secret = source("Secret", secrets, from.secretRef.name);
      if (secret) Object.assign(env, secretValues(secret));
    }
  }
  for (const variable of container.env ?? []) {
    const { value, valueFrom } = variable;
    if (value !== undefined) env[variable.name] = value;
    else if (valueFrom?.fieldRef) env[variable.name] = podName;
    else if (valueFrom?.configMapKeyRef) {
      const { name, key } = valueFrom.configMapKeyRef;
      const data = source("ConfigMap", configMaps, name)?.data ?? {};
      if (!(key in data)) fail(where, `${variable.name}: ConfigMap ${name} has no key ${key}`);
      env[variable.name] = data[key] ?? "";
    } else if (valueFrom?.secretKeyRef) {
      const { name, key } = valueFrom.secretKeyRef;
      const secret = source("Secret", secrets, name);
      const data = secret ? secretValues(secret) : {};
      if (!(key in data)) fail(where, `${variable.name}: Secret ${name} has no key ${key}`);
      env[variable.name] = data[key] ?? "";
    }
  }
  return env;
}

/**
 * The app's own validation of a Deployment's environment: the Secret template's placeholders each
 * stop the process naming the variable; with real secrets in their place, everything else
 * (addresses, URLs, limits) is accepted. Returns the accepted configuration.
 */
function checkConfig(where: string, env: Record<string, string>): Config | undefined {
  const placeholders = Object.keys(env).filter((key) => env[key] === PLACEHOLDER);
  const filled = Object.fromEntries(
    Object.entries(env).map(([key, value]) => [key, value === PLACEHOLDER ? STRONG_SECRET : value]),
  );
  let config: Config;
  try {
    config = loadConfig(filled);
  } catch (error) {
    fail(where, `Kilat refuses this configuration: ${(error as Error).message}`);
    return undefined;
  }
  if (config.env !== "production") fail(where, `NODE_ENV is ${config.env}, not production`);
  for (const key of placeholders) {
    try {
      loadConfig({ ...filled, [key]: PLACEHOLDER });
      fail(where, `the placeholder of ${key} is accepted: production must refuse it`);
    } catch (error) {
      if (!(error instanceof ConfigError) || !error.problems.some((p) => p.startsWith(key))) {
        fail(where, `the placeholder of ${key} is refused, but not naming it: ${String(error)}`);
      }
    }
  }
  return config;
}

function checkContainer(where: string, container: Container, pod: PodSpec): void {
  for (const variable of container.env ?? []) {
    if (!documented(variable.name)) fail(where, `sets ${variable.name}, which the README lacks`);
  }
  const security = container.securityContext ?? {};
  if (pod.securityContext?.runAsNonRoot !== true || !pod.securityContext.runAsUser) {
    fail(where, "must run as a non-root user id (runAsNonRoot, runAsUser)");
  }
  if (security.readOnlyRootFilesystem !== true) fail(where, "root filesystem must be read-only");
  if (security.allowPrivilegeEscalation !== false) fail(where, "must not escalate privileges");
  if (!security.capabilities?.drop?.includes("ALL")) fail(where, "must drop all capabilities");
  for (const resource of ["cpu", "memory"]) {
    const request = container.resources?.requests?.[resource];
    const limit = container.resources?.limits?.[resource];
    if (request === undefined || limit === undefined) {
      fail(where, `needs a ${resource} request and limit`);
    } else if (!(quantity(request) <= quantity(limit))) {
      fail(where, `${resource} request ${request} is above its limit ${limit}`);
    }
  }
}

function checkRender(name: string, file: string): void {
  const text = readFileSync(file, "utf8");
  const resources: Resource[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      fail(name, `unreadable YAML: ${document.errors[0].message}`);
      return;
    }
    const value = document.toJS() as Resource | null;
    if (value) resources.push(value);
  }
  const byKind = (kind: string) => resources.filter((resource) => resource.kind === kind);
  const named = (kind: string) => new Map(byKind(kind).map((r) => [r.metadata.name, r]));
  const configMaps = named("ConfigMap");
  const secrets = named("Secret");
  const deployments = byKind("Deployment");
  const at = (resource: Resource) => `${name}: ${resource.kind} ${resource.metadata.name}`;

  // Everything the processes read is a variable of the README's, by the same name.
  for (const map of [...configMaps.values(), ...secrets.values()]) {
    const keys = [...Object.keys(map.data ?? {}), ...Object.keys(map.stringData ?? {})];
    for (const key of keys) {
      if (!documented(key)) fail(at(map), `${key} is no variable the README documents`);
    }
  }

  const images = new Set<string>();
  const hosted = new Map<string, string>();
  const grace = drainSeconds();
  for (const deployment of deployments) {
    const where = at(deployment);
    const spec = deployment.spec ?? {};
    const pod = spec.template?.spec;
    const labels = spec.template?.metadata?.labels ?? {};
    const container = pod?.containers.find((c) => c.name === "kilat");
    if (!pod || !container) {
      fail(where, "has no container named kilat");
      continue;
    }
    if (container.image) images.add(container.image);
    const selector = (spec.selector as Selector | undefined)?.matchLabels;
    if (!matches(selector, labels)) fail(where, "its selector does not match its pods' labels");
    checkContainer(where, container, pod);

    // SERVICES names real services, each hosted by one Deployment.
    const services = container.env?.find((v) => v.name === "SERVICES")?.value;
    const names = (services ?? "").split(",").map((service) => service.trim());
    for (const service of names) {
      if (!(SERVICE_NAMES as readonly string[]).includes(service)) {
        fail(where, `SERVICES names "${service}", not one of ${SERVICE_NAMES.join(", ")}`);
      } else if (hosted.has(service)) {
        fail(where, `hosts ${service}, as ${hosted.get(service)} does`);
      } else {
        hosted.set(service, deployment.metadata.name);
      }
    }

    const env = environment(
      where,
      `${deployment.metadata.name}-pod`,
      container,
      configMaps,
      secrets,
    );
    const config = checkConfig(where, env);

    // Probes: liveness /health, readiness /ready, on the port this process serves them on.
    const gateway = names.includes("api");
    const probePort = gateway ? config?.port : (config?.probePort ?? PROBE_PORT);
    const ports = container.ports ?? [];
    const probes: [string, Probe | undefined, string][] = [
      ["livenessProbe", container.livenessProbe, "/health"],
      ["readinessProbe", container.readinessProbe, "/ready"],
    ];
    if (container.startupProbe) probes.push(["startupProbe", container.startupProbe, "/health"]);
    for (const [field, probe, path] of probes) {
      const port = probe?.httpGet?.port;
      const number = ports.find((p) => p.name === port || p.containerPort === port)?.containerPort;
      if (probe?.httpGet?.path !== path) fail(where, `${field} must GET ${path}`);
      else if (number === undefined) fail(where, `${field}: port ${port} is not a container port`);
      else if (config && number !== probePort) {
        fail(where, `${field}: port ${number}, but the process serves ${path} on ${probePort}`);
      }
    }

    // The stop: a pause for the endpoints to update, then the drain, all within the grace period.
    const pause = preStopSeconds(container);
    const period = pod.terminationGracePeriodSeconds ?? 30;
    if (pause === undefined) fail(where, "needs a preStop pause (sleep)");
    else if (period < pause + grace + EXIT_MARGIN_S) {
      fail(
        where,
        `grace period ${period}s < preStop ${pause}s + drain ${grace}s + ${EXIT_MARGIN_S}s`,
      );
    }

    // Consumers of one group share a topic's partitions: more replicas than those would idle.
    const replicas = spec.replicas ?? 1;
    if (replicas > PARTITIONS) fail(where, `${replicas} replicas > ${PARTITIONS} partitions`);

    const budgets = byKind("PodDisruptionBudget").filter((pdb) =>
      matches((pdb.spec?.selector as Selector | undefined)?.matchLabels, labels),
    );
    if (budgets.length !== 1) fail(where, `needs one PodDisruptionBudget, has ${budgets.length}`);
    for (const pdb of budgets) {
      const min = pdb.spec?.minAvailable;
      if (typeof min !== "number" || min < 1 || min >= replicas) {
        fail(
          at(pdb),
          `minAvailable ${String(min)}: keep 1 or more, and below ${replicas} replicas`,
        );
      }
    }
  }
  for (const service of SERVICE_NAMES) {
    if (!hosted.has(service)) fail(name, `no Deployment hosts the ${service} service`);
  }

  // The gateway's Service reaches the gateway's port.
  for (const service of byKind("Service")) {
    const selector = service.spec?.selector as Record<string, string> | undefined;
    const targets = deployments.filter((d) =>
      matches(selector, d.spec?.template?.metadata?.labels ?? {}),
    );
    if (targets.length === 0) fail(at(service), "selects no Deployment's pods");
    for (const target of targets) {
      const container = target.spec?.template?.spec.containers.find((c) => c.name === "kilat");
      for (const port of service.spec?.ports ?? []) {
        const wanted = port.targetPort ?? port.port;
        if (!container?.ports?.some((p) => p.name === wanted || p.containerPort === wanted)) {
          fail(at(service), `targetPort ${wanted} is no port of ${target.metadata.name}`);
        }
      }
    }
  }
  const gateway = deployments.find((d) => hosted.get("api") === d.metadata.name);
  const exposed = byKind("Service").some((service) =>
    matches(
      service.spec?.selector as Record<string, string> | undefined,
      gateway?.spec?.template?.metadata?.labels ?? {},
    ),
  );
  if (!exposed) fail(name, "no Service reaches the gateway (the Deployment hosting api)");

  // The topics Job: the one image, a compiled script that exists, the same variables.
  const jobs = byKind("Job");
  if (jobs.length === 0) fail(name, "no Job creates the Kafka topics");
  for (const job of jobs) {
    const pod = job.spec?.template?.spec;
    for (const container of pod?.containers ?? []) {
      const where = `${at(job)} ${container.name}`;
      if (container.image) images.add(container.image);
      checkContainer(where, container, pod as PodSpec);
      environment(where, `${job.metadata.name}-pod`, container, configMaps, secrets);
      const script = (container.command ?? []).find((arg) => arg.startsWith("dist/"));
      const source = script?.replace(/^dist\//, "").replace(/\.js$/, ".ts");
      if (!source || !existsSync(join(ROOT, source))) {
        fail(where, `runs ${script ?? "no dist/ script"}, built from no source of this repository`);
      }
    }
  }
  if (images.size !== 1) fail(name, `one image for every process, found ${[...images].join(", ")}`);
  console.log(
    `[kubernetes] ${name}: ${resources.length} resources, ${deployments.length} Deployments ` +
      `(${[...hosted.keys()].join(", ")}) run Kilat as configured`,
  );
}

/** The Strimzi alternative in kafka-topics.yaml's comments names the catalog's topics. */
function checkTopicComment(): void {
  const file = join(ROOT, "deploy/kubernetes/base/kafka-topics.yaml");
  const named = new Set(readFileSync(file, "utf8").match(/\b[a-z]+\.events(?:\.dlq)?\b/g));
  const wanted = new Set(ALL_TOPICS.flatMap((topic) => [topic, dlqOf(topic)]));
  const differ = [...wanted]
    .filter((t) => !named.has(t))
    .concat([...named].filter((t) => !wanted.has(t)));
  if (differ.length > 0)
    fail(file, `the topics it names differ from the catalog's: ${differ.join(", ")}`);
}

/** Every metric the Grafana dashboard queries is one the code registers (dots become "_"). */
function checkDashboard(): void {
  const file = join(ROOT, "deploy/kubernetes/grafana-dashboard.json");
  const expressions: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (typeof node === "object" && node !== null) {
      for (const [key, value] of Object.entries(node)) {
        if (key === "expr" && typeof value === "string") expressions.push(value);
        else walk(value);
      }
    }
  };
  walk(JSON.parse(readFileSync(file, "utf8")));
  const registered = new Set<string>();
  const sources = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
      .filter((path) => path.endsWith(".ts"))
      .map((path) => join(ROOT, dir, path));
  for (const source of ["lib", "services", "mixins"].flatMap(sources)) {
    for (const [, name] of readFileSync(source, "utf8").matchAll(/"(kilat\.[a-z_.]+)"/g)) {
      registered.add(name.replace(/\./g, "_"));
    }
  }
  const queried = new Set(expressions.flatMap((expr) => expr.match(/\bkilat_[a-z_]+/g) ?? []));
  if (queried.size === 0) fail(file, "queries no kilat_ metric");
  for (const metric of queried) {
    if (!registered.has(metric) && !registered.has(metric.replace(/_(bucket|sum|count)$/, ""))) {
      fail(file, `queries ${metric}, which no service registers`);
    }
  }
  console.log(`[kubernetes] grafana-dashboard.json: ${queried.size} metrics, each registered`);
}

function main(): void {
  const renders = process.argv.slice(2).map((arg) => arg.split("=", 2) as [string, string]);
  if (renders.length === 0 || renders.some(([, file]) => !file)) {
    console.error("usage: check-kubernetes.ts <name>=<rendered.yaml> …");
    process.exit(2);
  }
  for (const [name, file] of renders) checkRender(name, file);
  checkTopicComment();
  checkDashboard();
  if (problems.length > 0) {
    for (const problem of problems) console.error(`[kubernetes] ${problem}`);
    process.exit(1);
  }
}

main();

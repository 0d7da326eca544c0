import type { BentoManifest } from '../bento/manifest.js';
import { type DeployOptions, PRE_STOP_SECONDS } from './deploy-options.js';
import { imageParts } from './image-ref.js';

/** A Kubernetes object as plain data: what is written out as YAML. */
export type KubeObject = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<string, unknown>;

/** The non-root user the bento's Dockerfile creates (templates/docker/Dockerfile, BENTO_UID / BENTO_GID). */
const BENTO_UID = 1034;

/**
 * The custom metric the HPA scales on (through the Prometheus adapter) and the dashboard shows per pod: requests
 * being handled (framework/src/observability/metrics.ts).
 */
export const IN_FLIGHT_METRIC = 'bento_http_requests_in_flight';

/** Labels that select the pods: the name only, since a selector cannot change across versions. */
export function selectorLabels(o: DeployOptions): Record<string, string> {
  return { 'app.kubernetes.io/name': o.name };
}

/** Labels on every object: the selector's, the bento's version and who made it. */
export function commonLabels(manifest: BentoManifest, o: DeployOptions): Record<string, string> {
  return {
    ...selectorLabels(o),
    // Label values are at most 63 characters of [A-Za-z0-9._-]: a bento version is made of those.
    'app.kubernetes.io/version': manifest.version.slice(0, 63),
    'app.kubernetes.io/component': 'model-server',
    'app.kubernetes.io/managed-by': 'bento-ts',
  };
}

export function objectMeta(manifest: BentoManifest, o: DeployOptions, name = o.name): Record<string, unknown> {
  return {
    name,
    ...(o.namespace ? { namespace: o.namespace } : {}),
    labels: commonLabels(manifest, o),
    annotations: { 'bento-ts.dev/bento': manifest.tag },
  };
}

/** Prometheus's conventional scrape annotations, for a Prometheus without the operator. */
export function scrapeAnnotations(o: DeployOptions): Record<string, string> {
  return { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(o.port), 'prometheus.io/path': '/metrics' };
}

export const configMapName = (o: DeployOptions) => `${o.name}-config`;

/**
 * Where the container runs: a plain Deployment, or a Knative revision (KServe Serverless), which refuses a startup
 * probe, lifecycle hooks and a probe port, and names its port for the protocol (http1).
 */
export type ContainerRuntime = 'kubernetes' | 'knative';

/** The bento's server container: probes on its probe routes, resources, non-root and a graceful stop. */
export function bentoContainer(o: DeployOptions, runtime: ContainerRuntime = 'kubernetes'): Record<string, unknown> {
  const knative = runtime === 'knative';
  // Knative's queue proxy probes the serving port itself.
  const http = (path: string) => ({ httpGet: knative ? { path } : { path, port: o.port } });
  const { tag, digest } = imageParts(o.image);
  return {
    name: knative ? 'kserve-container' : 'bento',
    image: o.image,
    // A tag such as name:version, or a digest, names one build: pull it once; `:latest` or no tag is pulled every time.
    imagePullPolicy: digest || (tag && tag !== 'latest') ? 'IfNotPresent' : 'Always',
    ports: [{ name: knative ? 'http1' : 'http', containerPort: o.port, protocol: 'TCP' }],
    env: [
      { name: 'PORT', value: String(o.port) },
      { name: 'BENTO_GRACEFUL_TIMEOUT', value: String(o.gracefulTimeoutSeconds) },
      // Connections made before the pod began terminating still reach it through the Service: answer what comes on
      // them for 2 s with Connection: close rather than close them under a request (make test-k8s lost one so).
      { name: 'BENTO_IDLE_CLOSE_GRACE_MS', value: '2000' },
      { name: 'BENTO_LOG_FORMAT', value: 'json' },
    ],
    envFrom: [{ configMapRef: { name: configMapName(o) } }, { secretRef: { name: o.secretName, optional: true } }],
    resources: {
      requests: { cpu: o.cpu, memory: o.memory },
      // No CPU limit: CFS throttling stalls a batch mid-inference and breaks the latency objective; the HPA scales on
      // the request instead. Memory is limited, so a leak ends in a restart rather than a starved node.
      limits: { memory: o.memory },
    },
    // The server listens only once its models are loaded and warmed up, which may mean a download from MLflow:
    // up to 5 minutes before liveness takes over. Knative has no startup probe: liveness waits 30 s instead, and the
    // queue proxy holds requests until the revision is ready.
    ...(knative ? {} : { startupProbe: { ...http('/livez'), periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 60 } }),
    livenessProbe: { ...http('/livez'), ...(knative ? { initialDelaySeconds: 30 } : {}), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
    // /readyz answers 503 once draining begins, so the pod leaves the endpoints before it stops listening.
    readinessProbe: { ...http('/readyz'), periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
    ...(knative
      ? {}
      : {
          lifecycle: {
            // Endpoints learn of a terminating pod a moment after it is told: keep accepting for that long, then
            // SIGTERM starts the drain. The image has node but no guarantee of a shell or `sleep`.
            preStop: { exec: { command: ['node', '-e', `setTimeout(() => {}, ${PRE_STOP_SECONDS * 1000})`] } },
          },
        }),
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      // Writable: models fetched at run time are stored in the image's models/ beside the packed ones.
      readOnlyRootFilesystem: false,
      runAsNonRoot: true,
    },
  };
}

/** The pod-level settings both the Deployment and the KServe predictor use. */
export function podSettings(o: DeployOptions): Record<string, unknown> {
  return {
    terminationGracePeriodSeconds: PRE_STOP_SECONDS + o.gracefulTimeoutSeconds + 5,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: BENTO_UID,
      runAsGroup: BENTO_UID,
      fsGroup: BENTO_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

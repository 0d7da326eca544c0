import { isSecretName } from '../config/settings.js';
import type { BentoManifest } from '../bento/manifest.js';
import { CPU_QUANTITY, MEMORY_QUANTITY } from '../config/bento-yaml-schema.js';
import { DeployError } from '../errors.js';

/** What `bento deploy` writes manifests for, every default already applied. */
export interface DeployOptions {
  /** Kubernetes object name (DNS-1123): the bento name with `_` and `.` made `-`, unless given. */
  name: string;
  namespace?: string;
  /** The bento's image, as `bento containerize` tagged it (default: the bento tag) or as pushed to a registry. */
  image: string;
  port: number;
  minReplicas: number;
  maxReplicas: number;
  /** HPA target: average CPU use as a percentage of the request. */
  targetCpuPercent: number;
  /** HPA target: average `bento_http_requests_in_flight` per pod, through the Prometheus adapter. */
  targetInFlight: number;
  cpu: string;
  memory: string;
  /** BENTO_GRACEFUL_TIMEOUT in the pod; the termination grace period covers it and the pre-stop delay. */
  gracefulTimeoutSeconds: number;
  /** Plain configuration for the pod (MLFLOW_TRACKING_URI, MODEL_NAME...), written to a ConfigMap. */
  env: Record<string, string>;
  /** The Secret the pod takes credentials from (MLflow password or token, AWS keys); never written by bento-ts. */
  secretName: string;
  /** Write a prometheus-operator ServiceMonitor beside the scrape annotations. */
  serviceMonitor: boolean;
}

export type DeployFlags = Partial<Omit<DeployOptions, 'cpu' | 'memory'>> & { cpu?: string | number; memory?: string };

/** Seconds the pod keeps serving after it is told to stop, while endpoints stop sending it new connections. */
export const PRE_STOP_SECONDS = 5;
const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The bento name as a Kubernetes object name: lowercase, `-` for `_` and `.`, at most 63 characters. */
export function kubernetesName(bentoName: string): string {
  return bentoName.toLowerCase().replace(/[_.]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
}

/**
 * Where a pod has more work than it can batch well: 80% of its concurrency limit when it has one, else one full
 * batch of its biggest batchable method, else 8. `make bench` figures give a better one (--target-in-flight).
 */
function defaultInFlight(manifest: BentoManifest): number {
  const limit = manifest.config.traffic?.maxConcurrency;
  if (limit) return Math.max(1, Math.floor(limit * 0.8));
  const sizes = manifest.runners.flatMap((r) => r.methods.filter((m) => m.batchable).map((m) => m.maxBatchSize));
  return sizes.length ? Math.max(...sizes) : 8;
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new DeployError(`${what} must be a positive integer, got ${value}`);
  return value;
}

/** The options for `manifest`: flags over bento.yaml's `resources` over the defaults, each checked. */
export function resolveDeployOptions(manifest: BentoManifest, flags: DeployFlags = {}): DeployOptions {
  const name = flags.name ?? kubernetesName(manifest.name);
  if (!DNS_1123.test(name) || name.length > 63) {
    throw new DeployError(`"${name}" is not a Kubernetes name: lowercase letters, digits and "-", at most 63 characters (give one with --name)`);
  }
  if (flags.namespace !== undefined && !DNS_1123.test(flags.namespace)) throw new DeployError(`namespace "${flags.namespace}" is not a Kubernetes name`);
  const cpu = String(flags.cpu ?? manifest.config.resources?.cpu ?? 1);
  const memory = flags.memory ?? manifest.config.resources?.memory ?? '1Gi';
  if (!new RegExp(CPU_QUANTITY).test(cpu)) throw new DeployError(`cpu "${cpu}" is not a CPU quantity (2, 0.5 or 500m)`);
  if (!new RegExp(MEMORY_QUANTITY).test(memory)) throw new DeployError(`memory "${memory}" is not a memory quantity (512Mi, 2Gi)`);
  const minReplicas = positiveInteger(flags.minReplicas ?? 2, 'min replicas');
  const maxReplicas = positiveInteger(flags.maxReplicas ?? Math.max(10, minReplicas), 'max replicas');
  if (maxReplicas < minReplicas) throw new DeployError(`max replicas (${maxReplicas}) is below min replicas (${minReplicas})`);
  const targetCpuPercent = positiveInteger(flags.targetCpuPercent ?? 70, 'the CPU target');
  if (targetCpuPercent > 100) throw new DeployError(`the CPU target is a percentage of the request, at most 100, got ${targetCpuPercent}`);
  const env = flags.env ?? {};
  // Credentials go in the Secret, never in a ConfigMap or a manifest.
  const secrets = Object.keys(env).filter(isSecretName);
  if (secrets.length) {
    throw new DeployError(
      `${secrets.join(', ')} ${secrets.length > 1 ? 'are credentials' : 'is a credential'}: a ConfigMap would hold it in clear. ` +
        `Put it in the Secret instead: kubectl create secret generic ${flags.secretName ?? `${name}-secrets`} --from-literal=${secrets[0]}=...`,
    );
  }
  return {
    name,
    ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
    image: flags.image ?? manifest.tag,
    port: flags.port ?? 3000,
    minReplicas,
    maxReplicas,
    targetCpuPercent,
    targetInFlight: positiveInteger(flags.targetInFlight ?? defaultInFlight(manifest), 'the in-flight target'),
    cpu,
    memory,
    gracefulTimeoutSeconds: positiveInteger(flags.gracefulTimeoutSeconds ?? 30, 'the graceful timeout'),
    env,
    secretName: flags.secretName ?? `${name}-secrets`,
    serviceMonitor: flags.serviceMonitor ?? false,
  };
}

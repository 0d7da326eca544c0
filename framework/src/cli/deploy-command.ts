import { BentoStore } from '../bento/bento-store.js';
import { loadDotEnv } from '../config/dotenv.js';
import { type DeployFlags, resolveDeployOptions } from '../deploy/deploy-options.js';
import { inferenceService, type KServeMode } from '../deploy/kserve-manifest.js';
import {
  type ManifestFile,
  adapterRules,
  configMap,
  kubernetesManifests,
  kustomization,
} from '../deploy/kubernetes-manifests.js';
import { manifestStream, writeManifests } from '../deploy/write-manifests.js';
import { grafanaDashboard } from '../deploy/grafana-dashboard.js';
import { InvalidInputError } from '../errors.js';
import { keyValues } from './key-values.js';

export interface DeployCommandOptions {
  output?: string;
  image?: string;
  name?: string;
  namespace?: string;
  minReplicas?: number;
  maxReplicas?: number;
  targetCpu?: number;
  targetInFlight?: number;
  cpu?: string;
  memory?: string;
  gracefulTimeout?: number;
  env?: string[];
  secret?: string;
  serviceMonitor?: boolean;
  mode?: string;
}

function flags(opts: DeployCommandOptions): DeployFlags {
  return {
    image: opts.image,
    name: opts.name,
    namespace: opts.namespace,
    minReplicas: opts.minReplicas,
    maxReplicas: opts.maxReplicas,
    targetCpuPercent: opts.targetCpu,
    targetInFlight: opts.targetInFlight,
    cpu: opts.cpu,
    memory: opts.memory,
    gracefulTimeoutSeconds: opts.gracefulTimeout,
    env: keyValues(opts.env, '--env'),
    secretName: opts.secret,
    serviceMonitor: opts.serviceMonitor,
  };
}

/** `bento deploy k8s|kserve <tag>`: manifests for the bento's image, into a directory or (with `-o -`) to stdout. */
export async function deployCommand(target: 'k8s' | 'kserve', tag: string, opts: DeployCommandOptions): Promise<void> {
  loadDotEnv();
  const bento = await BentoStore.fromEnv(process.env).get(tag);
  const { manifest } = bento;
  const o = resolveDeployOptions(manifest, flags(opts));
  let files: ManifestFile[];
  const extra: Record<string, unknown> = {};
  if (target === 'kserve') {
    const mode = (opts.mode ?? 'Serverless') as KServeMode;
    if (mode !== 'Serverless' && mode !== 'RawDeployment')
      throw new InvalidInputError(`--mode ${opts.mode} is not one of Serverless, RawDeployment`);
    files = [inferenceService(manifest, o, mode), { file: 'configmap.yaml', objects: [configMap(manifest, o)] }];
  } else {
    files = kubernetesManifests(manifest, o);
    extra['prometheus-adapter-rules.yaml'] = adapterRules();
    extra['grafana-dashboard.json'] = grafanaDashboard(manifest, o);
  }
  const command = `bento deploy ${target} ${manifest.tag}`;
  if (opts.output === '-') {
    process.stdout.write(manifestStream(manifest, files, command));
    return;
  }
  const dir = opts.output ?? `deploy/${o.name}${target === 'kserve' ? '-kserve' : ''}`;
  extra['kustomization.yaml'] = kustomization(files, o);
  const written = await writeManifests(dir, manifest, files, extra, command);
  process.stdout.write(
    `Wrote ${written.length} files to ${dir}:\n${written.map((p) => `  ${p}\n`).join('')}` +
      `Apply them: kubectl apply -k ${dir}\n` +
      `Credentials (MLflow password or token, AWS keys) go in the Secret ${o.secretName}, which the pods read if it exists:\n` +
      `  kubectl create secret generic ${o.secretName}${o.namespace ? ` -n ${o.namespace}` : ''} --from-literal=MLFLOW_TRACKING_PASSWORD=...\n` +
      (target === 'k8s'
        ? `The HPA's in-flight metric needs the Prometheus adapter with ${dir}/prometheus-adapter-rules.yaml as Helm values.\n` +
          `Grafana: import ${dir}/grafana-dashboard.json, or let its dashboard sidecar load the ConfigMap in grafana-dashboard.yaml.\n`
        : ''),
  );
}

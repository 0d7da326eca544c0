import type { BentoManifest } from '../bento/manifest.js';
import { IN_FLIGHT_METRIC, type KubeObject, bentoContainer, commonLabels, configMapName, objectMeta, podSettings, scrapeAnnotations, selectorLabels } from './bento-pod.js';
import type { DeployOptions } from './deploy-options.js';
import { dashboardConfigMap } from './grafana-dashboard.js';
import { imageParts } from './image-ref.js';

/** One file of the output: its name and the objects in it. */
export interface ManifestFile {
  file: string;
  objects: KubeObject[];
}

function deployment(manifest: BentoManifest, o: DeployOptions): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: objectMeta(manifest, o),
    spec: {
      // No replicas: the HPA owns the count, and a replica count here would reset it on every apply.
      revisionHistoryLimit: 5,
      selector: { matchLabels: selectorLabels(o) },
      // A new pod must be ready before an old one goes: capacity holds through a rollout.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: commonLabels(manifest, o), annotations: { ...scrapeAnnotations(o), 'bento-ts.dev/bento': manifest.tag } },
        spec: { ...podSettings(o), containers: [bentoContainer(o)] },
      },
    },
  };
}

function service(manifest: BentoManifest, o: DeployOptions): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(manifest, o),
    spec: { type: 'ClusterIP', selector: selectorLabels(o), ports: [{ name: 'http', port: o.port, targetPort: 'http', protocol: 'TCP' }] },
  };
}

export function configMap(manifest: BentoManifest, o: DeployOptions): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: objectMeta(manifest, o, configMapName(o)), data: { ...o.env } };
}

function autoscaler(manifest: BentoManifest, o: DeployOptions): KubeObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: objectMeta(manifest, o),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: o.name },
      minReplicas: o.minReplicas,
      maxReplicas: o.maxReplicas,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: o.targetCpuPercent } } },
        // Queued work shows before CPU does when batches wait on the model; needs the Prometheus adapter's rule
        // (prometheus-adapter-rules.yaml). Without the adapter the HPA scales on CPU alone and reports the metric missing.
        { type: 'Pods', pods: { metric: { name: IN_FLIGHT_METRIC }, target: { type: 'AverageValue', averageValue: String(o.targetInFlight) } } },
      ],
      behavior: {
        scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 30 }] },
        // Models take time to load: do not drop pods on a short lull.
        scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
      },
    },
  };
}

function disruptionBudget(manifest: BentoManifest, o: DeployOptions): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: objectMeta(manifest, o),
    // One pod at a time: a node drain never takes the service down, even at one replica it waits for a new pod.
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(o) } },
  };
}

function serviceMonitor(manifest: BentoManifest, o: DeployOptions): KubeObject {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: objectMeta(manifest, o),
    spec: { selector: { matchLabels: selectorLabels(o) }, endpoints: [{ port: 'http', path: '/metrics', interval: '15s' }] },
  };
}

/**
 * The kustomize base: `kubectl apply -k <dir>`, or an overlay's `resources: [../<dir>]` that sets the image,
 * replicas or namespace of its own.
 */
export function kustomization(files: ManifestFile[], o: DeployOptions): Record<string, unknown> {
  const { name, tag, digest } = imageParts(o.image);
  return {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    ...(o.namespace ? { namespace: o.namespace } : {}),
    resources: files.map((f) => f.file),
    images: [{ name, newName: name, ...(tag ? { newTag: tag } : {}), ...(digest ? { digest } : {}) }],
  };
}

/** The Prometheus adapter's rule that makes the in-flight gauge a per-pod custom metric (Helm values of prometheus-adapter). */
export function adapterRules(): Record<string, unknown> {
  return {
    rules: {
      custom: [
        {
          seriesQuery: `${IN_FLIGHT_METRIC}{namespace!="",pod!=""}`,
          resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
          name: { as: IN_FLIGHT_METRIC },
          // Summed over routes and the pod's worker processes.
          metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)',
        },
      ],
    },
  };
}

/** Every manifest of a plain Kubernetes deployment of the bento, by file. */
export function kubernetesManifests(manifest: BentoManifest, o: DeployOptions): ManifestFile[] {
  const files: ManifestFile[] = [
    { file: 'deployment.yaml', objects: [deployment(manifest, o)] },
    { file: 'service.yaml', objects: [service(manifest, o)] },
    { file: 'configmap.yaml', objects: [configMap(manifest, o)] },
    { file: 'hpa.yaml', objects: [autoscaler(manifest, o)] },
    { file: 'pdb.yaml', objects: [disruptionBudget(manifest, o)] },
  ];
  if (o.serviceMonitor) files.push({ file: 'servicemonitor.yaml', objects: [serviceMonitor(manifest, o)] });
  files.push({ file: 'grafana-dashboard.yaml', objects: [dashboardConfigMap(manifest, o)] });
  return files;
}

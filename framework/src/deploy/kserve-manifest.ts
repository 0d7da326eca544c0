import type { BentoManifest } from '../bento/manifest.js';
import { type KubeObject, bentoContainer, objectMeta, podSettings } from './bento-pod.js';
import type { DeployOptions } from './deploy-options.js';
import type { ManifestFile } from './kubernetes-manifests.js';

/** KServe's deployment modes: Knative revisions (scale to zero, concurrency autoscaling) or a plain Deployment + HPA. */
export type KServeMode = 'Serverless' | 'RawDeployment';

/**
 * A KServe InferenceService whose predictor is the bento's image as a custom container. The server speaks the
 * Open Inference (V2) protocol (`/v2/models/<name>/infer`) beside the service's own routes, so KServe clients and
 * its V2 tooling call it as they would any predictor.
 */
export function inferenceService(manifest: BentoManifest, o: DeployOptions, mode: KServeMode = 'Serverless'): ManifestFile {
  const meta = objectMeta(manifest, o);
  const container = bentoContainer(o, 'knative');
  const { securityContext, terminationGracePeriodSeconds } = podSettings(o);
  const scaling =
    mode === 'Serverless'
      ? { scaleMetric: 'concurrency', scaleTarget: o.targetInFlight }
      : { scaleMetric: 'cpu', scaleMetricType: 'Utilization', scaleTarget: o.targetCpuPercent };
  const object: KubeObject = {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: {
      ...meta,
      annotations: {
        ...(meta.annotations as Record<string, string>),
        'serving.kserve.io/deploymentMode': mode,
        'serving.kserve.io/enable-prometheus-scraping': 'true',
        'prometheus.kserve.io/port': String(o.port),
        'prometheus.kserve.io/path': '/metrics',
      },
    },
    spec: {
      predictor: {
        minReplicas: o.minReplicas,
        maxReplicas: o.maxReplicas,
        ...scaling,
        securityContext,
        terminationGracePeriodSeconds,
        containers: [container],
      },
    },
  };
  return { file: 'inferenceservice.yaml', objects: [object] };
}

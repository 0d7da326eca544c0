import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BentoManifest } from '../src/bento/manifest.js';
import { kubernetesName, resolveDeployOptions } from '../src/deploy/deploy-options.js';
import { bentoContainer } from '../src/deploy/bento-pod.js';
import { imageParts, splitImage } from '../src/deploy/image-ref.js';
import { DeployError } from '../src/errors.js';

/** The parts of a manifest the options read. */
function manifest(over: Partial<BentoManifest> = {}): BentoManifest {
  return {
    name: 'mlflow_vision_classifier',
    version: 'v1',
    tag: 'mlflow_vision_classifier:v1',
    runners: [
      {
        name: 'r',
        methods: [{ name: 'classify', batchable: true, maxBatchSize: 64, maxLatencyMs: 100, maxQueueSize: 1024 }],
      },
    ],
    config: {},
    ...over,
  } as BentoManifest;
}

describe('bento deploy options', () => {
  it('names objects after the bento, in Kubernetes terms', () => {
    assert.equal(kubernetesName('mlflow_vision_classifier'), 'mlflow-vision-classifier');
    assert.equal(kubernetesName('My.Model__v2_'), 'my-model-v2');
    assert.equal(kubernetesName('a'.repeat(70)).length, 63);
  });

  it('takes flags over bento.yaml resources over the defaults', () => {
    const plain = resolveDeployOptions(manifest());
    assert.deepEqual(
      [plain.cpu, plain.memory, plain.minReplicas, plain.maxReplicas, plain.targetCpuPercent, plain.image],
      ['1', '1Gi', 2, 10, 70, 'mlflow_vision_classifier:v1'],
    );
    assert.equal(plain.targetInFlight, 64, 'one full batch of the biggest batchable method');
    const configured = manifest({ config: { resources: { cpu: 2, memory: '3Gi' }, traffic: { maxConcurrency: 50 } } });
    assert.deepEqual([resolveDeployOptions(configured).cpu, resolveDeployOptions(configured).memory], ['2', '3Gi']);
    assert.equal(resolveDeployOptions(configured).targetInFlight, 40, '80% of the concurrency limit');
    const flagged = resolveDeployOptions(configured, {
      cpu: '500m',
      memory: '512Mi',
      targetInFlight: 9,
      minReplicas: 12,
    });
    assert.deepEqual(
      [flagged.cpu, flagged.memory, flagged.targetInFlight, flagged.maxReplicas],
      ['500m', '512Mi', 9, 12],
    );
  });

  it('refuses what would make invalid manifests, or put a credential in a ConfigMap', () => {
    const refused = (flags: Parameters<typeof resolveDeployOptions>[1], said: RegExp) =>
      assert.throws(
        () => resolveDeployOptions(manifest(), flags),
        (err: unknown) => err instanceof DeployError && said.test(err.message),
      );
    refused({ env: { MLFLOW_TRACKING_TOKEN: 't' } }, /MLFLOW_TRACKING_TOKEN is a credential/);
    refused(
      { env: { AWS_ACCESS_KEY_ID: 'k', MLFLOW_TRACKING_PASSWORD: 'p' } },
      /AWS_ACCESS_KEY_ID, MLFLOW_TRACKING_PASSWORD are credentials/,
    );
    refused({ targetCpuPercent: 150 }, /at most 100/);
    refused({ namespace: 'Prod' }, /namespace "Prod" is not a Kubernetes name/);
    refused({ cpu: '1.2345' }, /not a CPU quantity/);
    assert.doesNotThrow(() =>
      resolveDeployOptions(manifest(), {
        env: { MLFLOW_TRACKING_URI: 'http://mlflow:5000', MODEL_NAME: 'vision-model' },
      }),
    );
  });

  it('splits an image into name and tag, past a registry port', () => {
    assert.deepEqual(splitImage('registry:5000/ml/classifier:1.0'), ['registry:5000/ml/classifier', '1.0']);
    assert.deepEqual(splitImage('registry:5000/ml/classifier'), ['registry:5000/ml/classifier', undefined]);
    assert.deepEqual(splitImage('classifier'), ['classifier', undefined]);
    assert.deepEqual(imageParts('reg/c@sha256:ab'), { name: 'reg/c', digest: 'sha256:ab' });
  });

  it('pulls an image named by tag or digest once, and one with no tag or :latest every time', () => {
    const policy = (image: string) => bentoContainer(resolveDeployOptions(manifest(), { image })).imagePullPolicy;
    assert.equal(policy('registry:5000/ml/classifier:1.0'), 'IfNotPresent');
    assert.equal(policy('registry:5000/ml/classifier@sha256:ab'), 'IfNotPresent');
    assert.equal(policy('registry:5000/ml/classifier'), 'Always', 'a registry port is not a tag');
    assert.equal(policy('classifier:latest'), 'Always');
  });
});

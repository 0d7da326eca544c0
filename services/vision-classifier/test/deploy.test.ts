/**
 * `bento deploy k8s|kserve` on a real bento of this service: every object kustomize builds from the written base,
 * and the `-o -` stream, must pass kubeconform in strict mode against the Kubernetes and CRD schemas; and what the
 * manifests promise of the pod (probe routes, metrics path, the HPA's metric, the user id) must be true of the
 * bento itself, served for real.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { freePort, runBento } from './helpers.js';
import { kubeconform, kustomizeBuild } from './kubeconform.js';

interface Probe {
  httpGet: { path: string };
}

interface Container {
  name: string;
  image: string;
  resources: unknown;
  envFrom: unknown;
  startupProbe: Probe;
  livenessProbe: Probe;
  readinessProbe: Probe;
  lifecycle: { preStop: { exec: { command: string[] } } };
}

/** The fields these tests read, of every kind's spec (Deployment, HorizontalPodAutoscaler, Service, InferenceService), as the k8s target writes them. */
interface Spec {
  replicas?: number;
  selector: { matchLabels?: Record<string, string> };
  template: {
    metadata: { annotations: Record<string, string> };
    spec: {
      containers: Container[];
      securityContext: { runAsNonRoot: boolean; runAsUser: number };
      terminationGracePeriodSeconds: number;
    };
  };
  metrics: Array<{ type: string; pods: { metric: { name: string } } }>;
  scaleTargetRef: unknown;
  predictor: { containers: Container[]; scaleMetric?: string };
}

type Obj = {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: Spec;
  data?: Record<string, string>;
};
const objects = (yaml: string) =>
  parseAllDocuments(yaml)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
const byKind = (list: Obj[], kind: string) => list.find((o) => o.kind === kind)!;

describe('bento deploy', { timeout: 300_000 }, () => {
  const home = mkdtempSync(join(tmpdir(), 'bento-deploy-'));
  const out = mkdtempSync(join(tmpdir(), 'bento-deploy-out-'));
  const env = { BENTO_HOME: home };
  const tag = 'mlflow_vision_classifier:k8s';

  before(async () => {
    const built = await runBento(['build', '--version', 'k8s', '-o', 'tag'], env);
    assert.equal(built.code, 0, built.stderr);
  });
  after(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  it('k8s: a kustomize base whose every object is valid against the Kubernetes schemas', async () => {
    const dir = join(out, 'k8s');
    const args = [
      'deploy',
      'k8s',
      tag,
      '-o',
      dir,
      '--image',
      'registry.example.com/ml/classifier:1.0',
      '-n',
      'ml',
      '--env',
      'MLFLOW_TRACKING_URI=http://mlflow:5000',
      '--service-monitor',
    ];
    const run = await runBento(args, env);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(readdirSync(dir).sort(), [
      'configmap.yaml',
      'deployment.yaml',
      'grafana-dashboard.json',
      'grafana-dashboard.yaml',
      'hpa.yaml',
      'kustomization.yaml',
      'pdb.yaml',
      'prometheus-adapter-rules.yaml',
      'service.yaml',
      'servicemonitor.yaml',
    ]);
    const built = kustomizeBuild(dir);
    const validation = kubeconform(built);
    assert.equal(validation.code, 0, JSON.stringify(validation.resources.filter((r) => r.status !== 'statusValid')));
    assert.deepEqual(validation.summary, { valid: 7, invalid: 0, errors: 0, skipped: 0 });
    assert.deepEqual(validation.resources.map((r) => r.kind).sort(), [
      'ConfigMap',
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'Service',
      'ServiceMonitor',
    ]);

    const list = objects(built);
    assert.ok(list.every((o) => o.metadata.namespace === 'ml'));
    const pod = byKind(list, 'Deployment').spec.template.spec;
    const container = pod.containers[0];
    assert.equal(container.image, 'registry.example.com/ml/classifier:1.0');
    assert.equal(byKind(list, 'Deployment').spec.replicas, undefined, 'the HPA owns the replica count');
    assert.deepEqual(container.resources, { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '1Gi' } });
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.terminationGracePeriodSeconds > 30, 'the grace period covers the pre-stop delay and the drain');
    const settings = list.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-config'))!;
    assert.deepEqual(settings.data, { MLFLOW_TRACKING_URI: 'http://mlflow:5000' });
    // The dashboard, as a file to import and in a ConfigMap Grafana's sidecar finds by its label.
    const dashboard = JSON.parse(readFileSync(join(dir, 'grafana-dashboard.json'), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const sidecar = list.find((o) => o.metadata.name.endsWith('-grafana-dashboard'))!;
    assert.equal(sidecar.metadata.labels?.grafana_dashboard, '1');
    assert.deepEqual(JSON.parse(Object.values(sidecar.data!)[0]), dashboard);
    assert.deepEqual(
      dashboard.panels.map((p) => p.title),
      [
        'Requests per second, by route',
        'Error ratio',
        'Latency of predictions (POST)',
        'Mean batch size',
        'Items queued for a batch',
        'Requests in flight, by pod',
        'Model served: pods per version',
      ],
    );
    const dashboardMetrics = new Set(
      dashboard.panels.flatMap((p) =>
        p.targets.flatMap((t) => [...t.expr.matchAll(/\b(bento_[a-z_]+)\{/g)].map((m) => m[1])),
      ),
    );
    // Settings from the ConfigMap, credentials from a Secret the user creates (optional, so the pod starts without one).
    assert.deepEqual(container.envFrom, [
      { configMapRef: { name: settings.metadata.name } },
      { secretRef: { name: 'mlflow-vision-classifier-secrets', optional: true } },
    ]);
    const hpa = byKind(list, 'HorizontalPodAutoscaler').spec;
    assert.deepEqual(
      hpa.metrics.map((m: { type: string }) => m.type),
      ['Resource', 'Pods'],
    );
    assert.deepEqual(hpa.scaleTargetRef, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'mlflow-vision-classifier',
    });
    assert.deepEqual(byKind(list, 'Service').spec.selector, byKind(list, 'Deployment').spec.selector.matchLabels);

    // The image's user is the one the pod runs as.
    const bentoDir = (await runBento(['get', tag, '-o', 'path'], env)).stdout.trim();
    const uid = /ARG BENTO_UID=(\d+)/.exec(readFileSync(join(bentoDir, 'env', 'docker', 'Dockerfile'), 'utf8'))![1];
    assert.equal(pod.securityContext.runAsUser, Number(uid));

    // What the pod is probed and scraped on, and the metric the HPA asks the adapter for, as the bento serves them.
    const port = await freePort();
    let served = false;
    await runBento(
      ['serve', tag, '--port', String(port), '--host', '127.0.0.1'],
      env,
      /Health: GET /,
      async () => {
        const base = `http://127.0.0.1:${port}`;
        for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
          const res = await fetch(`${base}${probe.httpGet.path}`);
          assert.equal(res.status, 200, probe.httpGet.path);
        }
        const template = byKind(list, 'Deployment').spec.template.metadata.annotations;
        const metrics = await (await fetch(`${base}${template['prometheus.io/path']}`)).text();
        const metric = hpa.metrics[1].pods.metric.name;
        assert.match(metrics, new RegExp(`^# TYPE ${metric} gauge$`, 'm'));
        const rules = readFileSync(join(dir, 'prometheus-adapter-rules.yaml'), 'utf8');
        assert.ok(rules.includes(`seriesQuery: ${metric}{`), 'the adapter rule serves the metric the HPA names');
        // Every series the dashboard queries is one the bento exports (a histogram's by its _bucket, _sum, _count).
        for (const series of dashboardMetrics) {
          const family = series.replace(/_(bucket|sum|count)$/, '');
          assert.match(metrics, new RegExp(`^# TYPE ${family} `, 'm'), series);
        }
        served = true;
      },
      undefined,
      120_000,
    );
    assert.ok(served, 'the bento was served and checked');

    // The pre-stop hook runs with what the image has (node) and returns after its delay.
    const [cmd, ...cmdArgs] = container.lifecycle.preStop.exec.command;
    const t0 = Date.now();
    execFileSync(cmd === 'node' ? process.execPath : cmd, cmdArgs);
    assert.ok(Date.now() - t0 >= 4_900);
  });

  it('k8s -o -: one YAML stream, valid as it is; kubeconform refuses a broken one', async () => {
    const run = await runBento(['deploy', 'k8s', tag, '-o', '-'], env);
    assert.equal(run.code, 0, run.stderr);
    const validation = kubeconform(run.stdout);
    assert.deepEqual(validation.summary, { valid: 6, invalid: 0, errors: 0, skipped: 0 });
    // The validator can fail: a port as a string and an unknown field are each reported.
    const broken = kubeconform(
      run.stdout
        .replace('containerPort: 3000', 'containerPort: "3000"')
        .replace('maxUnavailable: 1', 'maxUnavailabel: 1'),
    );
    assert.equal(broken.summary.invalid, 2, JSON.stringify(broken.resources));
    assert.notEqual(broken.code, 0);
  });

  it('kserve: an InferenceService valid against the KServe CRD, in both deployment modes', async () => {
    for (const mode of ['Serverless', 'RawDeployment']) {
      const dir = join(out, `kserve-${mode}`);
      const run = await runBento(
        ['deploy', 'kserve', tag, '-o', dir, '--mode', mode, '--image', 'registry.example.com/ml/classifier:1.0'],
        env,
      );
      assert.equal(run.code, 0, run.stderr);
      const built = kustomizeBuild(dir);
      const validation = kubeconform(built);
      assert.deepEqual(
        validation.summary,
        { valid: 2, invalid: 0, errors: 0, skipped: 0 },
        JSON.stringify(validation.resources),
      );
      const isvc = byKind(objects(built), 'InferenceService');
      const predictor = isvc.spec.predictor;
      assert.equal(predictor.containers[0].name, 'kserve-container');
      assert.equal(predictor.containers[0].image, 'registry.example.com/ml/classifier:1.0');
      assert.equal(predictor.containers[0].startupProbe, undefined, 'Knative refuses startup probes');
      assert.equal(predictor.scaleMetric, mode === 'Serverless' ? 'concurrency' : 'cpu');
    }
    const bad = await runBento(['deploy', 'kserve', tag, '-o', '-', '--mode', 'Knative'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /INVALID_INPUT.*--mode Knative is not one of Serverless, RawDeployment/);
  });

  it('refuses credentials in the ConfigMap, and bad names and quantities, writing nothing', async () => {
    const secret = 'hunter2-do-not-print';
    const dir = join(out, 'refused');
    const cases: Array<[string[], RegExp]> = [
      [
        ['--env', `MLFLOW_TRACKING_PASSWORD=${secret}`],
        /DEPLOY_ERROR.*MLFLOW_TRACKING_PASSWORD is a credential.*kubectl create secret generic mlflow-vision-classifier-secrets/,
      ],
      [['--env', `AWS_SECRET_ACCESS_KEY=${secret}`], /DEPLOY_ERROR.*AWS_SECRET_ACCESS_KEY is a credential/],
      [['--name', 'Not_A_Name'], /DEPLOY_ERROR.*"Not_A_Name" is not a Kubernetes name/],
      [['--cpu', 'lots'], /DEPLOY_ERROR.*cpu "lots" is not a CPU quantity/],
      [['--memory', '1GB'], /DEPLOY_ERROR.*memory "1GB" is not a memory quantity/],
      [['--min-replicas', '5', '--max-replicas', '2'], /DEPLOY_ERROR.*max replicas \(2\) is below min replicas \(5\)/],
      [['--env', 'NOEQUALS'], /INVALID_INPUT.*--env NOEQUALS: expected key=value/],
    ];
    for (const [extra, said] of cases) {
      const run = await runBento(['deploy', 'k8s', tag, '-o', dir, ...extra], env);
      assert.equal(run.code, 2, extra.join(' '));
      assert.match(run.stderr, said);
      assert.ok(!run.stderr.includes(secret) && !run.stdout.includes(secret), 'the secret is not echoed');
      assert.equal(existsSync(dir), false);
    }
    const missing = await runBento(['deploy', 'k8s', 'no_such_bento:1', '-o', dir], env);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /BENTO_NOT_FOUND/);
  });
});

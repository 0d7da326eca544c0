/**
 * The bundled bento on a real Kubernetes node: the single-node cluster infra/k8s.sh builds from source here
 * (`make k8s-up`; `make test-k8s` runs this file). Two versions of the bento are built and containerized with
 * buildah, loaded into the node's containerd, deployed with `bento deploy k8s` and `kubectl apply -k`, then rolled,
 * scaled and drained under load. Every request goes to 127.0.0.1 inside the cluster's network namespace (a
 * NodePort), from processes started there by `infra/k8s.sh exec`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  BUILDAH_STORAGE,
  LOAD_GENERATOR,
  REPO_ROOT,
  SAMPLES_DIR,
  baseImage,
  containerize,
  runBento,
  uploadFile,
} from '../helpers.js';

const K8S = join(REPO_ROOT, 'infra', 'k8s.sh');
const NAMESPACE = 'bento-e2e';
const NAME = 'mlflow-vision-classifier';
const NODE_PORT = 30080;
const BASE = `http://127.0.0.1:${NODE_PORT}`;
const PROMETHEUS = 'http://127.0.0.1:9090/api/v1/query';
const image = (version: string) => `localhost/bento-ts-test/classifier:${version}`;
const VERSIONS = ['k8s1', 'k8s2'];

const k8s = (args: string[], input?: string): string =>
  execFileSync(K8S, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).trim();
const kubectl = (...args: string[]) => k8s(['kubectl', ...args]);
const inNamespace = (...args: string[]) => kubectl('-n', NAMESPACE, ...args);
const json = <T>(...args: string[]): T => JSON.parse(inNamespace(...args, '-o', 'json')) as T;

/** curl inside the cluster's network namespace: the status and the body. */
function curl(path: string, ...extra: string[]): { status: number; body: string } {
  const out = k8s(['exec', 'curl', '-sS', '--max-time', '30', '-w', '\n%{http_code}', ...extra, `${BASE}${path}`]);
  const cut = out.lastIndexOf('\n');
  return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

interface Pod {
  metadata: { name: string; labels: Record<string, string>; deletionTimestamp?: string };
  spec: { containers: Array<{ image: string; readinessProbe: { httpGet: { path: string } } }> };
  status: { phase: string; conditions?: Array<{ type: string; status: string }> };
}
const ready = (p: Pod) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const servingPods = () =>
  json<{ items: Pod[] }>('get', 'pods', '-l', `app.kubernetes.io/name=${NAME}`).items.filter(
    (p) => !p.metadata.deletionTimestamp,
  );

interface LoadSummary {
  sent: number;
  statuses: Record<string, number>;
  errors: number;
  failed: Record<string, unknown>;
  p50_ms: number;
  p99_ms: number;
}

/** Open-loop load at `rate` requests/s for `seconds`, from inside the cluster's namespace, through the NodePort. */
async function underLoad(rate: number, seconds: number, during: () => Promise<void>): Promise<LoadSummary> {
  const { file, type } = await uploadFile('ankle_boot.png', 'image/png');
  const load: ChildProcess = spawn(
    K8S,
    [
      'exec',
      process.execPath,
      LOAD_GENERATOR,
      `${BASE}/predict_image`,
      String(rate),
      String(seconds),
      type,
      file,
      '--summary',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  load.stdout!.on('data', (d: Buffer) => (out += String(d)));
  const ended = new Promise<number | null>((resolve) => load.once('exit', resolve));
  await new Promise((r) => setTimeout(r, 3000));
  await during();
  const code = await ended;
  assert.equal(code, 0, `the load generator exited with ${code}: ${out}`);
  return JSON.parse(out) as LoadSummary;
}

function report(what: string, s: LoadSummary, extra = ''): void {
  process.stdout.write(
    `# ${what}: ${s.sent} requests, statuses ${JSON.stringify(s.statuses)}, ${s.errors} without an answer, p50 ${s.p50_ms} ms, p99 ${s.p99_ms} ms${extra}\n`,
  );
}

describe('bento-ts on a Kubernetes node', { timeout: 3_600_000 }, () => {
  const home = mkdtempSync(join(tmpdir(), 'bento-k8s-'));
  const env = { BENTO_HOME: home, BUILDAH_ISOLATION: 'chroot' };
  const deployDir = join(home, 'deploy');
  const base = join(deployDir, 'base');
  const overlay = join(deployDir, 'nodeport');

  /** `bento deploy k8s` for one version into deploy/base, small enough that a surge pod fits beside two replicas. */
  async function deploy(version: string): Promise<void> {
    const run = await runBento(
      [
        'deploy',
        'k8s',
        `mlflow_vision_classifier:${version}`,
        '--image',
        image(version),
        '-n',
        NAMESPACE,
        '--min-replicas',
        '1',
        '--max-replicas',
        '3',
        '--cpu',
        '250m',
        '--memory',
        '768Mi',
        '-o',
        base,
      ],
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    kubectl('apply', '-k', overlay);
  }

  before(async () => {
    const node = kubectl('get', 'node', 'bento-node', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}');
    assert.equal(node, 'True', 'the node is Ready (make k8s-up)');
    const fromImage = baseImage();
    for (const version of VERSIONS) {
      const built = await runBento(['build', '--version', version, '-o', 'tag'], env);
      assert.equal(built.code, 0, built.stderr);
      const run = await containerize(`mlflow_vision_classifier:${version}`, image(version), fromImage, env);
      assert.equal(run.code, 0, run.stderr.slice(-3000));
      k8s(['load-image', image(version)]);
    }
    kubectl('create', 'namespace', NAMESPACE);
    mkdirSync(overlay, { recursive: true });
    // The Service as written (ClusterIP), made reachable from the node's loopback for the test.
    writeFileSync(
      join(overlay, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'resources: [../base]',
        'patches:',
        '  - target: { kind: Service }',
        '    patch: |-',
        '      - { op: replace, path: /spec/type, value: NodePort }',
        `      - { op: add, path: /spec/ports/0/nodePort, value: ${NODE_PORT} }`,
        '',
      ].join('\n'),
    );
  });

  after(() => {
    try {
      kubectl('delete', 'namespace', NAMESPACE, '--wait=true', '--timeout=120s');
    } catch {
      // never created
    }
    for (const version of VERSIONS) {
      try {
        k8s(['unload-image', image(version)]);
      } catch {
        // not loaded
      }
      try {
        execFileSync('buildah', [...BUILDAH_STORAGE, 'rmi', image(version)], { stdio: 'ignore' });
      } catch {
        // not built
      }
    }
    rmSync(home, { recursive: true, force: true });
  });

  it('deploys the bento: the pod becomes Ready through /readyz and the reference API answers through the Service', async () => {
    const started = Date.now();
    await deploy(VERSIONS[0]);
    inNamespace('rollout', 'status', `deployment/${NAME}`, '--timeout=300s');
    process.stdout.write(
      `# time to a Ready pod after kubectl apply: ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    const [pod] = servingPods();
    assert.ok(pod && ready(pod));
    assert.equal(pod.spec.containers[0].readinessProbe.httpGet.path, '/readyz');
    assert.equal(pod.spec.containers[0].image, image(VERSIONS[0]));

    const health = curl('/health');
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'healthy', service: 'mlflow_vision_classifier' });
    const info = curl('/get_model_info');
    assert.equal(info.status, 200);
    assert.equal((JSON.parse(info.body) as { num_classes: number }).num_classes, 10);
    const predicted = curl('/predict_image', '-F', `image=@${join(SAMPLES_DIR, 'trouser.jpg')};type=image/jpeg`);
    assert.equal(predicted.status, 200, predicted.body);
    assert.equal((JSON.parse(predicted.body) as { predicted_class: string }).predicted_class, 'Trouser');
    const text = join(home, 'not-an-image.jpg');
    writeFileSync(text, 'hello, I am not a picture');
    const bad = curl('/predict_image', '-F', `image=@${text};type=image/jpeg`);
    assert.equal(bad.status, 415, bad.body);
    assert.equal((JSON.parse(bad.body) as { error: { code: string } }).error.code, 'UNSUPPORTED_IMAGE_FORMAT');
  });

  it('scales to two replicas, and the Service sends requests to both', async () => {
    inNamespace('scale', `deployment/${NAME}`, '--replicas', '2');
    inNamespace('rollout', 'status', `deployment/${NAME}`, '--timeout=300s');
    const pods = servingPods();
    assert.equal(pods.filter(ready).length, 2);
    const served = (pod: string) =>
      Number(
        /^bento_http_requests_total\{[^}]*route="\/health"[^}]*\} (\d+)/m.exec(
          inNamespace(
            'exec',
            pod,
            '--',
            'node',
            '-e',
            "fetch('http://127.0.0.1:3000/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
          ),
        )?.[1] ?? 0,
      );
    const before = pods.map((p) => served(p.metadata.name));
    // A new connection each time: kube-proxy picks a pod per connection.
    for (let i = 0; i < 24; i++) assert.equal(curl('/health', '-H', 'connection: close').status, 200);
    const gained = pods.map((p, i) => served(p.metadata.name) - before[i]);
    process.stdout.write(`# /health requests per pod through the Service: ${gained.join(', ')}\n`);
    assert.ok(
      gained.every((n) => n > 0),
      `both pods answered: ${gained.join(', ')}`,
    );
  });

  it('rolls to a second bento version under steady load with no failed request', async () => {
    let rolled = 0;
    const summary = await underLoad(20, 75, async () => {
      const started = Date.now();
      await deploy(VERSIONS[1]);
      inNamespace('rollout', 'status', `deployment/${NAME}`, '--timeout=300s');
      rolled = (Date.now() - started) / 1000;
    });
    report('rolling update under 20 requests/s', summary, `, rollout took ${rolled.toFixed(1)} s`);
    const pods = await until('the old pods gone', () => {
      const now = json<{ items: Pod[] }>('get', 'pods', '-l', `app.kubernetes.io/name=${NAME}`).items;
      return now.length === 2 ? now : undefined;
    });
    assert.deepEqual(
      pods.map((p) => p.metadata.labels['app.kubernetes.io/version']),
      [VERSIONS[1], VERSIONS[1]],
    );
    assert.equal(summary.errors, 0, JSON.stringify(summary.failed));
    assert.deepEqual(Object.keys(summary.statuses), ['200'], JSON.stringify(summary.statuses));
  });

  it('deletes a pod under load: preStop and SIGTERM drain it with no failed request', async () => {
    const [victim] = servingPods();
    const summary = await underLoad(20, 40, async () => {
      inNamespace('delete', 'pod', victim.metadata.name, '--wait=true');
      inNamespace('rollout', 'status', `deployment/${NAME}`, '--timeout=300s');
    });
    report('pod deleted under 20 requests/s', summary);
    assert.equal(summary.errors, 0, JSON.stringify(summary.failed));
    assert.deepEqual(Object.keys(summary.statuses), ['200'], JSON.stringify(summary.statuses));
    await until('two Ready replicas again', () => servingPods().filter(ready).length === 2 || undefined);
  });

  it("Prometheus scrapes the pods it discovers; every query of the Grafana dashboard and the adapter's rule return data", async () => {
    // Traffic within the last minute, scraped every 2 s by the Prometheus make k8s-up runs (infra/k8s.sh).
    const load = await underLoad(20, 15, async () => undefined);
    assert.equal(load.errors, 0);
    await new Promise((r) => setTimeout(r, 5000));
    const query = (expr: string) => {
      const body = JSON.parse(
        k8s(['exec', 'curl', '-sS', '--max-time', '10', '--data-urlencode', `query=${expr}`, PROMETHEUS]),
      ) as {
        status: string;
        error?: string;
        data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      assert.equal(body.status, 'success', `${expr}: ${body.error}`);
      return body.data.result;
    };
    const scraped = await until(
      'both pods scraped',
      () => {
        const up = query(`up{namespace="${NAMESPACE}"} == 1`);
        return up.length === 2 ? up : undefined;
      },
      60_000,
    );
    assert.deepEqual(
      scraped.map((s) => s.metric.pod).sort(),
      servingPods()
        .map((p) => p.metadata.name)
        .sort(),
    );
    const dashboard = JSON.parse(readFileSync(join(base, 'grafana-dashboard.json'), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const answers: string[] = [];
    for (const panel of dashboard.panels)
      for (const target of panel.targets) {
        // Grafana's variables, as the dashboard's namespace picker and a 1-minute window would set them.
        const expr = target.expr.replaceAll('$namespace', NAMESPACE).replaceAll('$__rate_interval', '1m');
        const result = query(expr);
        assert.ok(result.length > 0, `${panel.title}: ${expr} returned no series`);
        answers.push(`${panel.title}: ${result.map((r) => Number(r.value[1]).toPrecision(3)).join(', ')}`);
      }
    process.stdout.write(`# dashboard queries on Prometheus:\n${answers.map((a) => `#   ${a}\n`).join('')}`);
    // The Prometheus adapter's rule for the HPA's in-flight metric, with the label matchers the adapter would fill in.
    const [rule] = (
      parse(readFileSync(join(base, 'prometheus-adapter-rules.yaml'), 'utf8')) as {
        rules: { custom: Array<{ seriesQuery: string; metricsQuery: string }> };
      }
    ).rules.custom;
    const series = JSON.parse(
      k8s([
        'exec',
        'curl',
        '-sS',
        '--data-urlencode',
        `match[]=${rule.seriesQuery}`,
        PROMETHEUS.replace('/query', '/series'),
      ]),
    ) as { data: unknown[] };
    assert.ok(series.data.length >= 2, `the rule's series query finds the pods' gauges: ${rule.seriesQuery}`);
    const perPod = query(
      rule.metricsQuery
        .replace('<<.Series>>', /^\w+/.exec(rule.seriesQuery)![0])
        .replace('<<.LabelMatchers>>', `namespace="${NAMESPACE}"`)
        .replace('<<.GroupBy>>', 'pod'),
    );
    assert.equal(perPod.length, 2, JSON.stringify(perPod));
  });

  it('the API server accepts the HPA and the PDB, and their status reads sensibly', async () => {
    interface Condition {
      type: string;
      status: string;
      reason: string;
      message: string;
    }
    const hpa = await until('the HPA to report', () => {
      const h = json<{
        spec: { minReplicas: number; maxReplicas: number };
        status: { currentReplicas?: number; conditions?: Condition[] };
      }>('get', 'hpa', NAME);
      return h.status.conditions?.length ? h : undefined;
    });
    assert.equal(hpa.spec.minReplicas, 1);
    assert.equal(hpa.spec.maxReplicas, 3);
    assert.equal(hpa.status.currentReplicas, 2);
    const able = hpa.status.conditions!.find((c) => c.type === 'AbleToScale');
    assert.equal(able?.status, 'True', JSON.stringify(hpa.status.conditions));
    // No metrics server or Prometheus adapter on this node: the HPA says so, and leaves the replicas alone.
    const active = hpa.status.conditions!.find((c) => c.type === 'ScalingActive');
    process.stdout.write(`# HPA: ${JSON.stringify(hpa.status.conditions!.map((c) => [c.type, c.status, c.reason]))}\n`);
    assert.ok(active, JSON.stringify(hpa.status.conditions));
    const pdb = await until('the PDB to count the pods', () => {
      const p = json<{ status: { expectedPods?: number; currentHealthy?: number; disruptionsAllowed?: number } }>(
        'get',
        'pdb',
        NAME,
      );
      return p.status.expectedPods === 2 ? p : undefined;
    });
    assert.equal(pdb.status.currentHealthy, 2);
    assert.ok((pdb.status.disruptionsAllowed ?? -1) >= 1, JSON.stringify(pdb.status));
  });

  it('the API server accepts the ServiceMonitor and both KServe InferenceServices once their CRDs are installed', async () => {
    // The CRDs make k8s-validate checks against (infra/k8s-tools.sh); no operator runs, so server-side dry runs.
    const crds = join(REPO_ROOT, '.stack-bin', 'k8s-schemas', 'crd-manifests');
    kubectl('apply', '--server-side', '-f', crds);
    // Established once the API server serves the new kind (its conditions appear a moment after the apply).
    for (const crd of ['servicemonitors.monitoring.coreos.com', 'inferenceservices.serving.kserve.io'])
      await until(`${crd} established`, () =>
        kubectl('get', 'crd', crd, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}') === 'True'
          ? true
          : undefined,
      );
    const manifests = async (target: string, ...flags: string[]) => {
      const run = await runBento(
        [
          'deploy',
          target,
          `mlflow_vision_classifier:${VERSIONS[1]}`,
          '--image',
          image(VERSIONS[1]),
          '-n',
          NAMESPACE,
          '-o',
          '-',
          ...flags,
        ],
        env,
      );
      assert.equal(run.code, 0, run.stderr);
      return run.stdout;
    };
    const dryRun = (yaml: string) => k8s(['kubectl', 'apply', '--server-side', '--dry-run=server', '-f', '-'], yaml);
    const monitored = dryRun(await manifests('k8s', '--service-monitor'));
    assert.match(
      monitored,
      new RegExp(`servicemonitor.monitoring.coreos.com/${NAME} serverside-applied \\(server dry run\\)`),
    );
    for (const mode of ['Serverless', 'RawDeployment']) {
      const applied = dryRun(await manifests('kserve', '--mode', mode));
      assert.match(applied, /inferenceservice\.serving\.kserve\.io\/\S+ serverside-applied \(server dry run\)/, mode);
    }
  });
});

/**
 * Metrics (checked with Prometheus's own parser), probes, request IDs, the
 * access log and graceful shutdown, on the real server.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BENTO, REPO_ROOT, multipart, runBento, sample, serviceForTests } from './helpers.js';

interface Family {
  name: string;
  type: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

/** Parses a Prometheus text exposition with prometheus_client's parser (the reference implementation). */
function parseExposition(text: string): Map<string, Family> {
  const script = [
    'import json, sys',
    'from prometheus_client.parser import text_string_to_metric_families',
    'out = [{"name": f.name, "type": f.type, "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]} for f in text_string_to_metric_families(sys.stdin.read())]',
    'print(json.dumps(out))',
  ].join('\n');
  const json = execFileSync(join(REPO_ROOT, '.venv', 'bin', 'python'), ['-c', script], { input: text, encoding: 'utf8' });
  return new Map((JSON.parse(json) as Family[]).map((f) => [f.name, f]));
}

function value(families: Map<string, Family>, sample: string, labels: Record<string, string>): number | undefined {
  const family = families.get(sample.replace(/_(total|count|sum|bucket)$/, '')) ?? families.get(sample);
  return family?.samples.find((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('metrics, probes and request IDs', () => {
  const svc = serviceForTests();

  it('exposes Prometheus metrics for requests, batches, inference and the model', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${svc.url}/predict_image`, { method: 'POST', body: multipart('image', sample('ankle_boot.png'), 'a.png', 'image/png') });
      assert.equal(res.status, 200);
    }
    assert.equal((await fetch(`${svc.url}/predict_batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: sample('batch_4.json') })).status, 200);
    assert.equal((await fetch(`${svc.url}/predict_image`, { method: 'POST', body: multipart('image', Buffer.from('not an image'), 'x.png', 'image/png') })).status, 415);
    assert.equal((await fetch(`${svc.url}/no/such/route/123`)).status, 404);
    const res = await fetch(`${svc.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const m = parseExposition(await res.text());
    const predict = { route: '/predict_image', method: 'POST' };
    assert.equal(value(m, 'bento_http_requests_total', { ...predict, status: '200' }), 5);
    assert.equal(value(m, 'bento_http_requests_total', { ...predict, status: '415' }), 1);
    // The raw URL never becomes a label: unmatched routes share one.
    assert.equal(value(m, 'bento_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' }), 1);
    assert.equal(value(m, 'bento_http_request_duration_seconds_count', { ...predict, status: '200' }), 5);
    assert.ok(value(m, 'bento_http_request_duration_seconds_sum', { ...predict, status: '200' })! > 0);
    assert.equal(value(m, 'bento_http_requests_in_flight', { route: '/predict_image' }), 0);
    const runner = { runner: 'vision_model_runner', method: 'classify' };
    // Five single images and one batch of four: nine items in six batches, when none were merged.
    assert.equal(value(m, 'bento_runner_batch_size_sum', runner), 9);
    assert.equal(value(m, 'bento_runner_batch_size_count', runner), 6);
    assert.equal(value(m, 'bento_runner_queue_wait_seconds_count', runner), 6);
    assert.equal(value(m, 'bento_runner_inference_seconds_count', runner), 6);
    assert.equal(m.get('bento_runner_batch_size')!.type, 'histogram');
    assert.ok(value(m, 'bento_model_load_seconds', { runner: 'vision_model_runner' })! > 0);
    const info = m.get('bento_model_info')!.samples[0]!;
    assert.deepEqual({ ...info.labels, version: 'v' }, { runner: 'vision_model_runner', name: 'model', version: 'v', format: 'onnx', backend: info.labels.backend!, device: 'cpu' });
    assert.match(info.labels.backend!, /^onnxruntime-node /);
    for (const processMetric of ['process_cpu_user_seconds', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      assert.ok(m.has(processMetric), processMetric);
    }
  });

  it('answers the probes', async () => {
    assert.deepEqual(await (await fetch(`${svc.url}/livez`)).json(), { status: 'live' });
    assert.deepEqual(await (await fetch(`${svc.url}/readyz`)).json(), { status: 'ready' });
    assert.deepEqual(await (await fetch(`${svc.url}/healthz`)).json(), { status: 'ready' });
    // The seed's /health is the service's own API, unchanged.
    assert.deepEqual(await (await fetch(`${svc.url}/health`)).json(), { status: 'healthy', service: 'mlflow_vision_classifier' });
  });

  it('returns the client\'s X-Request-ID, or one of its own, on every response', async () => {
    const given = await fetch(`${svc.url}/health`, { headers: { 'x-request-id': 'trace-abc-123' } });
    assert.equal(given.headers.get('x-request-id'), 'trace-abc-123');
    const refused = await fetch(`${svc.url}/predict_image`, { method: 'POST', headers: { 'x-request-id': 'bad-1' }, body: 'x' });
    assert.equal(refused.headers.get('x-request-id'), 'bad-1');
    const a = (await fetch(`${svc.url}/health`)).headers.get('x-request-id');
    const b = (await fetch(`${svc.url}/nope`)).headers.get('x-request-id');
    assert.ok(a && b && a !== b, `${a} ${b}`);
  });
});

describe('logs and graceful shutdown (bento serve)', () => {
  it('writes one JSON access-log line per request with its request ID, leaving out probes', async () => {
    const run = await runBento(['serve', '.', '--port', '0', '--host', '127.0.0.1'], { BENTO_LOG_LEVEL: 'info', BENTO_LOG_FORMAT: 'json' }, /Health: GET (\S+)\/health/, async (stdout) => {
      const base = /Health: GET (\S+)\/health/.exec(stdout)![1]!;
      await fetch(`${base}/health`);
      await fetch(`${base}/readyz`);
      const res = await fetch(`${base}/predict_image`, { method: 'POST', headers: { 'x-request-id': 'req-log-1' }, body: multipart('image', sample('trouser.jpg'), 't.jpg', 'image/jpeg') });
      assert.equal(res.status, 200);
      await new Promise((r) => setTimeout(r, 100));
    });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const access = lines.filter((l) => l.msg === 'request');
    assert.equal(access.length, 1, JSON.stringify(access));
    assert.deepEqual({ ...access[0], time: 0, pid: 0, hostname: '', ms: 0, bytes: 0 }, {
      level: 30,
      time: 0,
      pid: 0,
      hostname: '',
      reqId: 'req-log-1',
      method: 'POST',
      route: '/predict_image',
      url: '/predict_image',
      status: 200,
      ms: 0,
      bytes: 0,
      msg: 'request',
    });
    assert.ok((access[0]!.bytes as number) > 100 && (access[0]!.ms as number) > 0);
  });

  it('on SIGTERM finishes the requests in flight, then exits 0', async () => {
    const child = spawn(process.execPath, [BENTO, 'serve', '.', '--port', '0', '--host', '127.0.0.1'], { cwd: REPO_ROOT, env: { ...process.env, BENTO_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const base = await new Promise<string>((resolve, reject) => {
      const poll = setInterval(() => {
        const m = /Health: GET (\S+)\/health/.exec(stdout);
        if (m) resolve(m[1]!), clearInterval(poll);
      }, 50);
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    const { port } = new URL(base);
    // Eight uploads, each with half of its body sent: in flight until the rest comes.
    const form = multipart('image', sample('trouser.jpg'), 't.jpg', 'image/jpeg');
    const encoded = new Response(form);
    const type = encoded.headers.get('content-type')!;
    const body = Buffer.from(await encoded.arrayBuffer());
    const half = Math.floor(body.length / 2);
    const pending = Array.from({ length: 8 }, () => {
      let finish!: () => void;
      const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/predict_image', method: 'POST', headers: { 'content-type': type, 'content-length': body.length } }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('error', reject);
        req.write(body.subarray(0, half));
        finish = () => req.end(body.subarray(half));
      });
      return { done, finish: () => finish() };
    });
    // Wait until the server counts all eight in flight, then ask it to stop.
    for (;;) {
      const text = await (await fetch(`${base}/metrics`)).text();
      if (/bento_http_requests_in_flight\{route="\/predict_image"\} 8/.test(text)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    // Not accepting any more.
    await assert.rejects(fetch(`${base}/health`));
    for (const p of pending) p.finish();
    const results = await Promise.all(pending.map((p) => p.done));
    for (const r of results) {
      assert.equal(r.status, 200, r.body);
      assert.equal((JSON.parse(r.body) as { predicted_class: string }).predicted_class, 'Trouser');
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM received: finishing in-flight requests \(up to 30 s\), then stopping/);
  });
});

/**
 * Metrics (checked with Prometheus's own parser), probes, request IDs, the
 * access log and graceful shutdown, on the real server.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { multipart, runBento, sample, serviceForTests, sigtermUnderLoad } from './helpers.js';
import { parseExposition, value } from './prometheus.js';

describe('metrics, probes and request IDs', () => {
  const svc = serviceForTests();

  it('exposes Prometheus metrics for requests, batches, inference and the model', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${svc.url}/predict_image`, {
        method: 'POST',
        body: multipart('image', sample('ankle_boot.png'), 'a.png', 'image/png'),
      });
      assert.equal(res.status, 200);
    }
    assert.equal(
      (
        await fetch(`${svc.url}/predict_batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: sample('batch_4.json'),
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await fetch(`${svc.url}/predict_image`, {
          method: 'POST',
          body: multipart('image', Buffer.from('not an image'), 'x.png', 'image/png'),
        })
      ).status,
      415,
    );
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
    const info = m.get('bento_model_info')!.samples[0];
    assert.deepEqual(
      { ...info.labels, version: 'v' },
      {
        runner: 'vision_model_runner',
        name: 'model',
        version: 'v',
        format: 'onnx',
        backend: info.labels.backend,
        device: 'cpu',
      },
    );
    assert.match(info.labels.backend, /^onnxruntime-node /);
    for (const processMetric of [
      'process_cpu_user_seconds',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      assert.ok(m.has(processMetric), processMetric);
    }
  });

  it('answers the probes', async () => {
    assert.deepEqual(await (await fetch(`${svc.url}/livez`)).json(), { status: 'live' });
    assert.deepEqual(await (await fetch(`${svc.url}/readyz`)).json(), { status: 'ready' });
    assert.deepEqual(await (await fetch(`${svc.url}/healthz`)).json(), { status: 'ready' });
    // The seed's /health is the service's own API, unchanged.
    assert.deepEqual(await (await fetch(`${svc.url}/health`)).json(), {
      status: 'healthy',
      service: 'mlflow_vision_classifier',
    });
  });

  it("returns the client's X-Request-ID, or one of its own, on every response", async () => {
    const given = await fetch(`${svc.url}/health`, { headers: { 'x-request-id': 'trace-abc-123' } });
    assert.equal(given.headers.get('x-request-id'), 'trace-abc-123');
    const refused = await fetch(`${svc.url}/predict_image`, {
      method: 'POST',
      headers: { 'x-request-id': 'bad-1' },
      body: 'x',
    });
    assert.equal(refused.headers.get('x-request-id'), 'bad-1');
    const a = (await fetch(`${svc.url}/health`)).headers.get('x-request-id');
    const b = (await fetch(`${svc.url}/nope`)).headers.get('x-request-id');
    assert.ok(a && b && a !== b, `${a} ${b}`);
  });
});

describe('logs and graceful shutdown (bento serve)', () => {
  it('writes one JSON access-log line per request with its request ID, leaving out probes', async () => {
    const run = await runBento(
      ['serve', '.', '--port', '0', '--host', '127.0.0.1'],
      { BENTO_LOG_LEVEL: 'info', BENTO_LOG_FORMAT: 'json' },
      /Health: GET (\S+)\/health/,
      async (stdout) => {
        const base = /Health: GET (\S+)\/health/.exec(stdout)![1];
        await fetch(`${base}/health`);
        await fetch(`${base}/readyz`);
        const res = await fetch(`${base}/predict_image`, {
          method: 'POST',
          headers: { 'x-request-id': 'req-log-1' },
          body: multipart('image', sample('trouser.jpg'), 't.jpg', 'image/jpeg'),
        });
        assert.equal(res.status, 200);
        await new Promise((r) => setTimeout(r, 100));
      },
    );
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const access = lines.filter((l) => l.msg === 'request');
    assert.equal(access.length, 1, JSON.stringify(access));
    // Every JSON line names its level as a word, the server's (pino) and the start-up lines alike.
    const startup = run.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(startup.length > 0, run.stderr);
    assert.deepEqual([...new Set([...lines, ...startup].map((l) => typeof l.level))], ['string']);
    assert.deepEqual(
      { ...access[0], time: 0, pid: 0, hostname: '', ms: 0, bytes: 0 },
      {
        level: 'info',
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
      },
    );
    assert.ok((access[0].bytes as number) > 100 && (access[0].ms as number) > 0);
  });

  it('on SIGTERM finishes the requests in flight, then exits 0', async () => {
    await sigtermUnderLoad([], /SIGTERM received: finishing in-flight requests \(up to 30 s\), then stopping/);
  });
});

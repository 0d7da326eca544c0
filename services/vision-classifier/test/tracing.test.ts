/**
 * OpenTelemetry tracing against a real Jaeger v2 (OTLP/HTTP in, query API
 * out): spans continue the caller's trace, runner calls are child spans, the
 * spans still buffered at SIGTERM are delivered, and nothing is sent unless the
 * environment asks for it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { multipart, runBento, sample } from './helpers.js';
import { Jaeger, type JaegerSpan, type JaegerTrace, tag } from './jaeger.js';

const SERVE = ['serve', '.', '--port', '0', '--host', '127.0.0.1'];
const READY = /Health: GET (\S+)\/health/;
const baseOf = (stdout: string) => READY.exec(stdout)![1];

function upload(base: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/predict_image`, {
    method: 'POST',
    headers,
    body: multipart('image', sample('trouser.jpg'), 't.jpg', 'image/jpeg'),
  });
}

function only(trace: JaegerTrace, operation: string): JaegerSpan {
  const spans = trace.spans.filter((s) => s.operationName === operation);
  assert.equal(spans.length, 1, `${operation} in ${trace.spans.map((s) => s.operationName).join(', ')}`);
  return spans[0];
}

describe('OpenTelemetry tracing (OTLP to a real Jaeger)', { timeout: 180_000 }, () => {
  const jaeger = new Jaeger();
  before(() => jaeger.start());
  after(() => jaeger.stop());

  it("continues the caller's trace: a server span per request, a child span per runner call, flushed at shutdown", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';
    let requestId = '';
    const run = await runBento(
      SERVE,
      // Spans wait a minute in the batch processor: only the flush at shutdown can deliver them in time.
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
        OTEL_BSP_SCHEDULE_DELAY: '60000',
        BENTO_LOG_LEVEL: 'info',
        BENTO_LOG_FORMAT: 'json',
      },
      READY,
      async (stdout) => {
        const res = await upload(baseOf(stdout), {
          traceparent: `00-${traceId}-${parentId}-01`,
          'x-request-id': 'traced-1',
        });
        assert.equal(res.status, 200);
        requestId = res.headers.get('x-request-id')!;
      },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`tracing: spans go by OTLP http/protobuf to ${jaeger.otlpEndpoint}/v1/traces`));
    const trace = await jaeger.trace(traceId);
    assert.ok(trace, 'the trace reached Jaeger');
    const server = only(trace, 'POST /predict_image');
    assert.deepEqual(
      server.references.map((r) => [r.refType, r.spanID]),
      [['CHILD_OF', parentId]],
    );
    assert.equal(tag(server, 'span.kind'), 'server');
    assert.equal(tag(server, 'http.route'), '/predict_image');
    assert.equal(tag(server, 'http.request.method'), 'POST');
    assert.equal(tag(server, 'http.response.status_code'), 200);
    assert.equal(tag(server, 'bento.request_id'), requestId);
    const runner = only(trace, 'vision_model_runner.classify');
    assert.deepEqual(
      runner.references.map((r) => [r.refType, r.spanID]),
      [['CHILD_OF', server.spanID]],
    );
    assert.equal(tag(runner, 'bento.runner'), 'vision_model_runner');
    assert.equal(trace.processes[server.processID].serviceName, 'mlflow_vision_classifier');
    // The access-log line of the request names its trace.
    const access = run.stdout
      .split('\n')
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => JSON.parse(l) as { reqId: string; traceId?: string });
    assert.equal(access.find((l) => l.reqId === 'traced-1')?.traceId, traceId);
  });

  it('starts a trace of its own without traceparent, speaks OTLP/JSON, and takes OTEL_SERVICE_NAME', async () => {
    const run = await runBento(
      SERVE,
      {
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${jaeger.otlpEndpoint}/v1/traces`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'classifier-json',
      },
      READY,
      async (stdout) => {
        assert.equal((await upload(baseOf(stdout))).status, 200);
        const bad = await fetch(`${baseOf(stdout)}/predict_image`, {
          method: 'POST',
          body: multipart('image', Buffer.from('not an image'), 'x.png', 'image/png'),
        });
        assert.equal(bad.status, 415);
      },
    );
    assert.equal(run.code, 0, run.stderr);
    const traces = await jaeger.traces('classifier-json');
    const statuses = traces.map((t) => tag(only(t, 'POST /predict_image'), 'http.response.status_code')).sort();
    assert.deepEqual(statuses, [200, 415]);
    for (const t of traces) assert.equal(only(t, 'POST /predict_image').references.length, 0, 'a root span');
    // A client error is not a server fault.
    const refused = traces
      .map((t) => only(t, 'POST /predict_image'))
      .find((s) => tag(s, 'http.response.status_code') === 415)!;
    assert.notEqual(tag(refused, 'otel.status_code'), 'ERROR');
  });

  it('sends nothing when tracing is not asked for, or turned off', async () => {
    const cases: Array<Record<string, string>> = [
      { OTEL_SERVICE_NAME: 'untraced-default' },
      {
        OTEL_SERVICE_NAME: 'untraced-none',
        OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
        OTEL_TRACES_EXPORTER: 'none',
      },
      {
        OTEL_SERVICE_NAME: 'untraced-disabled',
        OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
        OTEL_SDK_DISABLED: 'true',
      },
    ];
    for (const env of cases) {
      const run = await runBento(SERVE, { ...env, BENTO_LOG_LEVEL: 'info' }, READY, async (stdout) => {
        assert.equal((await upload(baseOf(stdout))).status, 200);
      });
      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stderr, /tracing:/);
    }
    // Had tracing been on, the flush at shutdown would have delivered the spans by now.
    const services = await jaeger.services();
    assert.ok(!services.some((s) => s.startsWith('untraced')), services.join());
  });

  it('refuses an exporter protocol it cannot speak, saying what to use', async () => {
    const run = await runBento(SERVE, {
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    });
    assert.equal(run.code, 2, 'a configuration error: exit code 2');
    assert.match(run.stderr, /OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: .* use http\/protobuf/);
  });
});

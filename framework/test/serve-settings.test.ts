import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { ConfigError, ServiceDefinitionError } from '../src/errors.js';
import { tracesExporters } from '../src/observability/tracing.js';
import { serveWorkerCount } from '../src/server/cluster/primary.js';
import { service } from '../src/sdk/decorators/service.js';

describe('worker process count', () => {
  it('reads a count, a numeric string or cpu_count, and defaults to 1', () => {
    assert.equal(serveWorkerCount(undefined), 1);
    assert.equal(serveWorkerCount('3'), 3);
    assert.equal(serveWorkerCount(2), 2);
    assert.equal(serveWorkerCount(''), 1);
    assert.equal(serveWorkerCount('cpu_count'), availableParallelism());
  });

  it('refuses what is not a positive integer or cpu_count', () => {
    for (const bad of ['0', '-1', '1.5', 'many']) assert.throws(() => serveWorkerCount(bad), ConfigError, bad);
  });

  it('is checked where @service declares it', () => {
    assert.throws(() => service({ name: 'x', workers: 0 })(class X {}), ServiceDefinitionError);
    assert.throws(
      () => service({ name: 'x', workers: 'all' as 'cpu_count' })(class X {}),
      /workers must be a positive integer or "cpu_count"/,
    );
  });
});

describe('when tracing is on', () => {
  it('is off with no OpenTelemetry settings', () => {
    assert.deepEqual(tracesExporters({}), []);
  });

  it('is on with an OTLP endpoint, unless the exporter is none or the SDK disabled', () => {
    assert.deepEqual(tracesExporters({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), ['otlp']);
    assert.deepEqual(tracesExporters({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }), ['otlp']);
    assert.deepEqual(
      tracesExporters({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }),
      [],
    );
    assert.deepEqual(tracesExporters({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' }), []);
  });

  it('takes OTEL_TRACES_EXPORTER as a list, and refuses exporters it does not have', () => {
    assert.deepEqual(tracesExporters({ OTEL_TRACES_EXPORTER: 'console' }), ['console']);
    assert.deepEqual(tracesExporters({ OTEL_TRACES_EXPORTER: 'otlp, console,otlp' }), ['otlp', 'console']);
    assert.throws(
      () => tracesExporters({ OTEL_TRACES_EXPORTER: 'zipkin' }),
      /OTEL_TRACES_EXPORTER=zipkin is not supported/,
    );
  });
});

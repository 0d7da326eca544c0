/**
 * The service's effective definition is resolved once (definition/resolve-service.ts) from its decorators,
 * bento.yaml and the environment, and serving and building read that one object.
 */
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { type RunningServer, startServer } from '../src/index.js';
import { resolveService } from '../src/definition/resolve-service.js';
import { readSettings } from '../src/config/settings.js';
import { EchoRunnable, EchoService } from './fixtures/echo-service.js';
import { api, method, runnable, runner, service, type Runner, type Tensor } from '../src/index.js';

const serviceModule = fileURLToPath(new URL('./fixtures/echo-service.js', import.meta.url));
const plugin = fileURLToPath(new URL('./fixtures/echo-plugin.js', import.meta.url));

const double = (config: Parameters<typeof resolveService>[1], env: Record<string, string> = {}) =>
  resolveService(EchoService, config, readSettings(env)).runners[0].methods.find((m) => m.name === 'double')!;

describe('the resolved service definition', () => {
  it('derives the queue size from the batch size the method ends up with, wherever that was set', () => {
    // The decorator says maxBatchSize 8: the queue is the floor, 1024.
    assert.equal(double({}).maxQueueSize, 1024);
    // bento.yaml raises the batch size: the queue follows it (4 × 1000).
    const yaml = { runners: { echo_runner: { batching: { double: { maxBatchSize: 1000 } } } } };
    assert.deepEqual([double(yaml).maxBatchSize, double(yaml).maxQueueSize], [1000, 4000]);
    // The environment wins over bento.yaml, and the queue follows it too.
    const env = double(yaml, { BENTO_MAX_BATCH_SIZE: '2000', BENTO_MAX_LATENCY_MS: '40' });
    assert.deepEqual([env.maxBatchSize, env.maxLatencyMs, env.maxQueueSize], [2000, 40, 8000]);
    // A queue size someone set is kept.
    const set = { runners: { echo_runner: { batching: { double: { maxBatchSize: 1000, maxQueueSize: 1500 } } } } };
    assert.equal(double(set).maxQueueSize, 1500);
  });

  it('keeps a queue size the decorator sets, whatever the batch size becomes', () => {
    @runnable({ name: 'fixed', model: 'echo:0' })
    class Fixed {
      @method({ batchable: true, maxBatchSize: 4, maxQueueSize: 64 })
      async run(x: Tensor) {
        return x;
      }
    }
    @service({ name: 'fixed_service' })
    class FixedService {
      constructor(@runner(Fixed) readonly fixed: Runner<Fixed>) {}
      @api() async go() {}
    }
    const [resolved] = resolveService(FixedService, {}, readSettings({ BENTO_MAX_BATCH_SIZE: '512' })).runners[0]
      .methods;
    assert.deepEqual([resolved.maxBatchSize, resolved.maxQueueSize], [512, 64]);
  });

  it('applies bento.yaml traffic, API and runner overrides, and refuses names the service does not have', () => {
    const resolved = resolveService(EchoService, {
      traffic: { maxConcurrency: 7 },
      apis: { double: { traffic: { timeoutMs: 500 } } },
      runners: { echo_runner: { workers: 3 } },
    });
    assert.deepEqual(resolved.definition.traffic, { timeoutMs: 3000, maxConcurrency: 7 });
    assert.deepEqual(resolved.apis.find((a) => a.name === 'double')!.traffic, { timeoutMs: 500 });
    assert.equal(resolved.runners[0].definition.workers, 3);
    assert.equal(resolved.runners[0].cls, EchoRunnable);
    assert.throws(
      () => resolveService(EchoService, { apis: { dubble: {} } }),
      /bento\.yaml apis\.dubble: the service has no API "dubble"/,
    );
    assert.throws(
      () => resolveService(EchoService, { runners: { echo: {} } }),
      /bento\.yaml runners\.echo: the service has no runner "echo"/,
    );
    assert.throws(
      () => resolveService(EchoService, { runners: { echo_runner: { batching: { triple: {} } } } }),
      /runner "echo_runner" has no method "triple"/,
    );
  });
});

describe('the served definition is the resolved one', () => {
  let server: RunningServer | undefined;
  after(async () => server?.close());

  it("runs the dispatcher with the queue size derived from bento.yaml's batch size and the environment's", async () => {
    const dir = dirname(serviceModule);
    server = await startServer({
      project: {
        root: dir,
        serviceDir: dir,
        serviceModule,
        plugins: [plugin],
        config: { runners: { echo_runner: { batching: { double: { maxBatchSize: 600 } } } } },
      },
      port: 0,
      host: '127.0.0.1',
      env: { ...process.env, ECHO_MODEL: 'echo:0', BENTO_MAX_LATENCY_MS: '25' },
      logger: false,
    });
    const settings = server.runners[0].dispatchers.get('double')!.settings;
    assert.deepEqual(
      { ...settings },
      { maxBatchSize: 600, maxLatencyMs: 25, maxQueueSize: 2400, preferredBatchSizes: undefined },
    );
    const res = await fetch(`${server.url}/double`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ x: [[1, 2]] }),
    });
    assert.deepEqual(await res.json(), [2, 4]);
  });
});

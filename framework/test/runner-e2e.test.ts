import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PluginError, type ResolvedModel } from '../src/plugin.js';
import { type RunningServer, type Tensor, loadProject, startServer, tensor } from '../src/index.js';
import { ModelFollower } from '../src/runner/model-follower.js';

// A real service and plugin (fixtures/echo-*.ts), served end to end: worker threads, dispatcher, HTTP.
const serviceModule = fileURLToPath(new URL('./fixtures/echo-service.js', import.meta.url));
const plugin = fileURLToPath(new URL('./fixtures/echo-plugin.js', import.meta.url));

function serve(env: Record<string, string>): Promise<RunningServer> {
  const dir = dirname(serviceModule);
  return startServer({
    project: { root: dir, serviceDir: dir, serviceModule, plugins: [plugin], config: {} },
    port: 0,
    host: '127.0.0.1',
    env: { ...process.env, ...env },
    logger: false,
  });
}

const post = (url: string, x: number[][]) =>
  fetch(`${url}/double`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ x }),
  });

describe('runner pool and batching, end to end', () => {
  let server: RunningServer;
  before(async () => {
    server = await serve({ ECHO_MODEL: 'echo:20' });
  });
  after(async () => server?.close());

  it('batches concurrent requests and gives each caller its own rows', async () => {
    const dispatcher = server.runners[0].dispatchers.get('double')!;
    const before = dispatcher.stats();
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => post(server.url, [[i, i + 0.5]]).then((r) => r.json())),
    );
    responses.forEach((r, i) => assert.deepEqual(r, [2 * i, 2 * i + 1]));
    const after = dispatcher.stats();
    assert.equal(after.items - before.items, 12);
    assert.ok(after.batches - before.batches <= 4, `12 requests in ${after.batches - before.batches} batches`);
  });

  it("copies a caller's tensor into the worker, so the caller still holds it, and moves only what it is told to", async () => {
    const pool = server.runners[0];
    const mine = tensor('float32', [1, 2], new Float32Array([1, 2]));
    assert.deepEqual(Array.from(((await pool.call('double', [mine])) as Tensor<'float32'>).data), [2, 4]);
    assert.deepEqual(Array.from(mine.data), [1, 2]);
    const spare = tensor('float32', [1, 2], new Float32Array([3, 4]));
    await pool.callTimed('double', [spare], [spare]);
    assert.equal(spare.data.length, 0, 'its buffer went to the worker');
  });

  it('confines a failing batch to its callers and keeps serving', async () => {
    const res = await post(server.url, [[-1, 0]]);
    assert.equal(res.status, 500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'INFERENCE_FAILED');
    assert.match(body.error.message, /poisoned input/);
    assert.deepEqual(await (await post(server.url, [[1, 2]])).json(), [2, 4]);
  });

  it('replaces a crashed worker; only the crashed call fails, with RUNNER_CRASHED', async () => {
    const before = ((await (await fetch(`${server.url}/worker`)).json()) as { threadId: number }).threadId;
    const res = await fetch(`${server.url}/crash`, { method: 'POST' });
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'RUNNER_CRASHED');
    // The pool starts a new worker, which loads the model again, then serves.
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      const r = await post(server.url, [[3, 4]]);
      ok = r.status === 200 && JSON.stringify(await r.json()) === '[6,8]';
      if (!ok) await new Promise((done) => setTimeout(done, 100));
    }
    assert.ok(ok, 'served again after the crash');
    const afterId = ((await (await fetch(`${server.url}/worker`)).json()) as { threadId: number }).threadId;
    assert.notEqual(afterId, before);
  });
});

describe('queue depth in /metrics', () => {
  it('reports the items waiting for a batch while one runs, and none once they are answered', async () => {
    // 300 ms per batch: the first call runs at once, the next two wait for it.
    const server = await serve({ ECHO_MODEL: 'echo:300', BENTO_MAX_LATENCY_MS: '5000' });
    const queued = async () =>
      Number(
        /^bento_runner_queue_items\{runner="echo_runner",method="double"\} (\d+)$/m.exec(
          await (await fetch(`${server.url}/metrics`)).text(),
        )?.[1],
      );
    try {
      assert.equal(await queued(), 0);
      const calls = [post(server.url, [[1, 2]])];
      await new Promise((r) => setTimeout(r, 50));
      calls.push(post(server.url, [[3, 4]]), post(server.url, [[5, 6]]));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await queued(), 2);
      await Promise.all(calls);
      assert.equal(await queued(), 0);
    } finally {
      await server.close();
    }
  });
});

describe('overload', () => {
  it('sheds load past the latency objective with 503 + Retry-After, keeps health answering, and recovers', async () => {
    // 40 ms per batch of up to 8 against a 150 ms objective: a burst of 64 cannot all make it.
    const server = await serve({ ECHO_MODEL: 'echo:40' });
    try {
      await post(server.url, [[0, 0]]);
      await post(server.url, [[0, 0]]);
      const burst = Array.from({ length: 64 }, (_, i) => post(server.url, [[i, i]]));
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      const responses = await Promise.all(burst);
      const statuses = responses.map((r) => r.status);
      const shed = responses.filter((r) => r.status === 503);
      assert.ok(statuses.includes(200), 'some requests served');
      assert.ok(shed.length > 0, 'some requests shed');
      assert.ok(
        statuses.every((s) => s === 200 || s === 503),
        `statuses ${[...new Set(statuses)].join(',')}`,
      );
      const body = (await shed[0].json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'SERVICE_UNAVAILABLE');
      assert.match(body.error.message, /latency objective of 150 ms/);
      assert.ok(Number(shed[0].headers.get('retry-after')) >= 1);
      const { rejectedLatency, expired } = server.runners[0].dispatchers.get('double')!.stats();
      assert.ok(rejectedLatency + expired > 0, 'refused at admission or, made late, at dispatch');
      await Promise.all(responses.filter((r) => r.status === 200).map(async (r) => r.body?.cancel()));
      await Promise.all(shed.slice(1).map(async (r) => r.body?.cancel()));
      // Back to full service once the burst is gone.
      assert.deepEqual(await (await post(server.url, [[5, 6]])).json(), [10, 12]);
    } finally {
      await server.close();
    }
  });
});

describe('hot updates', () => {
  it('swaps a model in while calls run on the old one, and refuses one that cannot load or differs in signature', async () => {
    const server = await serve({ ECHO_MODEL: 'echo:200' });
    try {
      const pool = server.runners[0];
      const first = pool.model;
      // A call running on the old model while the new one loads and is swapped in: it finishes there.
      const running = post(server.url, [[1, 2]]);
      await new Promise((r) => setTimeout(r, 20));
      const next = await pool.reload({ ...first, resolvedUri: 'echo:v2', version: '2', metadata: { delayMs: 0 } });
      assert.equal(next.version, '2');
      assert.equal(pool.model.version, '2');
      assert.deepEqual(await (await running).json(), [2, 4]);
      const started = performance.now();
      assert.deepEqual(await (await post(server.url, [[3, 4]])).json(), [6, 8]);
      assert.ok(performance.now() - started < 150, 'the new model (no delay) answers');

      await assert.rejects(pool.reload({ ...first, format: 'no-such-format', version: '3' }), /no backend|format/i);
      await assert.rejects(
        pool.reload({ ...first, version: '4', metadata: { delayMs: 0, classes: ['a', 'b'] } }),
        /was not swapped in: its classes differ/,
      );
      // It loads, but cannot run where the served model could: the warm-up finds it before any caller does.
      await assert.rejects(
        pool.reload({ ...first, version: '5', metadata: { delayMs: 0, rejectsZeros: true } }),
        /was not swapped in: its warm-up inference failed: .*all zeros/,
      );
      assert.equal(pool.model.version, '2', 'the swapped-in model serves on');
      assert.deepEqual(await (await post(server.url, [[5, 6]])).json(), [10, 12]);
    } finally {
      await server.close();
    }
  });

  it('holds a new model to the warm-up only when the served one passed it', async () => {
    // A service may serve a model that cannot take zeros: it starts (with a warning), and so may its next version.
    const server = await serve({ ECHO_MODEL: 'echo:0:rejects-zeros' });
    try {
      const pool = server.runners[0];
      assert.deepEqual(pool.model.warmUp, { ran: false, failed: 'all zeros' });
      assert.equal((await pool.reload({ ...pool.model, version: '2' })).version, '2');
      assert.deepEqual(await (await post(server.url, [[1, 2]])).json(), [2, 4]);
      // One that warms up is taken, and from then on the warm-up is the measure.
      assert.equal(
        (await pool.reload({ ...pool.model, version: '3', metadata: { delayMs: 0, rejectsZeros: false } })).version,
        '3',
      );
      assert.equal(pool.model.warmUp.ran, true);
      await assert.rejects(
        pool.reload({ ...pool.model, version: '4', metadata: { delayMs: 0, rejectsZeros: true } }),
        /warm-up inference failed/,
      );
      assert.equal(pool.model.version, '3');
    } finally {
      await server.close();
    }
  });

  it('follows a moving URI: swaps each new version once, refuses a broken one once, and says an outage once', async () => {
    const server = await serve({ ECHO_MODEL: 'echo:0' });
    try {
      const pool = server.runners[0];
      const lines: string[] = [];
      const log = (line: string) => void lines.push(line);
      const logger = { debug: log, info: log, warn: log, error: log };
      let pointsAt: ResolvedModel | Error = { ...pool.model, resolvedUri: 'echo:v1' };
      const updates: string[] = [];
      const follower = new ModelFollower(pool, {
        intervalMs: 60_000,
        resolve: async () => {
          if (pointsAt instanceof Error) throw pointsAt;
          return pointsAt;
        },
        logger,
        onUpdate: (outcome, model) => void updates.push(`${outcome} ${model.version}`),
      });
      // The served model has no resolved URI of its own here: the first look counts echo:v1 as new.
      assert.equal(await follower.look(), 'swapped');
      assert.equal(await follower.look(), 'unchanged');
      pointsAt = { ...pool.model, resolvedUri: 'echo:v2', version: '2' };
      assert.equal(await follower.look(), 'swapped');
      pointsAt = { ...pool.model, resolvedUri: 'echo:v3', version: '3', format: 'no-such-format' };
      assert.equal(await follower.look(), 'refused');
      assert.equal(await follower.look(), 'refused');
      pointsAt = new Error('registry down');
      assert.equal(await follower.look(), 'unavailable');
      assert.equal(await follower.look(), 'unavailable');
      assert.equal(pool.model.version, '2');
      assert.deepEqual(updates, ['swapped 1', 'swapped 2', 'refused 3']);
      assert.equal(lines.filter((l) => /was not swapped in/.test(l)).length, 1);
      assert.equal(lines.filter((l) => /registry down/.test(l)).length, 1);
      await follower.stop();
    } finally {
      await server.close();
    }
  });
});

describe('draining', () => {
  /** A connection that collects everything the server sends until it closes the connection. */
  async function connection(port: number) {
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    let received = '';
    socket.on('data', (d) => (received += String(d)));
    const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
    return { socket, closed };
  }
  const json = (path: string, body: string) =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  it('serves requests still arriving on an open connection, closes it after them, and says SHUTTING_DOWN on /readyz', async () => {
    const server = await serve({ ECHO_MODEL: 'echo:300' });
    const [a, b] = [await connection(server.port), await connection(server.port)];
    a.socket.write(json('/double', '{"x":[[1,2]]}'));
    b.socket.write(json('/double', '{"x":[[5,6]]}'));
    await new Promise((r) => setTimeout(r, 50));
    const closing = server.close();
    // Pipelined behind the requests in flight: the server reads these once it is already draining.
    a.socket.write(json('/double', '{"x":[[3,4]]}'));
    b.socket.write('GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n');
    const [api, probe] = await Promise.all([a.closed, b.closed]);
    await closing;
    const answers = (raw: string) => raw.split(/(?=HTTP\/1\.1 )/);
    const [first, second] = answers(api);
    assert.match(first, /^HTTP\/1\.1 200 [\s\S]*\[2,4\]$/);
    assert.match(
      second,
      /^HTTP\/1\.1 200 [\s\S]*connection: close[\s\S]*\[6,8\]$/i,
      'served while draining, then the connection closed',
    );
    const [, ready] = answers(probe);
    assert.match(ready, /^HTTP\/1\.1 503 [\s\S]*retry-after: 1[\s\S]*"code":"SHUTTING_DOWN"/i);
  });

  it('keeps an idle connection for the grace bento serve asks for: a request sent on it then is answered, not reset', async () => {
    const dir = dirname(serviceModule);
    for (const [grace, answered] of [
      [1000, true],
      [0, false],
    ] as const) {
      const server = await startServer({
        project: { root: dir, serviceDir: dir, serviceModule, plugins: [plugin], config: {} },
        port: 0,
        host: '127.0.0.1',
        env: { ...process.env, ECHO_MODEL: 'echo:0' },
        logger: false,
        idleCloseGraceMs: grace,
      });
      const idle = await connection(server.port);
      idle.socket.write(json('/double', '{"x":[[1,2]]}'));
      await new Promise((r) => setTimeout(r, 200));
      const closing = server.close();
      await new Promise((r) => setTimeout(r, 200));
      // The client picks its idle connection for a new request after the drain began.
      if (!idle.socket.destroyed) idle.socket.write(json('/double', '{"x":[[3,4]]}'));
      const raw = await idle.closed;
      await closing;
      const answers = raw.split(/(?=HTTP\/1\.1 )/);
      if (answered) {
        assert.equal(answers.length, 2, raw);
        assert.match(answers[1], /^HTTP\/1\.1 200 [\s\S]*connection: close[\s\S]*\[6,8\]$/i);
      } else assert.equal(answers.length, 1, `closed at once without a grace: ${raw}`);
    }
  });
});

describe('bento.yaml plugins', () => {
  function project(plugins: string, pluginFile?: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'bento-yaml-'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    if (pluginFile) writeFileSync(join(dir, 'my-plugin.js'), pluginFile);
    writeFileSync(join(dir, 'bento.yaml'), `service: ${JSON.stringify(serviceModule)}\nplugins: ${plugins}\n`);
    return dir;
  }

  it('loads a plugin listed by a path relative to bento.yaml and serves with it', async () => {
    const dir = project(
      '[./my-plugin.js]',
      `export { default } from ${JSON.stringify(new URL('./fixtures/echo-plugin.js', import.meta.url).href)};\n`,
    );
    const server = await startServer({ project: loadProject(dir), port: 0, host: '127.0.0.1', logger: false });
    try {
      assert.deepEqual(await (await post(server.url, [[1, 1]])).json(), [2, 2]);
    } finally {
      await server.close();
    }
  });

  it('stops at start, naming the plugin, when a listed plugin is missing or malformed', async () => {
    await assert.rejects(
      startServer({ project: loadProject(project('[./nowhere.js]')), port: 0, logger: false }),
      (err: Error) =>
        err instanceof PluginError && /"\.\/nowhere\.js" listed in bento\.yaml cannot be found/.test(err.message),
    );
    const malformed = project('[./my-plugin.js]', "export default { name: 'half' };\n");
    await assert.rejects(
      startServer({ project: loadProject(malformed), port: 0, logger: false }),
      /my-plugin\.js does not export a plugin/,
    );
    const invalidYaml = mkdtempSync(join(tmpdir(), 'bento-yaml-'));
    writeFileSync(join(invalidYaml, 'bento.yaml'), 'plugins: not-a-list\n');
    assert.throws(() => loadProject(invalidYaml), /bento\.yaml:1: "plugins" must be array/);
  });
});

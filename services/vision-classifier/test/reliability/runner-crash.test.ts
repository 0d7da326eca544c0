/**
 * A runner worker killed under load: the classifier runs two runner worker threads and is offered uploads
 * open-loop at a share of its measured capacity; while both workers have a batch in flight, one thread is terminated. Only the requests of the batch
 * it held may fail, with 503 RUNNER_CRASHED; every other request is served, the pool is back to two workers and
 * serves on. Figures in test-output/reliability/runner-crash.json.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Worker } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { loadProject, startServer } from '@bento-ts/framework';
import { LOAD_GENERATOR, REPO_ROOT, SERVICE_DIR, multipart, sample, uploadFile } from '../helpers.js';

const run = promisify(execFile);
/** The offered load: at most this, and at most this share of the capacity measured first. */
const MAX_RATE = 500;
const CAPACITY_SHARE = 0.6;
const SECONDS = 8;
/** The classifier's batchable method takes up to 64 items a batch. */
const MAX_BATCH = 64;

const until = async (what: () => boolean, ms: number) => {
  const deadline = performance.now() + ms;
  while (!what()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setImmediate(r));
  }
  return true;
};

describe('a runner worker killed under load', { timeout: 120_000 }, () => {
  it('fails only the batch it held, with RUNNER_CRASHED, is replaced, and everything else is served', async () => {
    // The test is about a crash, not about the speed of the machine: with the objective at its usual 500 ms, a
    // machine shared with other work (the project's CI, or two busy loops here) stalls long enough for admission to
    // shed a few requests with 503 SERVICE_UNAVAILABLE, as it should (the overload test holds that). A one-minute
    // objective leaves every answer but the killed batch's to the crash handling alone.
    const project = loadProject(SERVICE_DIR);
    const batching = { classify: { maxLatencyMs: 60_000 } };
    const config = {
      ...project.config,
      runners: {
        ...project.config.runners,
        vision_model_runner: { ...project.config.runners?.vision_model_runner, batching },
      },
    };
    const server = await startServer({
      project: { ...project, config },
      port: 0,
      host: '127.0.0.1',
      // The same weights on TF.js (WebAssembly): a thread terminated inside onnxruntime-node's native run takes the
      // whole process down (`terminate called after throwing an instance of 'Napi::Error'`, 1 run in 3 in CI), as
      // any native fault in a thread does, while one terminated in JavaScript or WebAssembly ends alone. What is
      // tested is the pool's handling of a lost worker, which is the same for every backend.
      env: { ...process.env, BACKEND: 'tfjs' },
      runnerWorkers: 2,
      logger: false,
    });
    try {
      const runner = server.runners[0];
      // Fault injection: the test reaches the pool's threads, as a fatal error in one would.
      const threads = () => (runner as unknown as { pool: { threads: Worker[] } }).pool.threads;
      const dispatcher = runner.dispatchers.get('classify')!;
      const batchFailures = async () =>
        (await server.metrics!.batchFailures.get()).values.reduce((n, v) => n + v.value, 0);

      const body = await uploadFile('trouser.jpg', 'image/jpeg');
      const offer = async (rate: number, seconds: number) =>
        JSON.parse(
          (
            await run(
              process.execPath,
              [LOAD_GENERATOR, `${server.url}/predict_image`, String(rate), String(seconds), body.type, body.file],
              { maxBuffer: 256 << 20, timeout: 120_000 },
            )
          ).stdout,
        ) as {
          sent: number;
          answers: Array<[number, number, number | null, number, number, string?]>;
          failures: unknown[];
        };
      // Capacity on this machine now: what is served of more than it can take. A load over capacity would be an
      // overload test (queue full: 503), which says nothing of the crash.
      const probe = await offer(2 * MAX_RATE, 3);
      const capacity = probe.answers.filter(([s, , , at]) => s === 200 && at <= 3_000).length / 3;
      const RATE = Math.min(MAX_RATE, Math.round(capacity * CAPACITY_SHARE));
      assert.ok(RATE >= 50, `capacity ${capacity} req/s`);
      const loading = offer(RATE, SECONDS);

      await new Promise((r) => setTimeout(r, 2_000));
      // Kill a worker while both hold a batch; a batch that ends in the same instant escapes, so try again then.
      let kills = 0;
      let replacedMs = -1;
      for (let attempt = 0; attempt < 3 && (await batchFailures()) === 0; attempt++) {
        assert.ok(await until(() => dispatcher.stats().inFlight >= 2, 5_000), 'both workers busy');
        const before = new Set(threads());
        const killedAt = performance.now();
        void threads()[0].terminate();
        kills++;
        assert.ok(
          await until(() => threads().length === 2 && threads().some((t) => !before.has(t)), 10_000),
          'a new worker thread',
        );
        replacedMs = performance.now() - killedAt;
        await new Promise((r) => setTimeout(r, 300));
      }
      const load = await loading;

      const crashed = load.answers.filter(([s, , , , , code]) => s === 503 && code === 'RUNNER_CRASHED');
      const other = load.answers.filter(([s, , , , , code]) => s !== 200 && code !== 'RUNNER_CRASHED');
      const served = load.answers.filter(([s]) => s === 200);
      // Served after the kill: those whose answer came after the crashed ones.
      const lastCrash = Math.max(...crashed.map(([, , , at]) => at));
      const servedAfter = served.filter(([, , , at]) => at > lastCrash).length;
      const after = await fetch(`${server.url}/predict_image`, {
        method: 'POST',
        body: multipart('image', sample('trouser.jpg'), 't.jpg', 'image/jpeg'),
      });
      const figures = {
        capacity_rps: Math.round(capacity),
        offered_rps: RATE,
        seconds: SECONDS,
        sent: load.sent,
        kills,
        failed_batches: await batchFailures(),
        crashed_answers: crashed.length,
        other_failures: other.length + load.failures.length,
        served: served.length,
        served_after_crash: servedAfter,
        worker_replaced_ms: Math.round(replacedMs),
        workers_after: threads().length,
      };
      mkdirSync(join(REPO_ROOT, 'test-output', 'reliability'), { recursive: true });
      writeFileSync(
        join(REPO_ROOT, 'test-output', 'reliability', 'runner-crash.json'),
        JSON.stringify(figures, null, 2),
      );

      assert.equal(figures.failed_batches, 1, 'one batch failed: the one the killed worker held');
      assert.ok(
        crashed.length >= 1 && crashed.length <= MAX_BATCH,
        `${crashed.length} requests failed with RUNNER_CRASHED`,
      );
      assert.deepEqual(other.slice(0, 5), [], 'no other request failed');
      assert.deepEqual(load.failures, []);
      assert.equal(load.answers.length, load.sent);
      assert.ok(servedAfter > RATE, `${servedAfter} served after the crash`);
      assert.equal(threads().length, 2);
      assert.equal(after.status, 200);
      assert.equal(((await after.json()) as { predicted_class: string }).predicted_class, 'Trouser');
    } finally {
      await server.close();
    }
  });
});

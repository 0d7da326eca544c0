/**
 * `bento serve --workers 2`: two processes on one port, metrics aggregated
 * over both, a dead worker replaced, and a graceful stop of all of them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BENTO,
  type LiveBento,
  REPO_ROOT,
  multipart,
  runBento,
  sample,
  sigtermUnderLoad,
  startBento,
  waitForMetrics,
} from './helpers.js';
import { parseExposition, value } from './prometheus.js';

/** One upload on a connection of its own, so that the cluster's round-robin sees each request. */
async function predictOnNewConnection(port: number): Promise<number> {
  const encoded = new Response(multipart('image', sample('ankle_boot.png'), 'a.png', 'image/png'));
  const body = Buffer.from(await encoded.arrayBuffer());
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/predict_image',
        method: 'POST',
        agent: false,
        headers: { 'content-type': encoded.headers.get('content-type')!, 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function scrapeOnNewConnection(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
}

function accessLogPids(stdout: string): number[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string; route?: string; pid: number })
    .filter((l) => l.msg === 'request' && l.route === '/predict_image')
    .map((l) => l.pid);
}

/**
 * The workers' pids, from the primary's log line. It goes to stderr as the banner goes to stdout: two pipes, so it
 * may arrive after the banner the start waited for.
 */
async function workerPids(bento: LiveBento): Promise<number[]> {
  const due = Date.now() + 10_000;
  for (;;) {
    const found = /2 worker processes serving: pids (\d+), (\d+)/.exec(bento.stderr);
    if (found) return found.slice(1).map(Number);
    assert.ok(Date.now() < due, `no "worker processes serving" line in 10 s: ${bento.stderr.slice(-500)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('several worker processes (bento serve --workers 2)', () => {
  let bento: LiveBento;
  before(async () => {
    bento = await startBento(['--workers', '2'], { BENTO_LOG_LEVEL: 'info', BENTO_LOG_FORMAT: 'json' });
  });
  after(async () => {
    bento.child.kill('SIGTERM');
    await bento.exited;
  });

  it('serves one port from both processes and sums their metrics in every scrape', async () => {
    const pids = await workerPids(bento);
    assert.equal(new Set(pids).size, 2);
    for (let i = 0; i < 12; i++) assert.equal(await predictOnNewConnection(bento.port), 200);
    await new Promise((r) => setTimeout(r, 100));
    const served = accessLogPids(bento.stdout);
    assert.equal(served.length, 12);
    assert.deepEqual([...new Set(served)].sort(), [...pids].sort(), 'both workers answered requests');
    // Scrapes land on either worker; each shows the whole server.
    for (let i = 0; i < 4; i++) {
      const m = parseExposition(await scrapeOnNewConnection(bento.port));
      assert.equal(
        value(m, 'bento_http_requests_total', { route: '/predict_image', method: 'POST', status: '200' }),
        12,
      );
      assert.equal(
        value(m, 'bento_http_request_duration_seconds_count', {
          route: '/predict_image',
          method: 'POST',
          status: '200',
        }),
        12,
      );
      assert.equal(value(m, 'bento_runner_batch_size_sum', { runner: 'vision_model_runner', method: 'classify' }), 12);
      assert.equal(value(m, 'bento_worker_processes', {}), 2);
      // One sample per model, not one per worker.
      assert.equal(m.get('bento_model_info')!.samples.length, 1);
      assert.equal(m.get('bento_model_info')!.samples[0].value, 1);
      assert.ok(
        value(m, 'process_resident_memory_bytes', {})! > 2 * 50e6,
        'resident memory is the sum over the workers',
      );
    }
  });

  it('replaces a worker that dies and keeps serving', async () => {
    const [victim, survivor] = await workerPids(bento);
    process.kill(victim, 'SIGKILL');
    await waitForMetrics(bento.base, /^bento_worker_restarts_total 1$/m);
    await waitForMetrics(bento.base, /^bento_worker_processes 2$/m);
    assert.match(bento.stderr, new RegExp(`worker \\d \\(pid ${victim}\\) exited with signal SIGKILL: restarting`));
    const before = accessLogPids(bento.stdout).length;
    for (let i = 0; i < 8; i++) assert.equal(await predictOnNewConnection(bento.port), 200);
    await new Promise((r) => setTimeout(r, 100));
    const served = new Set(accessLogPids(bento.stdout).slice(before));
    assert.equal(served.size, 2, 'the new worker serves too');
    assert.ok(served.has(survivor) && !served.has(victim));
  });
});

describe('starting and stopping several workers', () => {
  it('on SIGTERM every worker finishes its in-flight requests, then all exit 0', async () => {
    await sigtermUnderLoad(
      ['--workers', '2'],
      /SIGTERM received: each worker finishes its in-flight requests \(up to 30 s\), then stops/,
    );
  });

  it('stops at once when SIGTERM comes while the first worker is still loading its model, leaving no worker behind', async () => {
    const { spawn, execFileSync } = await import('node:child_process');
    const child = spawn(
      process.execPath,
      [BENTO, 'serve', '.', '--port', '0', '--host', '127.0.0.1', '--workers', '2'],
      { cwd: REPO_ROOT, env: { ...process.env, BENTO_LOG_LEVEL: 'info' } },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // The first worker has begun loading its model (about a second's work).
    while (!/resolving model/.test(stderr)) await new Promise((r) => setTimeout(r, 10));
    const started = performance.now();
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.ok(performance.now() - started < 15_000);
    const children = (() => {
      try {
        return execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).trim();
      } catch {
        return '';
      }
    })();
    assert.equal(children, '', 'no worker outlives the primary');
    assert.doesNotMatch(stderr, /worker processes serving/, 'the other workers were never started');
  });

  it('exits non-zero when a worker cannot start', async () => {
    const run = await runBento(['serve', '.', '--port', '0', '--host', '127.0.0.1', '--workers', '2'], {
      MODEL_URI: '/no/such/model.onnx',
      BENTO_LOG_LEVEL: 'info',
    });
    assert.equal(run.code, 3, "the worker's exit code: the model does not exist");
    assert.match(run.stderr, /worker 0 exited with code 3 before it was ready: stopping/);
    assert.match(run.stderr, /no\/such\/model/);
  });

  it('takes the worker count from BENTO_WORKERS', async () => {
    const run = await runBento(
      ['serve', '.', '--port', '0', '--host', '127.0.0.1'],
      { BENTO_WORKERS: '2', BENTO_LOG_LEVEL: 'info' },
      /Health: GET/,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /2 worker processes serving/);
  });

  it(
    'takes workers: cpu_count from a config file: one process per core',
    { skip: availableParallelism() < 2 && 'one core: one process, no primary' },
    async () => {
      const config = join(mkdtempSync(join(tmpdir(), 'bento-workers-')), 'prod.yaml');
      writeFileSync(config, 'workers: cpu_count\n');
      const run = await runBento(
        ['serve', '.', '--port', '0', '--host', '127.0.0.1', '-c', config],
        { BENTO_LOG_LEVEL: 'info' },
        /Health: GET/,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, new RegExp(`${availableParallelism()} worker processes serving`));
    },
  );

  it('refuses a bad worker count', async () => {
    const run = await runBento(['serve', '.', '--workers', 'many']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /expected a positive integer/);
  });
});

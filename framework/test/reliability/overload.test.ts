/**
 * Overload: ten times the measured capacity, offered open-loop for 30 s
 * (OVERLOAD_SECONDS). The server must shed what it cannot serve in time
 * (503 with Retry-After, as JSON), keep the latency of what it accepts within
 * its objective, lose nothing it accepted, and serve normally within a second of
 * the load stopping.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { type RunningServer, startServer } from '../../src/index.js';

const run = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = join(HERE, '..', '..', '..', '..');
const SECONDS = Number(process.env.OVERLOAD_SECONDS ?? 30);
/** The fixture's batchable method: batches of up to 8, 50 ms each (ECHO_MODEL=echo:50), a 150 ms latency objective. */
const OBJECTIVE_MS = 150;
/** How far past the objective the accepted requests' 99th percentile may be at the server (see where it is checked). */
const SERVER_TOLERANCE = 1.05;
const BODY = JSON.stringify({ x: [[1, 2]] });

/** The server's access log goes to `log`: its `ms` (request received to response sent) is the server's own latency. */
function serve(log: string): Promise<RunningServer> {
  const serviceModule = join(HERE, '..', 'fixtures', 'echo-service.js');
  const dir = dirname(serviceModule);
  return startServer({
    project: {
      root: dir,
      serviceDir: dir,
      serviceModule,
      plugins: [join(HERE, '..', 'fixtures', 'echo-plugin.js')],
      config: {},
    },
    port: 0,
    host: '127.0.0.1',
    env: { ...process.env, ECHO_MODEL: 'echo:50' },
    logger: { level: 'info', file: log },
  });
}

/** Server-side latencies of the 200s logged since the log was last cleared. */
function servedLatencies(log: string): number[] {
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { msg?: string; status?: number; ms?: number })
    .filter((l) => l.msg === 'request' && l.status === 200)
    .map((l) => l.ms!);
}

async function offered(url: string, rate: number, seconds: number) {
  const body = join(mkdtempSync(join(tmpdir(), 'bento-overload-')), 'body.json');
  writeFileSync(body, BODY);
  const { stdout } = await run(
    process.execPath,
    [join(HERE, 'offered-load.js'), url, String(rate), String(seconds), 'application/json', body],
    { maxBuffer: 256 << 20, timeout: (seconds + 60) * 1000 },
  );
  return JSON.parse(stdout) as {
    sent: number;
    answers: Array<[number, number, number | null, number]>;
    errors: number;
    failures: Array<[number, string, number]>;
    seconds: number;
  };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

describe('overload at ten times capacity', { timeout: 600_000 }, () => {
  it('sheds with 503 + Retry-After, keeps accepted latency within the objective, and recovers within a second', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'bento-overload-log-')), 'access.log');
    writeFileSync(log, '');
    const server = await serve(log);
    const url = `${server.url}/double`;
    const dispatcher = server.runners[0].dispatchers.get('double')!;
    try {
      // Capacity: what the server serves while offered more than it can take, for 5 s, after 3 s of the same to warm
      // up (the batching cost model learns from the first batches).
      await offered(url, 2000, 3);
      const probe = await offered(url, 2000, 5);
      const capacity = probe.answers.filter(([s, , , t]) => s === 200 && t <= 5000).length / 5;
      assert.ok(
        capacity > 20,
        `capacity ${capacity}/s: ${JSON.stringify({ failures: probe.failures.slice(0, 5), dispatcher: dispatcher.stats() })}`,
      );
      const rate = Math.round(capacity * 10);

      writeFileSync(log, '');
      const expiredBefore = dispatcher.stats().expired;
      const load = await offered(url, rate, SECONDS);
      const serverMs = servedLatencies(log);
      const expired = dispatcher.stats().expired - expiredBefore;
      const stoppedAt = performance.now();
      // Recovery: the first request after the load that is served, and the ones after it.
      let recoveredMs = -1;
      for (;;) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
        if (res.status === 200) {
          recoveredMs = performance.now() - stoppedAt;
          break;
        }
        await res.body?.cancel();
        if (performance.now() - stoppedAt > 10_000) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const after = await Promise.all(
        Array.from({ length: 8 }, () =>
          fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY }).then(
            (r) => r.status,
          ),
        ),
      );

      const accepted = load.answers.filter(([s]) => s === 200);
      const shed = load.answers.filter(([s]) => s === 503 || s === 429);
      const other = load.answers.filter(([s]) => s !== 200 && s !== 503 && s !== 429);
      const acceptedMs = accepted.map(([, ms]) => ms);
      const figures = {
        capacity_rps: Math.round(capacity),
        offered_rps: rate,
        seconds: SECONDS,
        sent: load.sent,
        served: accepted.length,
        served_rps: Math.round(accepted.length / SECONDS),
        shed: shed.length,
        shed_rate: Math.round((shed.length / load.sent) * 1000) / 10,
        other_statuses: other.length,
        errors: load.errors,
        shed_after_queueing: expired,
        accepted_p50_ms: Math.round(quantile(acceptedMs, 0.5)),
        accepted_p99_ms: Math.round(quantile(acceptedMs, 0.99)),
        accepted_server_p50_ms: Math.round(quantile(serverMs, 0.5)),
        accepted_server_p99_ms: Math.round(quantile(serverMs, 0.99)),
        accepted_server_max_ms: Math.round(Math.max(...serverMs)),
        objective_ms: OBJECTIVE_MS,
        // The share of the objective admission left for sending answers, learned from the server's responses.
        sending_share_ms: Math.round(dispatcher.stats().deliveryMs * 10) / 10,
        // The share kept for batches running past the cost model (99th percentile of recent round trips).
        excess_share_ms: Math.round(dispatcher.stats().excessMs * 10) / 10,
        shed_without_retry_after: shed.filter(([, , r]) => !(r !== null && r >= 1)).length,
        recovery_ms: Math.round(recoveredMs),
      };
      mkdirSync(join(REPO_ROOT, 'test-output', 'reliability'), { recursive: true });
      writeFileSync(join(REPO_ROOT, 'test-output', 'reliability', 'overload.json'), JSON.stringify(figures, null, 2));

      // Every failure below says the run's figures: a slow or crowded machine shows in them (capacity, latencies).
      const seen = JSON.stringify({ ...figures, failures: load.failures.slice(0, 5) });
      assert.equal(load.errors, 0, `every request got an answer: ${seen}`);
      assert.equal(load.answers.length, load.sent);
      assert.equal(other.length, 0, JSON.stringify(other.slice(0, 5)));
      assert.ok(shed.length > load.sent * 0.5, `it shed ${figures.shed_rate}% of ten times its capacity: ${seen}`);
      assert.ok(
        accepted.length > capacity * SECONDS * 0.5,
        `served ${figures.served_rps}/s under overload, against ${figures.capacity_rps}/s capacity: ${seen}`,
      );
      assert.equal(figures.shed_without_retry_after, 0);
      assert.equal(serverMs.length, accepted.length, 'the access log has every served request');
      // The objective runs from the request's arrival to its answer, as the server sees them; the client, sharing
      // the two cores with the server, adds its own delays, which are reported beside it. Admission counts each
      // part (round trips, sending) at its own 99th percentile; when the machine pauses several requests at once,
      // the 99th percentile of their sum can pass the objective by a few ms (the project's CI once measured 154 ms).
      assert.ok(
        figures.accepted_server_p99_ms <= OBJECTIVE_MS * SERVER_TOLERANCE,
        `accepted p99 ${figures.accepted_server_p99_ms} ms at the server: ${seen}`,
      );
      assert.ok(
        figures.accepted_p99_ms <= OBJECTIVE_MS * 1.2,
        `accepted p99 ${figures.accepted_p99_ms} ms at the client: ${seen}`,
      );
      assert.ok(recoveredMs >= 0 && recoveredMs < 1000, `recovered in ${recoveredMs} ms: ${seen}`);
      assert.deepEqual(after, Array(8).fill(200));
    } finally {
      await server.close();
      rmSync(dirname(log), { recursive: true, force: true });
    }
  });
});

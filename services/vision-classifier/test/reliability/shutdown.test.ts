/**
 * SIGTERM under open-loop load: `bento serve` is offered uploads at a steady rate, gets SIGTERM mid-way, and the
 * generator keeps firing until after it has exited. Every request the server received (its debug log's
 * `received` lines, matched by X-Request-ID) must have been answered, and the client must have got that answer;
 * every other request must have been refused before the server took it: connection refused once it stopped
 * listening, or reset (an idle keep-alive connection it closed, or one still waiting in the kernel's accept queue).
 * With one worker and with two. Figures in test-output/reliability/shutdown.json.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { LOAD_GENERATOR, REPO_ROOT, startBento, uploadFile } from '../helpers.js';

const run = promisify(execFile);
/** Near what one worker serves here, so that requests are in flight and queued when the signal comes. */
const RATE = Number(process.env.SHUTDOWN_RATE ?? 1200);
const SECONDS = 6;
const SIGTERM_AFTER_MS = 2_500;
/** Requests the server must have taken for the run to prove anything: a few hundred queued, batched and drained. */
const MIN_TAKEN = 300;
/** Errors that mean the server never took the request: nothing listened, or it closed an idle connection. */
const REFUSED_AT_CONNECTION = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'socket hang up']);

interface Load {
  sent: number;
  answers: Array<[number, number, number | null, number, number]>;
  failures: Array<[number, string, number]>;
}

interface LogLine {
  msg?: string;
  reqId?: string;
  status?: number;
  time: number;
}

async function sigtermUnderOpenLoad(workers: number) {
  const body = await uploadFile('trouser.jpg', 'image/jpeg');
  const bento = await startBento(['--workers', String(workers)], {
    BENTO_LOG_LEVEL: 'debug',
    BENTO_LOG_FORMAT: 'json',
  });
  const loading = run(
    process.execPath,
    [LOAD_GENERATOR, `${bento.base}/predict_image`, String(RATE), String(SECONDS), body.type, body.file, '--ids'],
    { maxBuffer: 256 << 20, timeout: 120_000 },
  );
  await new Promise((r) => setTimeout(r, SIGTERM_AFTER_MS));
  const signalledAt = Date.now();
  bento.child.kill('SIGTERM');
  const code = await bento.exited;
  const exitedAt = Date.now();
  const load = JSON.parse((await loading).stdout) as Load;

  const lines = bento.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
  const received = new Set(
    lines.filter((l) => l.msg === 'received' && l.reqId?.startsWith('load-')).map((l) => l.reqId!),
  );
  const answeredByServer = new Map(
    lines.filter((l) => l.msg === 'request' && l.reqId?.startsWith('load-')).map((l) => [l.reqId!, l] as const),
  );
  const answered = new Map<string, Load['answers'][number]>(load.answers.map((a) => [`load-${a[4]}`, a]));
  const failed = new Map<string, Load['failures'][number]>(load.failures.map((f) => [`load-${f[0]}`, f]));

  // Lost: the server took it and the client has no answer for it.
  const lost = [...received].filter((id) => !answered.has(id));
  const unansweredByServer = [...received].filter((id) => !answeredByServer.has(id));
  const statusMismatch = [...answeredByServer].filter(([id, l]) => answered.get(id)?.[0] !== l.status);
  const otherFailures = load.failures.filter(([, c]) => !REFUSED_AT_CONNECTION.has(c));
  const failedYetReceived = [...failed.keys()].filter((id) => received.has(id));
  const statuses: Record<string, number> = {};
  for (const [s] of load.answers) statuses[s] = (statuses[s] ?? 0) + 1;
  const failureCodes: Record<string, number> = {};
  for (const [, c] of load.failures) failureCodes[c] = (failureCodes[c] ?? 0) + 1;
  const servedAfterSignal = [...answeredByServer.values()].filter(
    (l) => l.status === 200 && l.time >= signalledAt,
  ).length;
  const shedAnswers = load.answers.filter(([s]) => s === 503);

  const figures = {
    workers,
    offered_rps: RATE,
    sent: load.sent,
    received_by_server: received.size,
    statuses,
    failures: failureCodes,
    served_after_sigterm: servedAfterSignal,
    lost: lost.length,
    exit_code: code,
    drain_ms: exitedAt - signalledAt,
  };
  assert.equal(load.answers.length + load.failures.length, load.sent, 'every request ended one way or another');
  assert.equal(code, 0, bento.stderr.slice(-2000));
  // Enough load that requests were queued and in flight at the signal; how many a slower machine takes varies.
  assert.ok(received.size >= MIN_TAKEN, `the server took ${received.size} requests: ${JSON.stringify(figures)}`);
  assert.ok(load.failures.length > 0, `requests went on after the server had gone: ${JSON.stringify(figures)}`);
  assert.deepEqual(lost, [], 'every request the server took was answered to its client');
  assert.deepEqual(unansweredByServer, []);
  assert.deepEqual(statusMismatch, []);
  assert.deepEqual(failedYetReceived, []);
  assert.deepEqual(otherFailures, []);
  assert.deepEqual(
    Object.keys(statuses).filter((s) => s !== '200' && s !== '503'),
    [],
    JSON.stringify(statuses),
  );
  assert.ok(
    shedAnswers.every(([, , retry]) => retry !== null && retry >= 1),
    'every 503 says when to retry',
  );
  return figures;
}

describe('SIGTERM under open-loop load', { timeout: 300_000 }, () => {
  const all: unknown[] = [];
  for (const workers of [1, 2]) {
    it(`with ${workers} worker(s): nothing the server took is lost, the rest is refused before it is taken`, async () => {
      // A run proves the drain only if requests were in flight at the signal. At a moderate rate on a fast machine
      // there may be none at that instant (a few requests in flight on average): such a run proves nothing and is
      // run again; every other promise is checked on every run.
      const runs: Array<Awaited<ReturnType<typeof sigtermUnderOpenLoad>>> = [];
      for (let attempt = 1; attempt <= 3; attempt++) {
        runs.push(await sigtermUnderOpenLoad(workers));
        if (runs.at(-1)!.served_after_sigterm > 0) break;
      }
      assert.ok(
        runs.at(-1)!.served_after_sigterm > 0,
        `requests in flight at the signal were served: ${JSON.stringify(runs)}`,
      );
      all.push({ ...runs.at(-1)!, attempts: runs.length });
      mkdirSync(join(REPO_ROOT, 'test-output', 'reliability'), { recursive: true });
      writeFileSync(join(REPO_ROOT, 'test-output', 'reliability', 'shutdown.json'), JSON.stringify(all, null, 2));
    });
  }
});

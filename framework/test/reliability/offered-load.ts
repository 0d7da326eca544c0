/**
 * An open-loop load generator, run as its own process: it fires requests at a
 * fixed rate whatever the server answers (as real traffic does), and records
 * each answer's status, latency and Retry-After. Usage:
 *   node offered-load.js <url> <requests/s> <seconds> <content-type> <body file> [--summary] [--ids]
 * Prints one JSON object: { sent, answers: [[status, ms, retryAfter, at, id, error code]...], errors,
 * failures: [[id, code, at]...] } (the error code from the JSON body of a non-2xx answer),
 * or with --summary { sent, statuses: {status: count}, errors, failed: {code: [{at_ms, reused_after_idle_ms}]}, p50_ms,
 * p99_ms, max_ms } (for long runs).
 * --ids sends request n with `x-request-id: load-<n>` (the server logs it), so its answer can be matched to the
 * server's account of it.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';

const [url, rateArg, secondsArg, contentType, bodyFile, ...flags] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  ...string[],
];
const summarize = flags.includes('--summary');
const withIds = flags.includes('--ids');
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const target = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
const payload = readFileSync(bodyFile);
/** Per answer: status, latency in ms, Retry-After, when it came (ms since the start), the request's number and
 * for a non-2xx answer its `error.code`. */
const answers: Array<[number, number, number | null, number, number, string?]> = [];
/** Per request that got no answer: its number, the error code (ECONNREFUSED, ECONNRESET, timeout...) and when. */
const failures: Array<[number, string, number, number?]> = [];
/** When each keep-alive socket was last handed back to the agent: a failure on a reused socket says how long it sat idle. */
const freedAt = new WeakMap<Socket, number>();
agent.on('free', (socket: Socket) => freedAt.set(socket, performance.now()));
let errors = 0;
let sent = 0;
let outstanding = 0;

function fire(): void {
  const n = sent++;
  outstanding++;
  const started = performance.now();
  const headers: Record<string, string | number> = { 'content-type': contentType, 'content-length': payload.length };
  if (withIds) headers['x-request-id'] = `load-${n}`;
  let settled = false;
  let idleMs: number | undefined;
  const fail = (code: string) => {
    if (settled) return;
    settled = true;
    outstanding--;
    errors++;
    failures.push([n, code, performance.now() - start, idleMs]);
  };
  const req = request(
    {
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: 'POST',
      agent,
      timeout: 10_000,
      headers,
    },
    (res) => {
      const status = res.statusCode!;
      let body = '';
      if (status >= 300) res.setEncoding('utf8').on('data', (d: string) => (body += d));
      else res.resume();
      res.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        outstanding--;
        const retry = res.headers['retry-after'];
        const answer: (typeof answers)[number] = [
          status,
          performance.now() - started,
          retry === undefined ? null : Number(retry),
          performance.now() - start,
          n,
        ];
        if (status >= 300) answer.push(errorCode(body));
        answers.push(answer);
      });
    },
  );
  req.on('socket', (socket: Socket) => {
    const freed = freedAt.get(socket);
    if (freed !== undefined) idleMs = Math.round(performance.now() - freed);
  });
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
  req.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
  req.end(payload);
}

function errorCode(body: string): string {
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    return code === undefined || code === null ? 'NO_CODE' : typeof code === 'string' ? code : JSON.stringify(code);
  } catch {
    return 'NOT_JSON';
  }
}

function summary() {
  const statuses: Record<string, number> = {};
  for (const [status] of answers) statuses[status] = (statuses[status] ?? 0) + 1;
  const ms = answers.map(([, t]) => t).sort((a, b) => a - b);
  const at = (q: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0);
  // Served while the load was on: a throughput that the drain afterwards does not inflate.
  const servedInWindow = answers.filter(([status, , , t]) => status === 200 && t <= seconds * 1000).length;
  // Requests with no answer, by why (ECONNRESET, TIMEOUT...), with when each came: a long run's few failures say what they were.
  const failed: Record<string, Array<{ at_ms: number; reused_after_idle_ms?: number }>> = {};
  for (const [, code, t, idle] of failures)
    (failed[code] ??= []).push({ at_ms: Math.round(t), reused_after_idle_ms: idle });
  return {
    sent,
    statuses,
    errors,
    failed,
    p50_ms: at(0.5),
    p99_ms: at(0.99),
    max_ms: Math.round(ms[ms.length - 1] ?? 0),
    served_per_s: servedInWindow / seconds,
  };
}

const start = performance.now();
const tick = 5;
let due = 0;
const timer = setInterval(() => {
  const elapsed = performance.now() - start;
  if (elapsed >= seconds * 1000) {
    clearInterval(timer);
    const wait = setInterval(() => {
      if (outstanding > 0 && performance.now() - start < (seconds + 15) * 1000) return;
      clearInterval(wait);
      const report = summarize
        ? summary()
        : { sent, answers, errors, failures, seconds: (performance.now() - start) / 1000 };
      // Exit only once the pipe has taken the whole report.
      process.stdout.write(JSON.stringify(report), () => process.exit(0));
    }, 20);
    return;
  }
  // Catch up on the requests due by now, so a late tick does not lower the offered rate.
  const target = Math.floor((elapsed / 1000) * rate);
  while (due < target) {
    fire();
    due++;
  }
}, tick);

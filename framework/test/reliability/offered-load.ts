/**
 * An open-loop load generator, run as its own process: it fires requests at a
 * fixed rate whatever the server answers (as real traffic does), and records
 * each answer's status, latency and Retry-After. Usage:
 *   node offered-load.js <url> <requests/s> <seconds> <content-type> <body file> [--summary]
 * Prints one JSON object: { sent, answers: [[status, ms, retryAfter]...], errors }, or with --summary
 * { sent, statuses: {status: count}, errors, p50_ms, p99_ms, max_ms } (for long runs).
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

const [url, rateArg, secondsArg, contentType, bodyFile, mode] = process.argv.slice(2) as [string, string, string, string, string, string?];
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const target = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
const payload = readFileSync(bodyFile);
/** Per answer: status, latency in ms, Retry-After, and when it came (ms since the start). */
const answers: Array<[number, number, number | null, number]> = [];
let errors = 0;
let sent = 0;
let outstanding = 0;

function fire(): void {
  sent++;
  outstanding++;
  const started = performance.now();
  const req = request(
    { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, timeout: 10_000, headers: { 'content-type': contentType, 'content-length': payload.length } },
    (res) => {
      res.resume();
      res.on('end', () => {
        outstanding--;
        const retry = res.headers['retry-after'];
        answers.push([res.statusCode!, performance.now() - started, retry === undefined ? null : Number(retry), performance.now() - start]);
      });
    },
  );
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => {
    outstanding--;
    errors++;
  });
  req.end(payload);
}

function summary() {
  const statuses: Record<string, number> = {};
  for (const [status] of answers) statuses[status] = (statuses[status] ?? 0) + 1;
  const ms = answers.map(([, t]) => t).sort((a, b) => a - b);
  const at = (q: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0);
  // Served while the load was on: a throughput that the drain afterwards does not inflate.
  const servedInWindow = answers.filter(([status, , , t]) => status === 200 && t <= seconds * 1000).length;
  return { sent, statuses, errors, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: Math.round(ms[ms.length - 1] ?? 0), served_per_s: servedInWindow / seconds };
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
      const report = mode === '--summary' ? summary() : { sent, answers, errors, seconds: (performance.now() - start) / 1000 };
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

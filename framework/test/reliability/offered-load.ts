/**
 * An open-loop load generator, run as its own process: it fires requests at a
 * fixed rate whatever the server answers (as real traffic does), and records
 * each answer's status, latency and Retry-After. Usage:
 *   node offered-load.js <url> <requests/s> <seconds> <json body>
 * Prints one JSON object: { sent, answers: [[status, ms, retryAfter]...], errors }.
 */
import { Agent, request } from 'node:http';

const [url, rateArg, secondsArg, body] = process.argv.slice(2) as [string, string, string, string];
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const target = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
const payload = Buffer.from(body);
const answers: Array<[number, number, number | null]> = [];
let errors = 0;
let sent = 0;
let outstanding = 0;

function fire(): void {
  sent++;
  outstanding++;
  const started = performance.now();
  const req = request(
    { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, timeout: 10_000, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
    (res) => {
      res.resume();
      res.on('end', () => {
        outstanding--;
        const retry = res.headers['retry-after'];
        answers.push([res.statusCode!, performance.now() - started, retry === undefined ? null : Number(retry)]);
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
      // Exit only once the pipe has taken the whole report.
      process.stdout.write(JSON.stringify({ sent, answers, errors, seconds: (performance.now() - start) / 1000 }), () => process.exit(0));
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

// Pieces every benchmark script shares: the multipart upload body, the load generator in a child process, and
// alternated rounds summarised by their medians.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuOf, cpuSince } from './proc-cpu.mjs';

const LOAD = fileURLToPath(new URL('./load.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Writes `data` into bench/results/`name`: an object as indented JSON, text as it is; both end with a newline. */
export function writeResult(name, data) {
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), `${typeof data === 'string' ? data : JSON.stringify(data, null, 2)}\n`);
}

/** A multipart/form-data body with `file` as the `image` field, written into `dir`. */
export function multipartFile(file, type, dir) {
  const boundary = '----bentobench';
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="image"\r\nContent-Type: ${type}\r\n\r\n`,
    ),
    readFileSync(file),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const path = join(dir, `${file.split('/').pop()}.multipart`);
  writeFileSync(path, body);
  return { path, contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The bundled classifier's sample, a 28×28 PNG, as a multipart upload written into a fresh directory of `name`. */
export function sampleUpload(name) {
  const work = join(tmpdir(), `bento-bench-${name}-${process.pid}`);
  mkdirSync(work, { recursive: true });
  return multipartFile(join(ROOT, 'services', 'vision-classifier', 'samples', 'ankle_boot.png'), 'image/png', work);
}

/** autocannon's result for `connections` connections posting `body` to `url` for `duration` seconds. */
export function autocannon(url, { connections, duration, body, contentType }) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [LOAD, url, String(connections), String(duration), contentType, body], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load.mjs ${url} exited with ${code}`)),
    );
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Runs `measure(mode)` for each mode in turn, `rounds` times (a, b, a, b...), so that a machine's slow phase
 * falls on every mode alike. Each measure returns { requests_per_sec, p50_ms, p99_ms }; the summary holds medians.
 */
export async function alternated(modes, rounds, measure) {
  const runs = Object.fromEntries(modes.map((m) => [m, []]));
  for (let i = 0; i < rounds; i++) {
    for (const mode of modes) {
      const r = await measure(mode);
      runs[mode].push(r);
      process.stderr.write(
        `round ${i + 1} ${mode}: ${r.requests_per_sec} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms\n`,
      );
    }
  }
  const summary = Object.fromEntries(
    Object.entries(runs).map(([mode, rs]) => [
      mode,
      {
        requests_per_sec: median(rs.map((r) => r.requests_per_sec)),
        p50_ms: median(rs.map((r) => r.p50_ms)),
        p99_ms: median(rs.map((r) => r.p99_ms)),
      },
    ]),
  );
  return { runs, summary };
}

/**
 * One measured load after a 3 s warm-up; any non-2xx answer or error fails the benchmark. With `pid`, also what that
 * process spent over the measured load (`cpu`: proc-cpu.mjs's cpuSince), and `raw`, autocannon's own result (its
 * request count, its process's `cpu_seconds`) with the load's wall time in seconds.
 */
export async function measuredLoad(url, options, pid) {
  await autocannon(url, { ...options, duration: 3 });
  const before = pid === undefined ? undefined : cpuOf(pid);
  const started = performance.now();
  const r = await autocannon(url, options);
  const wall = (performance.now() - started) / 1000;
  const cpu = before === undefined ? undefined : cpuSince(before, cpuOf(pid));
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  const summary = { requests_per_sec: Math.round(r.requests.average), p50_ms: r.latency.p50, p99_ms: r.latency.p99 };
  return cpu === undefined ? summary : { ...summary, cpu, raw: { ...r, wall } };
}

/**
 * `bento serve <target> <args>` (the CLI in a child process, as deployed) on a free port with `env` added; resolves
 * with its base URL, its pid and a stop function once its banner lists `/health` (or, for a model served with no service
 * code, `/invocations`). `root` is the checkout whose CLI serves, and where `target` is found: this one, or another
 * version's (versions.mjs).
 */
export function serveBento(args = [], env = {}, target = '.', root = ROOT) {
  const child = spawn(
    process.execPath,
    [join(root, 'framework', 'bin', 'bento.js'), 'serve', target, '--port', '0', '--host', '127.0.0.1', ...args],
    {
      cwd: root,
      env: { ...process.env, BENTO_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const m = /Health: GET (\S+)\/health/.exec(out) ?? /POST (\S+)\/invocations/.exec(out);
      if (!m) return;
      clearInterval(poll);
      resolve({
        base: m[1],
        pid: child.pid,
        stop: () => new Promise((done) => (child.once('exit', done), child.kill('SIGTERM'))),
      });
    }, 50);
    child.once('exit', (code) => (clearInterval(poll), reject(new Error(`bento serve exited ${code}: ${err}`))));
  });
}

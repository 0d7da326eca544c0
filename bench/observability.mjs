// The cost of observability on /predict_image: the same server with metrics and the access log on
// (as shipped: JSON log lines written to /dev/null, so serialisation is paid but no terminal) and with both off
// (BENTO_METRICS=off, BENTO_ACCESS_LOG=off), alternated on, off, on, off... in one run; autocannon in a child
// process, c=64, loopback. Prints a Markdown table and writes bench/results/observability.json.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProject, startServer } from '@bento-ts/framework';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const work = join(tmpdir(), `bento-bench-obs-${process.pid}`);
mkdirSync(work, { recursive: true });

const boundary = '----bentobench';
const bodyFile = join(work, 'upload.multipart');
writeFileSync(
  bodyFile,
  Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="image"\r\nContent-Type: image/png\r\n\r\n`),
    readFileSync(join(ROOT, 'services', 'vision-classifier', 'samples', 'ankle_boot.png')),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]),
);

function load(url, duration = DURATION) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(ROOT, 'bench', 'lib', 'load.mjs'), url, String(CONNECTIONS), String(duration), `multipart/form-data; boundary=${boundary}`, bodyFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load exited with ${code}`))));
  });
}

async function measure(on) {
  const env = { ...process.env, BENTO_METRICS: on ? 'on' : 'off', BENTO_ACCESS_LOG: on ? 'on' : 'off' };
  const logger = on ? { level: 'info', stream: createWriteStream('/dev/null') } : { level: 'info' };
  const server = await startServer({ project: loadProject(ROOT), port: 0, host: '127.0.0.1', env, logger });
  try {
    await load(`http://127.0.0.1:${server.port}/predict_image`, 3); // warm-up, not counted
    const r = await load(`http://127.0.0.1:${server.port}/predict_image`);
    if (r.non2xx || r.errors) throw new Error(`${r.non2xx} non-2xx, ${r.errors} errors`);
    return { requests_per_sec: Math.round(r.requests.average), p50_ms: r.latency.p50, p99_ms: r.latency.p99 };
  } finally {
    await server.close();
  }
}

const runs = { on: [], off: [] };
for (let i = 0; i < ROUNDS; i++) {
  for (const mode of ['on', 'off']) {
    const r = await measure(mode === 'on');
    runs[mode].push(r);
    process.stderr.write(`round ${i + 1} ${mode}: ${r.requests_per_sec} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms\n`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = Object.fromEntries(
  Object.entries(runs).map(([mode, rs]) => [mode, { requests_per_sec: median(rs.map((r) => r.requests_per_sec)), p50_ms: median(rs.map((r) => r.p50_ms)), p99_ms: median(rs.map((r) => r.p99_ms)) }]),
);
const ratio = summary.on.requests_per_sec / summary.off.requests_per_sec;
const table = [
  `| /predict_image, c=${CONNECTIONS}, ${DURATION} s × ${ROUNDS} rounds (median) | req/s | p50 ms | p99 ms |`,
  '|---|---|---|---|',
  `| metrics + access log on | ${summary.on.requests_per_sec} | ${summary.on.p50_ms} | ${summary.on.p99_ms} |`,
  `| both off | ${summary.off.requests_per_sec} | ${summary.off.p50_ms} | ${summary.off.p99_ms} |`,
  `| on / off | ${ratio.toFixed(3)} | | |`,
].join('\n');
console.log(table);
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', 'observability.json'), JSON.stringify({ date: new Date().toISOString(), connections: CONNECTIONS, duration_s: DURATION, rounds: runs, summary, ratio }, null, 2));
process.exit(0);

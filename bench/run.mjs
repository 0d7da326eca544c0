// make bench: throughput and latency of the example service under concurrent clients,
// with baselines measured in the same run on the same machine:
//   - "ort-direct": the same model run by onnxruntime-node in a plain loop (batch 1, one thread),
//     the ceiling for one worker without HTTP, decoding or preprocessing;
//   - "health": GET /health on the same server, the HTTP floor.
// Results go to bench/results/latest.json and a table on stdout.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '8,64').split(',').map(Number);
const IMAGE = process.env.BENCH_IMAGE ?? `${ROOT}services/vision-classifier/samples/test_image.jpg`;

function multipartBody(file, field = 'image') {
  const boundary = '----bentobench' + Date.now().toString(16);
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="image.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, readFileSync(file), tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}framework/bin/bento.js`, 'serve', ROOT, '--port', '0', '--host', '127.0.0.1'], {
      env: { ...process.env, BENTO_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /Health: GET (http:\/\/[^/]+)\/health/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

function load(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ duration: DURATION, ...opts }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

function summarize(name, connections, r) {
  return {
    name,
    connections,
    requests_per_sec: Math.round(r.requests.average * 10) / 10,
    latency_p50_ms: r.latency.p50,
    latency_p99_ms: r.latency.p99,
    non_2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    total: r.requests.total,
  };
}

/** The model alone: onnxruntime-node in a loop, batch 1, in a child process (one thread, as one runner worker). */
function ortDirect() {
  const script = `
    import ort from 'onnxruntime-node';
    const s = await ort.InferenceSession.create(process.argv[1], { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const x = new ort.Tensor('float32', new Float32Array(3 * 32 * 32).fill(0.1), [1, 3, 32, 32]);
    for (let i = 0; i < 200; i++) await s.run({ input: x });
    const t0 = performance.now(); let n = 0;
    while (performance.now() - t0 < ${Math.min(DURATION, 10)} * 1000) { await s.run({ input: x }); n++; }
    console.log(JSON.stringify({ per_sec: n / ((performance.now() - t0) / 1000) }));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, `${ROOT}services/vision-classifier/model/model.onnx`], {
      cwd: `${ROOT}plugins/onnx`,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out).per_sec) : reject(new Error(`ort-direct exited with ${code}`))));
  });
}

const ortPerSec = await ortDirect();
const { child, url } = await startServer();
const results = [];
try {
  const { body, contentType } = multipartBody(IMAGE);
  const predict = { url: `${url}/predict_image`, method: 'POST', headers: { 'content-type': contentType }, body };
  await load({ ...predict, connections: 8, duration: 3 }); // warm-up
  for (const c of CONNECTIONS) {
    results.push(summarize('health', c, await load({ url: `${url}/health`, connections: c })));
    results.push(summarize('predict_image', c, await load({ ...predict, connections: c })));
  }
} finally {
  child.kill('SIGTERM');
}

const report = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  duration_s: DURATION,
  image: IMAGE.replace(ROOT, ''),
  baseline_ort_direct_per_sec: Math.round(ortPerSec),
  results: results.map((r) => ({
    ...r,
    ratio_to_ort_direct: r.name === 'predict_image' ? Math.round((r.requests_per_sec / ortPerSec) * 1000) / 1000 : undefined,
    ratio_to_health: r.name === 'predict_image' ? Math.round((r.requests_per_sec / results.find((h) => h.name === 'health' && h.connections === r.connections).requests_per_sec) * 1000) / 1000 : undefined,
  })),
};
mkdirSync(`${ROOT}bench/results`, { recursive: true });
writeFileSync(`${ROOT}bench/results/latest.json`, JSON.stringify(report, null, 2) + '\n');
console.log(`\nbaseline ort-direct (model alone, batch 1, 1 thread): ${report.baseline_ort_direct_per_sec} inferences/s`);
console.table(report.results);
console.log('written to bench/results/latest.json');

// The CPU budget of /predict_image: what each stage of a request costs, measured in this run, and the throughput
// those costs allow on this machine's cores once the load generator's share is left out, against what bento serve
// reaches at c=64 and against the multipart ceiling.
//
// Stages, each as CPU microseconds per request, on the bundled classifier's sample (a 28×28 grey PNG):
//   HTTP + multipart  the HTTP ceiling server (lib/http-ceiling.mjs: fastify + @fastify/multipart, fixed answer),
//                     its process's CPU per request at c=64: connection handling, parsing, routing, the reply
//   decode + resize   ImageInput.probe, toPixels and the batch tensor write, in this process, as the HTTP thread
//                     runs them
//   hand-off          a batch of the mean size seen sent through a piscina pool to a worker that does nothing and
//                     answers a [batch, 10] output, transferred both ways as the runner pool does; per request
//   inference         onnxruntime-node on one thread at the mean batch size seen (lib/ort-ceiling.mjs), per image
//   answer            toPredictions and JSON of the answer
// The load generator's own CPU per request comes from autocannon's process (lib/load.mjs).
//
// bento serve runs as deployed (the CLI in a child process, default settings); its CPU is read from /proc by thread
// (lib/proc-cpu.mjs), and its mean batch size from its /metrics. Writes results/budget.json; prints Markdown.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Piscina from 'piscina';
import { parse } from 'yaml';
import { ImageInput, pixelsToTensor, preprocessSpecFor, toPredictions } from '@bento-ts/framework';
import { measuredLoad, sampleUpload, serveBento, writeResult } from './lib/common.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL_DIR = join(ROOT, 'services', 'vision-classifier', 'model');
const SAMPLE = join(ROOT, 'services', 'vision-classifier', 'samples', 'ankle_boot.png');
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CORES = availableParallelism();
const upload = sampleUpload('budget');
const round = (x, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;

/** CPU microseconds per call of `fn`, over `seconds` of calls after a warm-up, with every thread of this process. */
async function cpuPerCall(fn, seconds = 2) {
  const warm = performance.now();
  while (performance.now() - warm < 300) await fn();
  const t0 = performance.now();
  const cpu = process.cpuUsage();
  let calls = 0;
  while (performance.now() - t0 < seconds * 1000) {
    await fn();
    calls++;
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / calls;
}

/** Load at c=64 on `url` after a warm-up, with the server's CPU (process `pid`) over the measured run. */
async function loaded(url, pid) {
  const options = { connections: 64, duration: DURATION, body: upload.path, contentType: upload.contentType };
  const { cpu, raw, ...summary } = await measuredLoad(url, options, pid);
  const requests = raw.requests.total;
  return {
    ...summary,
    server_us_per_request: (cpu.total * 1e6) / requests,
    server_threads_us_per_request: Object.fromEntries(
      Object.entries(cpu.threads).map(([name, s]) => [name, (s * 1e6) / requests]),
    ),
    loadgen_us_per_request: (raw.cpu_seconds * 1e6) / requests,
    // Server and load generator together, as a share of every core over the run.
    cores_busy: (cpu.total + raw.cpu_seconds) / raw.wall / CORES,
  };
}

/** bento_runner_batch_size's sum and count from a /metrics page. */
async function batchCounters(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (suffix) =>
    [...text.matchAll(new RegExp(`^bento_runner_batch_size_${suffix}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
  return { sum: read('sum'), count: read('count') };
}

// ---- the served path and the multipart ceiling, each at c=64 ----
console.error('measuring bento serve at c=64…');
const served = await serveBento();
let bento;
let meanBatch;
try {
  const before = await batchCounters(served.base);
  bento = await loaded(`${served.base}/predict_image`, served.pid);
  const after = await batchCounters(served.base);
  meanBatch = (after.sum - before.sum) / (after.count - before.count);
} finally {
  await served.stop();
}

console.error('measuring the multipart ceiling at c=64…');
const ceilingProcess = spawn(process.execPath, [join(ROOT, 'bench', 'lib', 'http-ceiling.mjs')], {
  cwd: ROOT,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const ceilingUrl = await new Promise((resolve) => ceilingProcess.stdout.once('data', (d) => resolve(String(d).trim())));
let ceiling;
try {
  ceiling = await loaded(`${ceilingUrl}/predict_image`, ceilingProcess.pid);
} finally {
  ceilingProcess.kill();
}

// ---- the stages, one at a time ----
console.error(`measuring the stages (mean batch size seen: ${round(meanBatch, 1)})…`);
const mlmodel = parse(readFileSync(join(MODEL_DIR, 'MLmodel'), 'utf8'));
const spec = preprocessSpecFor({ name: 'input', shape: [-1, 3, 32, 32], dtype: 'float32' }, mlmodel.metadata);
const png = readFileSync(SAMPLE);
const decode = await cpuPerCall(async () => {
  const image = await ImageInput.probe(png, 1e8);
  pixelsToTensor([await image.toPixels(spec)], spec);
});

const batch = Math.max(1, Math.round(meanBatch));
const pool = new Piscina({ filename: join(ROOT, 'bench', 'lib', 'echo-worker.mjs'), minThreads: 1, maxThreads: 1 });
const handOff =
  (await cpuPerCall(async () => {
    const data = new Float32Array(batch * 3 * 32 * 32);
    await pool.run({ data, classes: 10 }, { transferList: [data.buffer] });
  })) / batch;
await pool.destroy();

const ort = await new Promise((resolve, reject) => {
  const p = spawn(
    process.execPath,
    [join(ROOT, 'bench', 'lib', 'ort-ceiling.mjs'), join(MODEL_DIR, 'model.onnx'), '3x32x32', `1,${batch}`, '3', '1'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`ort-ceiling exited ${code}`))));
});
// One intra-op thread: its wall time per batch is its CPU time.
const inference = (ort[batch].ms_per_batch * 1000) / batch;

const classes = mlmodel.metadata.classes;
const logits = { dtype: 'float32', shape: [1, 10], data: new Float32Array(10).map((_, i) => i / 10) };
const answer = await cpuPerCall(() => JSON.stringify(toPredictions(logits, classes, 'logits')[0]));

// ---- the budget ----
const stages = {
  'HTTP + multipart': ceiling.server_us_per_request,
  'decode + resize': decode,
  'hand-off': handOff,
  [`inference (batch ${batch})`]: inference,
  answer,
};
const stageSum = Object.values(stages).reduce((a, b) => a + b, 0);
const loadgen = bento.loadgen_us_per_request;
// Requests per second the cores allow when each costs the stages' sum plus the load generator's share.
const budgetLimit = (CORES * 1e6) / (stageSum + loadgen);
const measuredLimit = (CORES * 1e6) / (bento.server_us_per_request + loadgen);
const report = {
  date: new Date().toISOString(),
  node: process.version,
  cores: CORES,
  duration_s: DURATION,
  mean_batch_size: round(meanBatch, 1),
  stages_us_per_request: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(v, 1)])),
  loadgen_us_per_request: round(loadgen, 1),
  budget_limit_requests_per_sec: Math.round(budgetLimit),
  served: bento,
  measured_limit_requests_per_sec: Math.round(measuredLimit),
  multipart_ceiling: ceiling,
  of_budget_limit: round(bento.requests_per_sec / budgetLimit, 3),
  of_multipart_ceiling: round(bento.requests_per_sec / ceiling.requests_per_sec, 3),
};

const us = (x) => round(x, 1);
const md = [
  `CPU budget of /predict_image (28×28 PNG, ${CORES} cores, ${process.version}, c=64 for ${DURATION} s):`,
  '',
  '| stage | CPU µs per request |',
  '|---|---|',
  ...Object.entries(stages).map(([k, v]) => `| ${k} | ${us(v)} |`),
  `| **server, sum of the stages** | **${us(stageSum)}** |`,
  `| load generator (autocannon) | ${us(loadgen)} |`,
  '',
  `Budget: ${CORES} cores / (${us(stageSum)} + ${us(loadgen)}) µs = **${Math.round(budgetLimit)} req/s**.`,
  '',
  '| at c=64 | req/s | p50 ms | p99 ms | server CPU µs/request | by thread | cores busy |',
  '|---|---|---|---|---|---|---|',
  ...[
    ['bento serve', bento],
    ['multipart ceiling', ceiling],
  ].map(
    ([name, r]) =>
      `| ${name} | ${r.requests_per_sec} | ${r.p50_ms} | ${r.p99_ms} | ${us(r.server_us_per_request)} | ${Object.entries(
        r.server_threads_us_per_request,
      )
        .filter(([, v]) => v >= 1)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${us(v)}`)
        .join(', ')} | ${Math.round(r.cores_busy * 100)}% |`,
  ),
  '',
  `bento serve: ${report.of_budget_limit}× the budget's limit, ${report.of_multipart_ceiling}× the multipart ceiling; ` +
    `with its measured CPU per request (${us(bento.server_us_per_request)} µs) the cores allow ${Math.round(measuredLimit)} req/s.`,
].join('\n');
writeResult('budget.json', report);
console.log(md);

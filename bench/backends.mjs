// The classifier on its two backends, same trained weights, same load: ONNX Runtime (model/) against TF.js on
// its WebAssembly engine (BACKEND=tfjs, model-tfjs/), alternated onnx, tfjs, onnx... in one run. Each round serves
// /predict_image with `bento serve` (a child process) to autocannon (another, c=64, loopback), then reads the
// server's own measure of the model from /metrics: the mean time a batch took in the runner and the mean batch
// size, so the model's cost shows apart from HTTP and preprocessing. Prints a Markdown table and writes
// bench/results/backends.json.
import { alternated, measuredLoad, sampleUpload, serveBento, writeResult } from './lib/common.mjs';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'onnx,tfjs').split(',');
const upload = sampleUpload('backends');

/** Sum and count of a histogram in a Prometheus exposition (all label sets together). */
function histogram(text, name) {
  const total = (suffix) =>
    [...text.matchAll(new RegExp(`^${name}_${suffix}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
  return { sum: total('sum'), count: total('count') };
}

const model = {};
async function measure(backend) {
  const server = await serveBento([], { BACKEND: backend });
  try {
    const before = await (await fetch(`${server.base}/metrics`)).text();
    const load = await measuredLoad(`${server.base}/predict_image`, {
      connections: CONNECTIONS,
      duration: DURATION,
      body: upload.path,
      contentType: upload.contentType,
    });
    const after = await (await fetch(`${server.base}/metrics`)).text();
    const [t0, t1] = [
      histogram(before, 'bento_runner_inference_seconds'),
      histogram(after, 'bento_runner_inference_seconds'),
    ];
    const [b0, b1] = [histogram(before, 'bento_runner_batch_size'), histogram(after, 'bento_runner_batch_size')];
    const batches = t1.count - t0.count;
    (model[backend] ??= []).push({
      batch_ms: ((t1.sum - t0.sum) / batches) * 1000,
      items_per_batch: (b1.sum - b0.sum) / (b1.count - b0.count),
      item_ms: ((t1.sum - t0.sum) * 1000) / (b1.sum - b0.sum),
    });
    return load;
  } finally {
    await server.stop();
  }
}

const { runs, summary } = await alternated(BACKENDS, ROUNDS, measure);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const b of BACKENDS)
  summary[b].model_ms_per_item = Math.round(median(model[b].map((m) => m.item_ms)) * 1000) / 1000;
for (const b of BACKENDS)
  summary[b].items_per_batch = Math.round(median(model[b].map((m) => m.items_per_batch)) * 10) / 10;
const base = summary[BACKENDS[0]];
const table = [
  `| /predict_image, c=${CONNECTIONS}, ${DURATION} s × ${ROUNDS} rounds (median) | req/s | p50 ms | p99 ms | vs ${BACKENDS[0]} | model ms per image (items per batch) | model time vs ${BACKENDS[0]} |`,
  '|---|---|---|---|---|---|---|',
  ...BACKENDS.map((b) => {
    const s = summary[b];
    return `| BACKEND=${b} | ${s.requests_per_sec} | ${s.p50_ms} | ${s.p99_ms} | ${(s.requests_per_sec / base.requests_per_sec).toFixed(3)} | ${s.model_ms_per_item} (${s.items_per_batch}) | ${(s.model_ms_per_item / base.model_ms_per_item).toFixed(2)}× |`;
  }),
].join('\n');
console.log(table);
writeResult('backends.json', {
  date: new Date().toISOString(),
  connections: CONNECTIONS,
  duration_s: DURATION,
  rounds: runs,
  model,
  summary,
});
process.exit(0);

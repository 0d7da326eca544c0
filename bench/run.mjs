// make bench: what bento-ts serves, as fractions of ceilings measured in the same run on the same machine.
//
//   raw ceiling   onnxruntime-node in-process, same model, best batch size, same thread count (lib/ort-ceiling.mjs)
//   HTTP ceiling  a minimal fastify route taking the same multipart upload and answering fixed JSON (lib/http-ceiling.mjs),
//                 at each concurrency bento-ts is loaded at
//   bento-ts      /predict_image at c = 1, 8, 64 for the bundled classifier (sample PNG) and ResNet-18 at 224×224
//                 (random weights, bench/models/make_resnet18.py; JPEG), and /predict_batch with 32 images.
//
// Load comes from autocannon in a child process, on loopback, bounded in time. The server runs in this
// process so the batch sizes come from the framework's own dispatcher counters.
// Output: a Markdown table on stdout, bench/results/latest.json and bench/results/latest.md.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadProject, startServer } from '@bento-ts/framework';
import { autocannon, multipartFile as sharedMultipartFile, writeResult } from './lib/common.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONCURRENCY = (process.env.BENCH_CONNECTIONS ?? '1,8,64').split(',').map(Number);
const SKIP_RESNET = process.env.BENCH_SKIP_RESNET === '1';
const SAMPLES = join(ROOT, 'services', 'vision-classifier', 'samples');
const BUNDLED_MODEL = join(ROOT, 'services', 'vision-classifier', 'model', 'model.onnx');
const RESNET_DIR = join(ROOT, 'bench', 'models', 'resnet18');
const work = join(tmpdir(), `bento-bench-${process.pid}`);
mkdirSync(work, { recursive: true });

function child(args, options = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], ...options });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} exited with ${code}`))));
  });
}

const multipartFile = (file, type) => sharedMultipartFile(file, type, work);

async function load(url, { connections, body, contentType, duration = DURATION }) {
  const r = await autocannon(url, { connections, duration, body, contentType });
  return {
    requests_per_sec: Math.round(r.requests.average),
    p50_ms: r.latency.p50,
    p90_ms: r.latency.p90,
    p99_ms: r.latency.p99,
    non_2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

/** Sequential single-client latency with sub-millisecond precision. */
async function latency(url, upload) {
  return JSON.parse(await child([join(ROOT, 'bench', 'lib', 'latency.mjs'), url, upload.contentType, upload.path]));
}

async function ortCeiling(model, shape, sizes) {
  const out = JSON.parse(
    await child([join(ROOT, 'bench', 'lib', 'ort-ceiling.mjs'), model, shape, sizes.join(','), '3', '1'], {
      cwd: ROOT,
    }),
  );
  const best = Object.entries(out).sort((a, b) => b[1].items_per_sec - a[1].items_per_sec)[0];
  return { per_batch_size: out, best_batch_size: Number(best[0]), items_per_sec: Math.round(best[1].items_per_sec) };
}

async function httpCeiling(upload) {
  const server = spawn(process.execPath, [join(ROOT, 'bench', 'lib', 'http-ceiling.mjs')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(String(d).trim())));
  try {
    await load(`${url}/predict_image`, {
      connections: 8,
      body: upload.path,
      contentType: upload.contentType,
      duration: 2,
    });
    // At each concurrency bento-ts is loaded at, so every row has its ceiling; the top one is the headline.
    const byConcurrency = {};
    for (const connections of CONCURRENCY)
      byConcurrency[connections] = await load(`${url}/predict_image`, {
        connections,
        body: upload.path,
        contentType: upload.contentType,
      });
    const top = Math.max(...CONCURRENCY);
    return {
      ...byConcurrency[top],
      concurrency: top,
      by_concurrency: byConcurrency,
      c1_latency: await latency(`${url}/predict_image`, upload),
    };
  } finally {
    server.kill();
  }
}

/** Serves the repository's service in this process and measures it; batch sizes from the dispatcher's counters. */
async function serve(env, runs) {
  const server = await startServer({
    project: loadProject(ROOT),
    port: 0,
    host: '127.0.0.1',
    env: { ...process.env, ...env },
    logger: false,
  });
  const dispatcher = server.runners[0].dispatchers.get('classify');
  const rows = [];
  try {
    const first = runs.find((r) => r.path === '/predict_image');
    if (first)
      rows.c1_latency = await latency(`${server.url}/predict_image`, {
        path: first.body,
        contentType: first.contentType,
      });
    for (const run of runs) {
      if (run.warmup !== false)
        await load(`${server.url}${run.path}`, { ...run, connections: Math.min(run.connections, 8), duration: 2 });
      const before = dispatcher.stats();
      const result = await load(`${server.url}${run.path}`, run);
      const after = dispatcher.stats();
      const batches = after.batches - before.batches;
      rows.push({
        ...run.label,
        concurrency: run.connections,
        ...result,
        mean_batch_size: batches ? Math.round(((after.items - before.items) / batches) * 10) / 10 : 0,
        // Batches the dispatcher held back for more work (its cost model said the next item was close).
        held_batches: batches ? Math.round(((after.holds - before.holds) / batches) * 1000) / 1000 : 0,
      });
    }
  } finally {
    await server.close();
  }
  return rows;
}

const pct = (x) => `${Math.round(x * 1000) / 10}%`;
const round3 = (x) => Math.round(x * 1000) / 1000;

// ---- inputs ----
const png = multipartFile(join(SAMPLES, 'ankle_boot.png'), 'image/png');
const jpeg224 = join(work, 'photo224.jpg');
writeFileSync(jpeg224, await sharp(join(SAMPLES, 'sneaker_rgb.png')).resize(224, 224).jpeg({ quality: 90 }).toBuffer());
const jpeg = multipartFile(jpeg224, 'image/jpeg');
const batchBody = join(work, 'batch32.json');
const four = JSON.parse(readFileSync(join(SAMPLES, 'batch_4.json'), 'utf8')).input;
writeFileSync(batchBody, JSON.stringify({ input: Array.from({ length: 32 }, (_, i) => four[i % 4]) }));

if (!SKIP_RESNET && !existsSync(join(RESNET_DIR, 'model.onnx'))) {
  const made = spawnSync('/usr/bin/python3', [join(ROOT, 'bench', 'models', 'make_resnet18.py')], { stdio: 'inherit' });
  if (made.status !== 0)
    throw new Error(
      'could not make the ResNet-18 model (needs /usr/bin/python3 with python3-torch and python3-torchvision); BENCH_SKIP_RESNET=1 skips it',
    );
}

// ---- ceilings ----
console.error('measuring ceilings…');
const rawBundled = await ortCeiling(BUNDLED_MODEL, '3x32x32', [1, 8, 32, 64]);
const rawResnet = SKIP_RESNET ? undefined : await ortCeiling(join(RESNET_DIR, 'model.onnx'), '3x224x224', [1, 4, 16]);
const http = await httpCeiling(png);

// ---- bento-ts ----
console.error('measuring bento-ts…');
const bundledRuns = CONCURRENCY.map((c) => ({
  label: { model: 'bundled', route: '/predict_image', input: 'PNG 28×28' },
  path: '/predict_image',
  connections: c,
  body: png.path,
  contentType: png.contentType,
}));
bundledRuns.push({
  label: { model: 'bundled', route: '/predict_batch', input: '32 images 32×32 JSON' },
  path: '/predict_batch',
  connections: 8,
  body: batchBody,
  contentType: 'application/json',
});
const rows = await serve({}, bundledRuns);
const c1 = { bundled: rows.c1_latency };
if (!SKIP_RESNET) {
  const resnetRuns = CONCURRENCY.map((c) => ({
    label: { model: 'resnet18', route: '/predict_image', input: 'JPEG 224×224' },
    path: '/predict_image',
    connections: c,
    body: jpeg.path,
    contentType: jpeg.contentType,
  }));
  const resnetRows = await serve(
    { MODEL_URI: RESNET_DIR, BENTO_MAX_BATCH_SIZE: '16', BENTO_MAX_LATENCY_MS: '10000' },
    resnetRuns,
  );
  c1.resnet18 = resnetRows.c1_latency;
  rows.push(...resnetRows);
}
// Added latency at c=1: a served request's p50 minus one raw batch-1 inference and minus the HTTP ceiling's own p50
// (the client, the loopback and a minimal multipart route): what bento-ts adds on top of both.
const rawBatch1 = (raw) => raw.per_batch_size[1].ms_per_batch;
const addedLatency = {
  bundled: {
    served_p50_ms: c1.bundled.p50_ms,
    raw_inference_ms: round3(rawBatch1(rawBundled)),
    http_ceiling_p50_ms: http.c1_latency.p50_ms,
    added_ms: round3(c1.bundled.p50_ms - rawBatch1(rawBundled) - http.c1_latency.p50_ms),
  },
};
if (c1.resnet18) {
  addedLatency.resnet18 = {
    served_p50_ms: c1.resnet18.p50_ms,
    raw_inference_ms: round3(rawBatch1(rawResnet)),
    http_ceiling_p50_ms: http.c1_latency.p50_ms,
    added_ms: round3(c1.resnet18.p50_ms - rawBatch1(rawResnet) - http.c1_latency.p50_ms),
  };
}

for (const row of rows) {
  const raw = row.model === 'bundled' ? rawBundled : rawResnet;
  const items = row.route === '/predict_batch' ? row.requests_per_sec * 32 : row.requests_per_sec;
  row.fraction_of_raw_ceiling = Math.round((items / raw.items_per_sec) * 1000) / 1000;
  if (row.model === 'bundled' && row.route === '/predict_image')
    row.fraction_of_http_ceiling =
      Math.round((row.requests_per_sec / http.by_concurrency[row.concurrency].requests_per_sec) * 1000) / 1000;
}

const report = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
  duration_s: DURATION,
  ceilings: { raw_bundled: rawBundled, raw_resnet18: rawResnet, http_multipart: http },
  c1_added_latency: addedLatency,
  results: rows,
};
const md = [
  `Ceilings: raw bundled model ${rawBundled.items_per_sec} items/s (batch ${rawBundled.best_batch_size}, 1 thread)` +
    (rawResnet ? `; raw ResNet-18 ${rawResnet.items_per_sec} items/s (batch ${rawResnet.best_batch_size})` : '') +
    `; HTTP multipart route ${Object.entries(http.by_concurrency)
      .map(([c, r]) => `${r.requests_per_sec} req/s at c=${c} (p99 ${r.p99_ms} ms)`)
      .join(', ')}.`,
  '',
  ...Object.entries(addedLatency).map(
    ([m, a]) =>
      `c=1 added latency (${m}): p50 ${a.served_p50_ms} ms served − ${a.raw_inference_ms} ms raw inference − ${a.http_ceiling_p50_ms} ms HTTP ceiling = ${a.added_ms} ms.`,
  ),
  '',
  '| model | route | input | c | req/s | p50 ms | p90 ms | p99 ms | mean batch | held | of raw ceiling | of HTTP ceiling | non-2xx |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.model} | ${r.route} | ${r.input} | ${r.concurrency} | ${r.requests_per_sec} | ${r.p50_ms} | ${r.p90_ms} | ${r.p99_ms} | ${r.mean_batch_size} | ${pct(r.held_batches)} | ${pct(r.fraction_of_raw_ceiling)} | ${r.fraction_of_http_ceiling === undefined ? '' : pct(r.fraction_of_http_ceiling)} | ${r.non_2xx + r.errors} |`,
  ),
].join('\n');
writeResult('latest.json', report);
writeResult('latest.md', md);
console.log(md);

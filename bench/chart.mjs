// make bench's results as one picture (bench/results/chart.svg, shown in bench/README.md), drawn with Vega-Lite from
// the JSON the other scripts wrote in the same run:
//   - throughput and p99 against concurrency: bento-ts's /predict_image and the multipart ceiling (run.mjs), and
//     bento serve against mlflow models serve on the same two MLflow models (mlflow-serve.mjs);
//   - the CPU a request costs: the budget's stages beside what bento serve spent, by thread (budget.mjs).
// A result file that is missing (a partial make bench) leaves its part out.
//
//   node bench/chart.mjs [out.svg]     default bench/results/chart.svg; bench/chart.svg is the run bench/README.md records
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vega from 'vega';
import { compile } from 'vega-lite';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const read = (name) => {
  const file = join(RESULTS, name);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
};

/** One point a series at one concurrency. */
const points = [];
// p99 is drawn on a log axis, which has no 0: a p99 under half a millisecond (autocannon's 0) is drawn at 0.5.
const point = (series, concurrency, r) =>
  points.push({ series, concurrency, requests_per_sec: r.requests_per_sec, p99_ms: Math.max(r.p99_ms, 0.5) });

const latest = read('latest.json');
if (latest) {
  for (const r of latest.results.filter((x) => x.model === 'bundled' && x.route === '/predict_image'))
    point('bento-ts /predict_image (PNG)', r.concurrency, r);
  for (const [c, r] of Object.entries(latest.ceilings.http_multipart?.by_concurrency ?? {}))
    point('multipart ceiling (fastify, fixed reply)', Number(c), r);
}
const mlflow = read('mlflow-serve.json');
if (mlflow) {
  for (const [key, { summary }] of Object.entries(mlflow.results)) {
    const [model, c] = key.split(' c=');
    point(`bento serve, ${model} /invocations`, Number(c), summary.bento);
    point(`mlflow models serve, ${model} /invocations`, Number(c), summary.mlflow);
  }
}

const stages = [];
const budget = read('budget.json');
if (budget) {
  for (const [stage, us] of Object.entries(budget.stages_us_per_request))
    stages.push({ bar: 'budget: each stage alone', part: stage, us });
  stages.push({ bar: 'budget: each stage alone', part: 'load generator', us: budget.loadgen_us_per_request });
  const threads = { MainThread: 'HTTP thread', WorkerThread: 'runner worker', V8Worker: 'GC and compiler threads' };
  for (const [thread, us] of Object.entries(budget.served.server_threads_us_per_request))
    if (us > 0) stages.push({ bar: 'bento serve at c=64, measured', part: threads[thread] ?? thread, us });
  stages.push({
    bar: 'bento serve at c=64, measured',
    part: 'load generator',
    us: budget.served.loadgen_us_per_request,
  });
}

const byConcurrency = (field, title) => ({
  width: 340,
  height: 260,
  mark: { type: 'line', point: true },
  encoding: {
    x: { field: 'concurrency', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'concurrent connections' },
    y: { field, type: 'quantitative', scale: { type: 'log' }, title },
    color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 480 } },
    tooltip: [{ field: 'series' }, { field: 'concurrency' }, { field }],
  },
});

const charts = [];
if (points.length > 0)
  charts.push({
    data: { values: points },
    hconcat: [byConcurrency('requests_per_sec', 'requests per second (log)'), byConcurrency('p99_ms', 'p99 ms (log)')],
    resolve: { scale: { color: 'shared' } },
  });
if (stages.length > 0)
  charts.push({
    data: { values: stages },
    title: `CPU per request, µs (${budget.cores} cores; budget limit ${budget.budget_limit_requests_per_sec} req/s, served ${budget.served.requests_per_sec} req/s)`,
    width: 700,
    height: 90,
    mark: 'bar',
    encoding: {
      y: { field: 'bar', type: 'nominal', title: null, axis: { labelLimit: 260 } },
      x: { field: 'us', type: 'quantitative', aggregate: 'sum', title: 'µs of CPU per request' },
      color: { field: 'part', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 4, labelLimit: 260 } },
      tooltip: [{ field: 'part' }, { field: 'us', format: '.1f' }],
    },
  });
if (charts.length === 0) throw new Error(`no results in ${RESULTS}: run make bench first`);

const date = (latest ?? budget ?? mlflow).date.slice(0, 10);
const spec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title: { text: `make bench, ${date}`, anchor: 'start' },
  background: 'white',
  padding: 12,
  vconcat: charts,
  // The two parts' colours say different things: series in one, stages and threads in the other.
  resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
  config: { font: 'sans-serif', legend: { labelFontSize: 11 }, axis: { labelFontSize: 11, titleFontSize: 12 } },
};
const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
const svg = await view.toSVG();
const out = resolve(process.argv[2] ?? join(RESULTS, 'chart.svg'));
writeFileSync(out, svg);
console.log(`wrote ${out} (${points.length} points, ${stages.length} CPU parts)`);

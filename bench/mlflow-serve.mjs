// `bento serve <model>` against `mlflow models serve -m <model>` on the same MLflow models (bench/models/
// make_mlflow_models.py: a scikit-learn pipeline and the seed's PyTorch CNN, as local MLflow model directories),
// the same /invocations body, at c=1, 8 and 64. Both servers run as deployed, one at a time under load (the other
// idle), in alternated rounds, each load after a 3 s warm-up; MLflow serves with its defaults (one uvicorn worker,
// --env-manager local), bento-ts with its own (the converted model, adaptive batching). Prints a Markdown table of
// requests per second and p99 with their ratios, and writes bench/results/mlflow-serve.json.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alternated, measuredLoad, serveBento, writeResult } from './lib/common.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = (process.env.BENCH_CONNECTIONS ?? '1,8,64').split(',').map(Number);
const MODELS = (process.env.BENCH_MODELS ?? 'sklearn,pytorch').split(',');
// The MLflow (and Python) each model is made and served with, and the Python that converts it for bento-ts.
const VENV = { sklearn: join(ROOT, '.venv'), pytorch: join(ROOT, '.venv-mlflow2') };
const work = join(tmpdir(), `bento-bench-mlflow-${process.pid}`);
mkdirSync(work, { recursive: true });

function freePort() {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function mlflowServe(venv, model) {
  const port = await freePort();
  const bin = join(venv, 'bin');
  const child = spawn(
    join(bin, 'mlflow'),
    ['models', 'serve', '-m', model, '--env-manager', 'local', '-h', '127.0.0.1', '-p', String(port)],
    {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    },
  );
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`mlflow models serve exited ${child.exitCode}: ${err.slice(-2000)}`);
    if (
      await fetch(`${base}/ping`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 600) throw new Error('mlflow models serve did not start in 150 s');
    await new Promise((r) => setTimeout(r, 250));
  }
  return { base, stop: () => new Promise((done) => (child.once('exit', done), process.kill(-child.pid, 'SIGTERM'))) };
}

const results = {};
const rows = [];
for (const name of MODELS) {
  const venv = VENV[name];
  execFileSync(join(venv, 'bin', 'python'), [join(ROOT, 'bench', 'models', 'make_mlflow_models.py'), name, work], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const model = join(work, name);
  const body = join(work, `${name}.json`);
  const servers = {
    mlflow: await mlflowServe(venv, model),
    // Converted once (not measured) with the same venv's Python, before the load starts.
    bento: await serveBento(
      [],
      { BENTO_HOME: join(work, 'bento-home'), BENTO_CONVERT_PYTHON: join(venv, 'bin', 'python') },
      model,
    ),
  };
  try {
    for (const connections of CONCURRENCY) {
      const { runs, summary } = await alternated(['mlflow', 'bento'], ROUNDS, (server) =>
        measuredLoad(`${servers[server].base}/invocations`, {
          connections,
          duration: DURATION,
          body,
          contentType: 'application/json',
        }),
      );
      results[`${name} c=${connections}`] = { runs, summary };
      const [m, b] = [summary.mlflow, summary.bento];
      // Each round's ratio beside the medians': a median can hide one round below a target.
      const perRound = runs.bento.map(
        (r, i) => `${(r.requests_per_sec / runs.mlflow[i].requests_per_sec).toFixed(1)}×`,
      );
      rows.push(
        `| ${name} | ${connections} | ${m.requests_per_sec} | ${m.p99_ms} | ${b.requests_per_sec} | ${b.p99_ms} | ${(b.requests_per_sec / m.requests_per_sec).toFixed(1)}× | ${perRound.join(', ')} | ${(m.p99_ms / Math.max(b.p99_ms, 1)).toFixed(1)}× |`,
      );
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
}
const table = [
  `| model | c | mlflow models serve req/s | p99 ms | bento serve req/s | p99 ms | throughput, bento-ts / MLflow | each round | p99, MLflow / bento-ts |`,
  '|---|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n');
console.log(
  `/invocations, ${DURATION} s per load after a 3 s warm-up, ${ROUNDS} alternated rounds (medians)\n\n${table}`,
);
writeResult('mlflow-serve.json', { date: new Date().toISOString(), duration_s: DURATION, results });

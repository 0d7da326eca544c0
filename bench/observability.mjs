// The cost of observability on /predict_image: the same server with metrics and the access log on
// (as shipped: JSON log lines written to /dev/null, so serialisation is paid but no terminal), with both off
// (BENTO_METRICS=off, BENTO_ACCESS_LOG=off), and, where infra/install.sh has built Jaeger, with OpenTelemetry
// tracing on as well (OTLP/HTTP to a local Jaeger; every request, and one in ten), alternated in one run; autocannon in a child process, c=64,
// loopback. Prints a Markdown table and writes bench/results/observability.json.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProject, startServer } from '@bento-ts/framework';
import { alternated, measuredLoad, sampleUpload, writeResult } from './lib/common.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const JAEGER = join(ROOT, '.stack-bin', 'jaeger');
const upload = sampleUpload('obs');

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A local Jaeger v2 to receive the spans, as the tracing tests run it; undefined where it is not built. */
async function startJaeger() {
  if (!existsSync(JAEGER)) return undefined;
  const ports = {};
  for (const name of ['OTLP_HTTP', 'OTLP_GRPC', 'QUERY', 'QUERY_GRPC', 'HEALTH'])
    ports[`JAEGER_${name}_PORT`] = String(await freePort());
  const child = spawn(JAEGER, ['--config', `file:${join(ROOT, 'infra', 'jaeger', 'config.yaml')}`], {
    env: { ...process.env, ...ports, JAEGER_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`http://127.0.0.1:${ports.JAEGER_HEALTH_PORT}/status`).catch(() => undefined);
    if (res?.status === 200)
      return { endpoint: `http://127.0.0.1:${ports.JAEGER_OTLP_HTTP_PORT}`, stop: () => child.kill('SIGTERM') };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('jaeger did not start');
}

const TRACED_MODES = new Set(['traced', 'sampled']);
const jaeger = (process.env.BENCH_MODES ?? 'traced').split(',').some((m) => TRACED_MODES.has(m))
  ? await startJaeger()
  : undefined;
// BENCH_MODES picks among on, off, metrics (metrics only), log (access log only), traced, sampled.
const MODES = (process.env.BENCH_MODES ?? 'on,off,traced,sampled')
  .split(',')
  .filter((m) => jaeger || !TRACED_MODES.has(m));
// What each tracing mode adds to the environment; `sampled` keeps one trace in ten, as production setups often do.
const TRACING = {
  traced: () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.endpoint }),
  sampled: () => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.endpoint,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.1',
  }),
};

async function measure(mode) {
  const metrics = mode !== 'off' && mode !== 'log';
  const accessLog = mode !== 'off' && mode !== 'metrics';
  const env = { ...process.env, BENTO_METRICS: metrics ? 'on' : 'off', BENTO_ACCESS_LOG: accessLog ? 'on' : 'off' };
  // The OpenTelemetry SDK reads its settings from the process environment.
  const tracing = TRACING[mode]?.() ?? {};
  for (const vars of [process.env, env]) {
    for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG'])
      delete vars[name];
    Object.assign(vars, tracing);
  }
  const logger = accessLog ? { level: 'info', stream: createWriteStream('/dev/null') } : { level: 'info' };
  const server = await startServer({ project: loadProject(ROOT), port: 0, host: '127.0.0.1', env, logger });
  try {
    return await measuredLoad(`http://127.0.0.1:${server.port}/predict_image`, {
      connections: CONNECTIONS,
      duration: DURATION,
      body: upload.path,
      contentType: upload.contentType,
    });
  } finally {
    await server.close();
  }
}

const { runs, summary } = await alternated(MODES, ROUNDS, measure);
jaeger?.stop();
const ratio = summary.on && summary.off ? summary.on.requests_per_sec / summary.off.requests_per_sec : undefined;
const LABELS = {
  on: 'metrics + access log on',
  off: 'both off',
  metrics: 'metrics only',
  log: 'access log only',
  traced: 'metrics + access log + tracing, every request (OTLP to a Jaeger on the same cores)',
  sampled: 'metrics + access log + tracing, 1 in 10 sampled',
};
const baseline = summary.off ?? summary[MODES[0]];
const row = (mode) =>
  `| ${LABELS[mode]} | ${summary[mode].requests_per_sec} | ${summary[mode].p50_ms} | ${summary[mode].p99_ms} | ${(summary[mode].requests_per_sec / baseline.requests_per_sec).toFixed(3)} |`;
const table = [
  `| /predict_image, c=${CONNECTIONS}, ${DURATION} s × ${ROUNDS} rounds (median) | req/s | p50 ms | p99 ms | vs ${summary.off ? 'off' : MODES[0]} |`,
  '|---|---|---|---|---|',
  ...MODES.map(row),
].join('\n');
console.log(table);
writeResult('observability.json', {
  date: new Date().toISOString(),
  connections: CONNECTIONS,
  duration_s: DURATION,
  rounds: runs,
  summary,
  ratio,
});
process.exit(0);

// The cost of observability on /predict_image: the same server with metrics and the access log on
// (as shipped: JSON log lines written to /dev/null, so serialisation is paid but no terminal), with both off
// (BENTO_METRICS=off, BENTO_ACCESS_LOG=off), and, where infra/install.sh has built Jaeger, with OpenTelemetry
// tracing on as well (OTLP/HTTP to a local Jaeger), alternated in one run; autocannon in a child process, c=64,
// loopback. Prints a Markdown table and writes bench/results/observability.json.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProject, startServer } from '@bento-ts/framework';
import { alternated, measuredLoad, multipartFile } from './lib/common.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const JAEGER = join(ROOT, '.stack-bin', 'jaeger');
const work = join(tmpdir(), `bento-bench-obs-${process.pid}`);
mkdirSync(work, { recursive: true });
const upload = multipartFile(join(ROOT, 'services', 'vision-classifier', 'samples', 'ankle_boot.png'), 'image/png', work);

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
  for (const name of ['OTLP_HTTP', 'OTLP_GRPC', 'QUERY', 'QUERY_GRPC', 'HEALTH']) ports[`JAEGER_${name}_PORT`] = String(await freePort());
  const child = spawn(JAEGER, ['--config', `file:${join(ROOT, 'infra', 'jaeger', 'config.yaml')}`], { env: { ...process.env, ...ports, JAEGER_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`http://127.0.0.1:${ports.JAEGER_HEALTH_PORT}/status`).catch(() => undefined);
    if (res?.status === 200) return { endpoint: `http://127.0.0.1:${ports.JAEGER_OTLP_HTTP_PORT}`, stop: () => child.kill('SIGTERM') };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('jaeger did not start');
}

const jaeger = await startJaeger();
const MODES = ['on', 'off', ...(jaeger ? ['traced'] : [])];

async function measure(mode) {
  const on = mode !== 'off';
  const env = { ...process.env, BENTO_METRICS: on ? 'on' : 'off', BENTO_ACCESS_LOG: on ? 'on' : 'off' };
  // The OpenTelemetry SDK reads its settings from the process environment.
  for (const vars of [process.env, env]) {
    if (mode === 'traced') vars.OTEL_EXPORTER_OTLP_ENDPOINT = jaeger.endpoint;
    else delete vars.OTEL_EXPORTER_OTLP_ENDPOINT;
  }
  const logger = on ? { level: 'info', stream: createWriteStream('/dev/null') } : { level: 'info' };
  const server = await startServer({ project: loadProject(ROOT), port: 0, host: '127.0.0.1', env, logger });
  try {
    return await measuredLoad(`http://127.0.0.1:${server.port}/predict_image`, { connections: CONNECTIONS, duration: DURATION, body: upload.path, contentType: upload.contentType });
  } finally {
    await server.close();
  }
}

const { runs, summary } = await alternated(MODES, ROUNDS, measure);
jaeger?.stop();
const ratio = summary.on.requests_per_sec / summary.off.requests_per_sec;
const row = (label, s) => `| ${label} | ${s.requests_per_sec} | ${s.p50_ms} | ${s.p99_ms} | ${(s.requests_per_sec / summary.off.requests_per_sec).toFixed(3)} |`;
const table = [
  `| /predict_image, c=${CONNECTIONS}, ${DURATION} s × ${ROUNDS} rounds (median) | req/s | p50 ms | p99 ms | vs off |`,
  '|---|---|---|---|---|',
  row('metrics + access log on', summary.on),
  row('both off', summary.off),
  ...(summary.traced ? [row('metrics + access log + tracing (OTLP to Jaeger)', summary.traced)] : []),
].join('\n');
console.log(table);
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', 'observability.json'), JSON.stringify({ date: new Date().toISOString(), connections: CONNECTIONS, duration_s: DURATION, rounds: runs, summary, ratio }, null, 2));
process.exit(0);

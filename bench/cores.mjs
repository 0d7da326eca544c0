// How bento serve scales with the cores it gets: the same server (the CLI in a child process, default settings)
// pinned with taskset to one core, then to two, alternated over rounds, loaded at c=64 on /predict_image with the
// bundled classifier's sample. The load generator is not pinned: with the server on one core it has the other to
// itself, with the server on two it shares them. For each, the server's CPU per request by thread (from /proc),
// which is what the sizing guidance in docs/performance.md is derived from. Prints Markdown; writes
// results/cores.json. BENCH_CORES (default `0;0,1`: taskset lists, `;`-separated), BENCH_ROUNDS, BENCH_DURATION.
import { execFileSync } from 'node:child_process';
import { alternated, measuredLoad, sampleUpload, serveBento, writeResult } from './lib/common.mjs';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SETS = (process.env.BENCH_CORES ?? '0;0,1').split(';');
const upload = sampleUpload('cores');
const THREADS = { MainThread: 'HTTP thread', WorkerThread: 'runner worker', V8Worker: 'GC, compiler' };

async function measure(cpus) {
  const server = await serveBento();
  try {
    // Every thread the server has; the threads it starts later inherit the mask from the thread that starts them.
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(server.pid)], { stdio: 'ignore' });
    const options = { connections: 64, duration: DURATION, body: upload.path, contentType: upload.contentType };
    const { cpu, raw, ...summary } = await measuredLoad(`${server.base}/predict_image`, options, server.pid);
    const perRequest = (s) => Math.round((s * 1e6) / raw.requests.total);
    return {
      ...summary,
      server_us_per_request: perRequest(cpu.total),
      threads_us_per_request: Object.fromEntries(
        Object.entries(THREADS).map(([thread, label]) => [label, perRequest(cpu.threads[thread] ?? 0)]),
      ),
    };
  } finally {
    await server.stop();
  }
}

const { runs, summary } = await alternated(SETS, ROUNDS, measure);
// The thread figures of the round whose throughput is the median, so the columns of a row come from one run.
const medianRun = (cpus) => runs[cpus].find((r) => r.requests_per_sec === summary[cpus].requests_per_sec);
const base = summary[SETS[0]].requests_per_sec;
const baseLabel = `${SETS[0].split(',').length} core${SETS[0].includes(',') ? 's' : ''}`;
const table = [
  `| /predict_image, c=64, ${DURATION} s × ${ROUNDS} rounds (median) | cores | req/s | p50 ms | p99 ms | vs ${baseLabel} | server µs/request | ${Object.values(THREADS).join(' | ')} |`,
  `|---|---|---|---|---|---|---|${Object.values(THREADS)
    .map(() => '---')
    .join('|')}|`,
  ...SETS.map((cpus) => {
    const s = summary[cpus];
    const m = medianRun(cpus);
    return `| taskset -c ${cpus} | ${cpus.split(',').length} | ${s.requests_per_sec} | ${s.p50_ms} | ${s.p99_ms} | ${(s.requests_per_sec / base).toFixed(2)} | ${m.server_us_per_request} | ${Object.values(m.threads_us_per_request).join(' | ')} |`;
  }),
].join('\n');
console.log(table);
writeResult('cores.json', {
  date: new Date().toISOString(),
  node: process.version,
  duration_s: DURATION,
  runs,
  summary,
});
process.exit(0);

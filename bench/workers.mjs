// Throughput of `bento serve --workers N` on /predict_image: one process against two sharing the port, alternated
// 1, 2, 1, 2... in one run (the CLI in a child process, as deployed; its logs to /dev/null), autocannon in another
// child process, c=64, loopback. Prints a Markdown table and writes bench/results/workers.json.
import { alternated, measuredLoad, sampleUpload, serveBento, writeResult } from './lib/common.mjs';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const COUNTS = (process.env.BENCH_WORKERS ?? '1,2').split(',').map(Number);
const upload = sampleUpload('workers');

async function measure(n) {
  const server = await serveBento(['--workers', String(n)]);
  try {
    return await measuredLoad(`${server.base}/predict_image`, {
      connections: CONNECTIONS,
      duration: DURATION,
      body: upload.path,
      contentType: upload.contentType,
    });
  } finally {
    await server.stop();
  }
}

const { runs, summary } = await alternated(COUNTS, ROUNDS, measure);
const baseline = summary[COUNTS[0]].requests_per_sec;
const table = [
  `| /predict_image, c=${CONNECTIONS}, ${DURATION} s × ${ROUNDS} rounds (median) | req/s | p50 ms | p99 ms | vs ${COUNTS[0]} worker |`,
  '|---|---|---|---|---|',
  ...COUNTS.map(
    (n) =>
      `| --workers ${n} | ${summary[n].requests_per_sec} | ${summary[n].p50_ms} | ${summary[n].p99_ms} | ${(summary[n].requests_per_sec / baseline).toFixed(3)} |`,
  ),
].join('\n');
console.log(table);
writeResult('workers.json', {
  date: new Date().toISOString(),
  connections: CONNECTIONS,
  duration_s: DURATION,
  rounds: runs,
  summary,
});
process.exit(0);

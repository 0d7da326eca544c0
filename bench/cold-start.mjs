// Cold start and idle memory of `bento serve` for the bundled service, against a floor measured in the same run:
// a Node.js process that only starts fastify and answers /readyz (lib/floor-server.mjs). Each is started
// BENCH_COLD_ROUNDS times (default 5), alternated; the figures are medians.
// - cold start: from spawning the process to the first 200 from /readyz (the model loaded and warmed up);
// - idle RSS: the resident memory of the process tree (the server, its worker threads and any child processes),
//   read from /proc 3 s after it is ready, with no request in between.
// Prints a Markdown table; writes results/cold-start.json.
import { fileURLToPath } from 'node:url';
import { writeResult } from './lib/common.mjs';
import { startup } from './lib/startup.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env.BENCH_COLD_ROUNDS ?? 5);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const MODES = {
  floor: [fileURLToPath(new URL('./lib/floor-server.mjs', import.meta.url))],
  'bento serve': [`${ROOT}framework/bin/bento.js`, 'serve', '.'],
};
const runs = Object.fromEntries(Object.keys(MODES).map((m) => [m, []]));
for (let i = 0; i < ROUNDS; i++) {
  for (const [mode, args] of Object.entries(MODES)) {
    const r = await startup(args, ROOT);
    runs[mode].push(r);
    process.stderr.write(`round ${i + 1} ${mode}: ${r.cold_start_ms} ms to ready, ${r.idle_rss_mb} MB idle\n`);
  }
}
const summary = Object.fromEntries(
  Object.entries(runs).map(([mode, rs]) => [
    mode,
    { cold_start_ms: median(rs.map((r) => r.cold_start_ms)), idle_rss_mb: median(rs.map((r) => r.idle_rss_mb)) },
  ]),
);
console.log(`| process (median of ${ROUNDS}) | start to /readyz 200 ms | idle RSS MB |\n|---|---|---|`);
for (const [mode, s] of Object.entries(summary)) console.log(`| ${mode} | ${s.cold_start_ms} | ${s.idle_rss_mb} |`);
writeResult('cold-start.json', { date: new Date().toISOString(), node: process.version, runs, summary });

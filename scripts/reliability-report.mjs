// Prints the figures the reliability tests wrote to test-output/reliability/ as one table (make test-reliability).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(fileURLToPath(new URL('..', import.meta.url)), 'test-output', 'reliability');
const read = (name) => (existsSync(join(dir, `${name}.json`)) ? JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) : undefined);

const rows = [];
const fuzz = read('fuzz');
if (fuzz) {
  const statuses = Object.entries(fuzz.statuses).map(([k, n]) => `${k}: ${n}`).join(', ');
  rows.push(
    ['hostile inputs: requests tried', `${fuzz.requests} (${fuzz.kinds} kinds, ${fuzz.seconds} s)`],
    ['hostile inputs: answers by status', statuses],
    ['hostile inputs: 5xx', fuzz.five_xx],
    ['hostile inputs: no answer', fuzz.no_answer],
    ['hostile inputs: slowest answer', `${fuzz.slowest_ms} ms`],
    ['hostile inputs: crashes or restarts', fuzz.crashes],
    ['hostile inputs: RSS before / max / after', `${fuzz.rss_mb.before} / ${fuzz.rss_mb.max} / ${fuzz.rss_mb.after} MB`],
    ['hostile SVGs: URLs fetched / local files read', `${fuzz.canary_requests} / ${fuzz.canary_file_read ? 'yes' : 0}`],
  );
}
const overload = read('overload');
if (overload) {
  rows.push(
    ['overload: capacity / offered', `${overload.capacity_rps} / ${overload.offered_rps} req/s for ${overload.seconds} s`],
    ['overload: served under overload', `${overload.served_rps} req/s (${overload.served} requests)`],
    ['overload: shed rate (503 with Retry-After)', `${overload.shed_rate}% (${overload.shed_without_retry_after} without Retry-After)`],
    ['overload: accepted latency p50 / p99 (objective)', `${overload.accepted_p50_ms} / ${overload.accepted_p99_ms} ms (${overload.objective_ms} ms)`],
    ['overload: other answers / no answer', `${overload.other_statuses} / ${overload.errors}`],
    ['overload: recovery after the load', `${overload.recovery_ms} ms`],
  );
}
const secrets = read('secrets');
if (secrets) rows.push(['secrets: outputs searched', `${secrets.outputs} (${Math.round(secrets.bytes / 1e6)} MB) for ${secrets.secrets} known values`], ['secrets: leaks', secrets.leaks]);
if (rows.length === 0) {
  console.log(`no figures in ${dir}: run the reliability tests first`);
  process.exit(1);
}
console.log('| figure | value |\n|---|---|');
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);

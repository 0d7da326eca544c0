// Prints the figures the reliability tests wrote to test-output/reliability/ as one table (make test-reliability).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(fileURLToPath(new URL('..', import.meta.url)), 'test-output', 'reliability');
// `--since <unix seconds>`: only figures written by this run (make passes the time it started).
const sinceAt = process.argv.indexOf('--since');
const since = sinceAt >= 0 ? Number(process.argv[sinceAt + 1]) * 1000 : 0;
const read = (name) => {
  const file = join(dir, `${name}.json`);
  if (!existsSync(file) || statSync(file).mtimeMs < since) return undefined;
  return JSON.parse(readFileSync(file, 'utf8'));
};

const rows = [];
/** The first sample of every minute, and the last one. */
const perMinute = (curve) =>
  curve.filter((c, i) => i === curve.length - 1 || i === 0 || Math.floor(c.t / 60) > Math.floor(curve[i - 1].t / 60));
const fuzz = read('fuzz');
if (fuzz) {
  const statuses = Object.entries(fuzz.statuses)
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
  rows.push(
    ['hostile inputs: requests tried', `${fuzz.requests} (${fuzz.kinds} kinds, ${fuzz.seconds} s)`],
    ['hostile inputs: answers by status', statuses],
    ['hostile inputs: 5xx', fuzz.five_xx],
    ['hostile inputs: no answer', fuzz.no_answer],
    ['hostile inputs: slowest answer', `${fuzz.slowest_ms} ms`],
    ['hostile inputs: crashes or restarts', fuzz.crashes],
    [
      'hostile inputs: RSS before / max / after',
      `${fuzz.rss_mb.before} / ${fuzz.rss_mb.max} / ${fuzz.rss_mb.after} MB`,
    ],
    ['hostile SVGs: URLs fetched / local files read', `${fuzz.canary_requests} / ${fuzz.canary_file_read ? 'yes' : 0}`],
  );
}
const overload = read('overload');
if (overload) {
  rows.push(
    [
      'overload: capacity / offered',
      `${overload.capacity_rps} / ${overload.offered_rps} req/s for ${overload.seconds} s`,
    ],
    ['overload: served under overload', `${overload.served_rps} req/s (${overload.served} requests)`],
    [
      'overload: shed rate (503 with Retry-After)',
      `${overload.shed_rate}% (${overload.shed_after_queueing} of them after queueing; ${overload.shed_without_retry_after} without Retry-After)`,
    ],
    [
      'overload: accepted latency at the server p50 / p99 / max (objective)',
      `${overload.accepted_server_p50_ms} / ${overload.accepted_server_p99_ms} / ${overload.accepted_server_max_ms} ms (${overload.objective_ms} ms)`,
    ],
    [
      'overload: accepted latency at the client p50 / p99',
      `${overload.accepted_p50_ms} / ${overload.accepted_p99_ms} ms`,
    ],
    ['overload: share of the objective kept for sending answers', `${overload.sending_share_ms} ms`],
    ['overload: other answers / no answer', `${overload.other_statuses} / ${overload.errors}`],
    ['overload: recovery after the load', `${overload.recovery_ms} ms`],
  );
}
for (const run of read('shutdown') ?? []) {
  const failures = Object.entries(run.failures)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  rows.push(
    [
      `SIGTERM under load, ${run.workers} worker(s): taken / answered / lost`,
      `${run.received_by_server} / ${run.statuses['200'] ?? 0} × 200, ${run.statuses['503'] ?? 0} × 503 / ${run.lost} (${run.served_after_sigterm} served after the signal)`,
    ],
    [
      `SIGTERM under load, ${run.workers} worker(s): refused before taken`,
      `${failures} (of ${run.sent} sent at ${run.offered_rps} req/s)`,
    ],
    [`SIGTERM under load, ${run.workers} worker(s): drain, exit code`, `${run.drain_ms} ms, ${run.exit_code}`],
  );
}
const crash = read('runner-crash');
if (crash) {
  rows.push(
    [
      'runner worker killed under load: failed batches / requests',
      `${crash.failed_batches} / ${crash.crashed_answers} (503 RUNNER_CRASHED)`,
    ],
    [
      'runner worker killed under load: other failures',
      `${crash.other_failures} (of ${crash.sent} at ${crash.offered_rps} req/s, capacity ${crash.capacity_rps}; ${crash.served_after_crash} served after)`,
    ],
    [
      'runner worker killed under load: replacement thread started',
      `${crash.worker_replaced_ms} ms (${crash.workers_after} workers after)`,
    ],
  );
}
const hot = read('hot-update');
if (hot) {
  const by = Object.entries(hot.answered_by)
    .map(([k, n]) => `${n} by ${k}`)
    .join(', ');
  rows.push(
    ['hot update under load: requests / failed', `${hot.requests} / ${hot.failed} (${hot.clients} clients; ${by})`],
    [
      'hot update: alias moved → first answer from the new version',
      `${hot.alias_moved_to_first_v2_answer_s} s (old version answering after it: ${hot.v1_answers_after_first_v2})`,
    ],
    [
      'hot update: a version that fails to load',
      `refused after ${hot.broken_version_refused_after_s} s; the old version served ${hot.served_after_refusal} more`,
    ],
    [
      'hot update: a version that fails its warm-up',
      `refused after ${hot.warm_up_failure_refused_after_s} s; the old version served ${hot.served_after_warm_up_refusal} more`,
    ],
  );
}
const soak = read('soak');
if (soak) {
  rows.push(
    [
      'soak: load',
      `${soak.offered_rps} req/s (half of ${soak.capacity_rps}) for ${soak.seconds} s, ${soak.sent} requests`,
    ],
    [
      'soak: answers / no answer',
      `${Object.entries(soak.statuses)
        .map(([k, n]) => `${k}: ${n}`)
        .join(', ')} / ${soak.errors}${soak.errors ? ` (${JSON.stringify(soak.failed)})` : ''}`,
    ],
    ['soak: latency p50 / p99 / max', `${soak.p50_ms} / ${soak.p99_ms} / ${soak.max_ms} ms`],
    [
      'soak: RSS after warm-up / max / end',
      `${soak.rss_mb.warm_up} / ${soak.rss_mb.max_after_warm_up} / ${soak.rss_mb.end} MB`,
    ],
    [
      'soak: RSS growth (median of the last two minutes against the first two)',
      `${soak.rss_mb.early_median} → ${soak.rss_mb.late_median} MB (${soak.rss_growth_pct}%)`,
    ],
    [
      'soak: open handles under load, median of the first / last two minutes (max)',
      `${soak.handles.early_median} → ${soak.handles.late_median} (${soak.handles.max_after_warm_up})`,
    ],
    [
      'soak: open handles without load, before / after the soak',
      `${soak.handles.quiet_before} / ${soak.handles.quiet_after}`,
    ],
    [
      'soak: the curve, a sample a minute (s, RSS MB, open handles)',
      perMinute(soak.curve)
        .map((c) => `(${c.t}, ${c.rss_mb}, ${c.handles})`)
        .join(' '),
    ],
  );
}
const faults = read('faults');
if (faults) {
  const r = faults.faulty_downloads_recovered;
  const refused = faults.faulty_downloads_refused;
  const none = faults.mlflow_down_at_start_nothing_cached;
  if (r) rows.push(['faults: downloads cut off and stalled', `recovered in ${r.attempts} attempts (${r.seconds} s)`]);
  if (refused)
    rows.push([
      'faults: downloads that always break',
      `refused after ${refused.attempts} attempts, ${refused.installed} installed`,
    ]);
  if (faults.sigkill_mid_download)
    rows.push(['faults: SIGKILL during a download, then restart', faults.sigkill_mid_download]);
  if (faults.mlflow_down_after_start) rows.push(['faults: MLflow down after start', faults.mlflow_down_after_start]);
  if (faults.mlflow_down_at_start_cached)
    rows.push(['faults: MLflow down at start, model cached', faults.mlflow_down_at_start_cached]);
  if (none) rows.push(['faults: MLflow down at start, nothing cached', `${none.error} after ${none.seconds} s`]);
}
const objectStore = read('object-store');
if (objectStore) {
  const none = objectStore.object_store_down_at_start_nothing_cached;
  rows.push(
    [
      'faults: S3 transfer corrupted (checksum mismatch)',
      `retried: ${objectStore.corrupt_transfer.attempts} attempts, model installed ${objectStore.corrupt_transfer.installed}`,
    ],
    ['security: S3 listing naming ../../escape.onnx', objectStore.hostile_listing],
    ['faults: object store (MinIO) down after start', objectStore.object_store_down_after_start],
    ['faults: object store down at start, model cached', objectStore.object_store_down_at_start_cached],
    [
      'faults: object store down at start, nothing cached',
      `through MLflow's proxy: ${none.proxied.error} after ${none.proxied.seconds} s; straight from S3: ${none.direct_s3.error} after ${none.direct_s3.seconds} s`,
    ],
  );
}
const storeKills = read('model-store');
if (storeKills) {
  rows.push([
    'model store: SIGKILL while rewriting a manifest / committing a model',
    `${storeKills.manifest_kills} / ${storeKills.commit_kills} kills: the store readable and the model whole after each (absent, never partial, after ${storeKills.killed_between_renames})`,
  ]);
}
const secrets = read('secrets');
if (secrets) {
  const blobs = secrets.image_blobs ? `, ${secrets.image_blobs} of them image blobs` : '';
  rows.push(
    [
      'secrets: outputs searched',
      `${secrets.outputs} (${Math.round(secrets.bytes / 1e6)} MB${blobs}) for ${secrets.secrets} known values`,
    ],
    ['secrets: leaks', secrets.leaks],
  );
}
if (rows.length === 0) {
  console.log(`no figures in ${dir}: run the reliability tests first`);
  process.exit(1);
}
console.log('| figure | value |\n|---|---|');
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);

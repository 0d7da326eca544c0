// This checkout against another version of bento-ts (BENCH_BASELINE, a commit or tag), served the same way in one
// run: the baseline is checked out in a git worktree, installed (npm ci) and built there, then the bundled service
// of each is served by its own CLI in a child process, alternated baseline, current, baseline... at c=1 and c=64 on
// /predict_image, with autocannon in another child process. Both run on this Node.js. A change meant to leave
// behaviour alone (a refactor) should leave the ratios within the spread of the rounds, which the table shows.
// Writes bench/results/versions.json.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alternated, measuredLoad, sampleUpload, serveBento, writeResult } from './lib/common.mjs';
import { startup } from './lib/startup.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BASELINE = process.env.BENCH_BASELINE;
if (!BASELINE) {
  console.error('versions.mjs: set BENCH_BASELINE to the commit or tag to compare this checkout with');
  process.exit(2);
}
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,64').split(',').map(Number);

const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
const commit = git('rev-parse', '--verify', `${BASELINE}^{commit}`);
const current = `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? '+changes' : ''}`;
// One worktree per baseline commit, kept between runs: installing and building it takes minutes.
const tree = join(tmpdir(), `bento-bench-baseline-${commit.slice(0, 12)}`);
if (!existsSync(join(tree, 'framework', 'dist', 'src', 'index.js'))) {
  if (!existsSync(tree)) git('worktree', 'add', '--detach', tree, commit);
  const run = (cmd, args) =>
    execFileSync(cmd, args, {
      cwd: tree,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    });
  process.stderr.write(`installing and building ${BASELINE} (${commit.slice(0, 12)}) in ${tree}\n`);
  run('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline']);
  run('npx', ['tsc', '-b']);
}

const upload = sampleUpload('versions');
const roots = { baseline: tree, current: ROOT };

const results = {};
for (const connections of CONNECTIONS) {
  results[connections] = await alternated(['baseline', 'current'], ROUNDS, async (mode) => {
    const server = await serveBento([], {}, '.', roots[mode]);
    try {
      return await measuredLoad(`${server.base}/predict_image`, {
        connections,
        duration: DURATION,
        body: upload.path,
        contentType: upload.contentType,
      });
    } finally {
      await server.stop();
    }
  });
}

// Cold start and idle memory of each, alternated the same way (cold-start.mjs measures the same for one version).
const starts = { baseline: [], current: [] };
for (let i = 0; i < ROUNDS; i++)
  for (const mode of ['baseline', 'current'])
    starts[mode].push(await startup([join(roots[mode], 'framework', 'bin', 'bento.js'), 'serve', '.'], roots[mode]));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** How far apart one version's own rounds were: the noise a ratio is read against. */
const spread = (rounds) => {
  const rps = rounds.map((r) => r.requests_per_sec);
  return Math.max(...rps) / Math.min(...rps) - 1;
};
const lines = [
  `| /predict_image, ${DURATION} s × ${ROUNDS} rounds (median) | c | req/s | p50 ms | p99 ms | req/s vs baseline | rounds' spread |`,
  '|---|---|---|---|---|---|---|',
];
for (const c of CONNECTIONS) {
  const { runs, summary } = results[c];
  for (const mode of ['baseline', 'current']) {
    const s = summary[mode];
    const label = mode === 'baseline' ? `baseline ${BASELINE} (${commit.slice(0, 7)})` : `current ${current}`;
    const ratio = (s.requests_per_sec / summary.baseline.requests_per_sec).toFixed(3);
    lines.push(
      `| ${label} | ${c} | ${s.requests_per_sec} | ${s.p50_ms} | ${s.p99_ms} | ${ratio} | ${(spread(runs[mode]) * 100).toFixed(1)}% |`,
    );
  }
}
lines.push(
  '',
  `| bento serve, ${ROUNDS} starts (median) | start to /readyz 200 ms | idle RSS MB |`,
  '|---|---|---|',
  ...['baseline', 'current'].map(
    (mode) =>
      `| ${mode === 'baseline' ? `baseline ${BASELINE}` : `current ${current}`} | ${median(starts[mode].map((r) => r.cold_start_ms))} | ${median(starts[mode].map((r) => r.idle_rss_mb))} |`,
  ),
);
console.log(lines.join('\n'));
writeResult('versions.json', {
  date: new Date().toISOString(),
  node: process.version,
  baseline: { ref: BASELINE, commit },
  current,
  duration_s: DURATION,
  results,
  starts,
});
process.exit(0);

// Where the time goes when bento serve answers /predict_image at c=64: a CPU profile of the served path.
//
// bento serve runs as deployed (the CLI in a child process, default settings) under Node's --cpu-prof, which
// writes one profile per thread when the process exits: the main thread (HTTP) and each runner worker. The load
// is autocannon at c=64 posting the bundled classifier's sample for BENCH_DURATION seconds (default 10) after a
// 3 s warm-up. Each profile's samples are summed by self time into the packages and layers they ran in.
// Prints Markdown; writes results/profile.md and keeps the raw profiles in results/profiles/ (Chrome DevTools and
// speedscope open them).
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autocannon, sampleUpload, serveBento } from './lib/common.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const OUT = join(ROOT, 'bench', 'results', 'profiles');
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

const upload = sampleUpload('profile');
const served = await serveBento([], { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${OUT}` });
let load;
try {
  const options = { connections: 64, body: upload.path, contentType: upload.contentType };
  await autocannon(`${served.base}/predict_image`, { ...options, duration: 3 });
  load = await autocannon(`${served.base}/predict_image`, { ...options, duration: DURATION });
} finally {
  await served.stop();
}

/** The package or layer a profile node's code belongs to. */
function layerOf({ functionName, url }) {
  if (!url) return functionName.startsWith('(') ? functionName : `native: ${functionName || '(anonymous)'}`;
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const own = /\/(framework|plugins\/[^/]+|services\/[^/]+)\/dist\/src\/([^/]+)/.exec(url);
  if (own) return `bento-ts ${own[1] === 'framework' ? '' : `${own[1]} `}${own[2].replace(/\.js$/, '')}`.trim();
  return url.replace(/^file:\/\//, '').replace(ROOT, '');
}

/** Self time by layer and by function, in ms, from one .cpuprofile. */
function summarise(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const layers = new Map();
  const functions = new Map();
  let total = 0;
  for (const [id, ms] of self) {
    const { callFrame } = nodes.get(id);
    if (callFrame.functionName === '(root)') continue;
    total += ms;
    const layer = layerOf(callFrame);
    layers.set(layer, (layers.get(layer) ?? 0) + ms);
    const where = callFrame.url
      ? `${layerOf(callFrame)}: ${callFrame.url.split('/').pop()}:${callFrame.lineNumber + 1}`
      : '';
    const name = `${callFrame.functionName || '(anonymous)'}${where ? ` (${where})` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
  }
  const top = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
  return { total, layers: top(layers, 12), functions: top(functions, 10) };
}

const files = readdirSync(OUT).filter((f) => f.endsWith('.cpuprofile'));
// CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile: thread 0 is the main thread.
const threadOf = (f) => Number(f.split('.')[4]);
files.sort((a, b) => threadOf(a) - threadOf(b));
const pct = (ms, total) => `${Math.round((ms / total) * 1000) / 10}%`;
const md = [
  `CPU profile of bento serve at c=64 (${Math.round(load.requests.average)} req/s, p99 ${load.latency.p99} ms, ` +
    `${DURATION} s after a 3 s warm-up, ${process.version}); self time by thread:`,
];
for (const file of files) {
  const { total, layers, functions } = summarise(JSON.parse(readFileSync(join(OUT, file), 'utf8')));
  const thread = threadOf(file) === 0 ? 'main thread (HTTP)' : `worker thread ${threadOf(file)}`;
  md.push(
    '',
    `**${thread}**: ${Math.round(total)} ms sampled (${file})`,
    '',
    '| layer | self ms | share |',
    '|---|---|---|',
    ...layers.map(([k, v]) => `| ${k} | ${Math.round(v)} | ${pct(v, total)} |`),
    '',
    '| function | self ms | share |',
    '|---|---|---|',
    ...functions.map(([k, v]) => `| ${k.replaceAll('|', '\\|')} | ${Math.round(v)} | ${pct(v, total)} |`),
  );
}
writeFileSync(join(ROOT, 'bench', 'results', 'profile.md'), md.join('\n') + '\n');
console.log(md.join('\n'));

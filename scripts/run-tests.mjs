// Runs every compiled test file with node's test runner. Node's `node --test` neither finds .js files under dist/
// by itself (before Node 21) nor expands globs, so list them here.
//
// A full run (`make test`) takes three lanes, so that the suite's waiting (MLflow starting, Python converting,
// images building) overlaps on a two-core machine:
//   - checkout: files that use what a reader's checkout has one of (the ports 3000 and 5001 the docs name,
//     `make serve`'s pid file, the Docker engine), one after another;
//   - isolated: every other file (ephemeral ports, temporary stores), one after another, beside the checkout lane;
//   - alone: the files whose assertions hold latency objectives under load, after both, with the machine to
//     themselves.
// `--only <text>` (repeatable) runs just the files whose path contains every such text, in one lane
// (make test-reliability: `--only /reliability/`, and `--only <suite>` for SUITE=). `--unit` runs the framework's
// own tests, which start no outside server and install nothing (.ci/run runs them on the oldest Node.js supported).
// BENTO_TEST_LANES=1 runs a full run in one lane too. Other arguments go to node's test runner. The output ends with the summary of all lanes.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const roots = ['framework', 'plugins', 'services'];
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\/dist\/test\/.*\.test\.js$/.test(path)) files.push(path);
  }
}
for (const root of roots) walk(root);
files.sort();

/** Files that need the checkout's single resources (see above). */
const CHECKOUT = [
  'framework/dist/test/docs.test.js',
  // Follows the templates' READMEs, which serve on port 3000 as a reader would.
  'framework/dist/test/new-project.test.js',
  'plugins/mlflow/dist/test/quickstart.test.js',
  'plugins/mlflow/dist/test/tune.test.js',
  'services/vision-classifier/dist/test/containerize.test.js',
  'plugins/mlflow/dist/test/reliability/secrets.test.js',
];
/** Files that assert latency or throughput under load (see above). */
const ALONE = [
  'framework/dist/test/docs-alone.test.js',
  'framework/dist/test/reliability/overload.test.js',
  'services/vision-classifier/dist/test/reliability/shutdown.test.js',
  'services/vision-classifier/dist/test/reliability/fuzz.test.js',
  'services/vision-classifier/dist/test/reliability/runner-crash.test.js',
  'plugins/mlflow/dist/test/reliability/hot-update.test.js',
];

/** Framework test files that are not unit tests: they follow documents that install packages and start servers. */
const NOT_UNIT = [
  'framework/dist/test/docs.test.js',
  'framework/dist/test/docs-alone.test.js',
  'framework/dist/test/new-project.test.js',
];

const only = [];
const extra = [];
let unit = false;
for (const args = process.argv.slice(2); args.length > 0;) {
  const arg = args.shift();
  if (arg === '--only') only.push(args.shift() ?? '');
  else if (arg === '--unit') unit = true;
  else extra.push(arg);
}
// Only when asked for by name: the soak runs for ten minutes (make test-soak), the cluster test needs a Kubernetes
// node that make k8s-up starts (make test-k8s).
const selected = unit
  ? files.filter((f) => /^framework\/dist\/test\/[^/]+\.test\.js$/.test(f) && !NOT_UNIT.includes(f))
  : only.length > 0
    ? files.filter((f) => only.every((text) => f.includes(text)))
    : files.filter((f) => !f.includes('/soak/') && !f.includes('/k8s/'));
if (selected.length === 0) {
  console.error(`no test file matches ${only.map((t) => `"${t}"`).join(' and ')}`);
  process.exit(2);
}
for (const name of [...CHECKOUT, ...ALONE, ...NOT_UNIT]) {
  if (!files.includes(name)) {
    console.error(`scripts/run-tests.mjs names ${name}, which is not a compiled test file: update its lists`);
    process.exit(2);
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'bento-tests-'));

/**
 * Runs `lane` files with node's test runner, one file at a time; its spec output goes to stdout as it comes
 * (`live`) or into a file printed when the lane ends. Resolves with the lane's counts.
 */
function runLane(name, lane, live) {
  if (lane.length === 0) return Promise.resolve({ name, tests: 0, pass: 0, fail: 0, code: 0 });
  const report = join(scratch, `${name}.txt`);
  const reporters = live
    ? ['--test-reporter=spec', '--test-reporter-destination=stdout']
    : ['--test-reporter=spec', `--test-reporter-destination=${report}`];
  // The summary counts come from a TAP copy of the report, which is plain to read.
  const tap = join(scratch, `${name}.tap`);
  const args = [
    '--test',
    '--test-concurrency=1',
    ...reporters,
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...extra,
    ...lane,
  ];
  const started = Date.now();
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', live ? 'inherit' : openSync(join(scratch, `${name}.out`), 'w'), 'inherit'],
  });
  return new Promise((resolve) => {
    child.on('close', (code) => {
      if (!live) {
        console.log(
          `\n== lane "${name}" (${lane.length} files, ${Math.round((Date.now() - started) / 1000)} s), run beside the lane above:`,
        );
        process.stdout.write(readFileSync(report, 'utf8') + readFileSync(join(scratch, `${name}.out`), 'utf8'));
      }
      const counts = readFileSync(tap, 'utf8');
      const count = (key) => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(counts)?.[1] ?? 0);
      resolve({
        name,
        failures: failuresIn(counts),
        tests: count('tests'),
        pass: count('pass'),
        fail: count('fail') + count('cancelled'),
        code: code ?? 1,
        seconds: (Date.now() - started) / 1000,
      });
    });
  });
}

/**
 * The failed tests of a TAP report, each with the first lines of its error: printed again just above the summary,
 * where a CI log that keeps only its last lines still shows why. Suites that failed only through their tests are left
 * out.
 */
function failuresIn(tap) {
  const lines = tap.split('\n');
  const failures = [];
  for (let i = 0; i < lines.length; i++) {
    const head = /^(\s*)not ok \d+ - (.*)$/.exec(lines[i]);
    if (!head) continue;
    const indent = head[1].length + 2;
    const block = [];
    for (let j = i + 2; j < lines.length && lines[j] !== `${' '.repeat(indent)}...`; j++) block.push(lines[j]);
    if (block.some((l) => l.includes("failureType: 'subtestsFailed'"))) continue;
    const at = block.findIndex((l) => /^\s*error: /.test(l));
    const first = at < 0 ? '' : block[at].replace(/^\s*error: (\|-)?/, '').trim();
    const rest = [];
    for (let j = at + 1; at >= 0 && j < block.length && block[j].startsWith(' '.repeat(indent + 2)); j++) {
      rest.push(block[j].trim());
    }
    const message = [first, ...rest].filter((l) => l.length > 0).slice(0, 6);
    failures.push({ name: head[2], message });
  }
  return failures;
}

const started = Date.now();
const lanes = [];
if (unit || only.length > 0 || process.env.BENTO_TEST_LANES === '1') {
  lanes.push(await runLane('all', selected, true));
} else {
  const checkout = selected.filter((f) => CHECKOUT.includes(f));
  const alone = selected.filter((f) => ALONE.includes(f));
  const isolated = selected.filter((f) => !CHECKOUT.includes(f) && !ALONE.includes(f));
  lanes.push(...(await Promise.all([runLane('checkout', checkout, true), runLane('isolated', isolated, false)])));
  console.log(
    `\n== lane "alone" (${alone.length} files: latency objectives under load, with the machine to themselves):`,
  );
  lanes.push(await runLane('alone', alone, true));
}
rmSync(scratch, { recursive: true, force: true });

const total = lanes.reduce(
  (sum, lane) => ({ tests: sum.tests + lane.tests, pass: sum.pass + lane.pass, fail: sum.fail + lane.fail }),
  { tests: 0, pass: 0, fail: 0 },
);
const failedLanes = lanes.filter((lane) => lane.code !== 0);
for (const lane of lanes) {
  for (const failure of lane.failures ?? []) {
    console.log(`\n✖ ${lane.name}: ${failure.name}\n${failure.message.map((l) => `  ${l.slice(0, 300)}`).join('\n')}`);
  }
}
console.log(
  `\n== ${lanes.map((l) => `${l.name}: ${l.pass}/${l.tests} in ${Math.round(l.seconds ?? 0)} s`).join(', ')}; ${Math.round((Date.now() - started) / 1000)} s in all`,
);
console.log(`${total.pass} passed, ${total.fail} failed`);
process.exit(failedLanes.length > 0 || total.fail > 0 ? 1 : 0);

// Runs every compiled test file with node's test runner. Node 20's `node --test`
// neither finds .js files under dist/ by itself nor expands globs, so list them here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
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
// `--only <text>` (repeatable): just the test files whose path contains every such text (make test-reliability:
// `--only /reliability/`, and `--only <suite>` for SUITE=). Other arguments go to node's test runner.
const only = [];
const extra = [];
for (const args = process.argv.slice(2); args.length > 0; ) {
  const arg = args.shift();
  if (arg === '--only') only.push(args.shift() ?? '');
  else extra.push(arg);
}
// The soak runs for ten minutes: only when asked for by name (make test-soak).
const selected = only.length > 0 ? files.filter((f) => only.every((text) => f.includes(text))) : files.filter((f) => !f.includes('/soak/'));
if (selected.length === 0) {
  console.error(`no test file matches ${only.map((t) => `"${t}"`).join(' and ')}`);
  process.exit(2);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...extra, ...selected], { stdio: 'inherit' });
process.exit(result.status ?? 1);

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
// `--only <text>`: just the test files whose path contains it (make test-reliability: `--only /reliability/`).
const args = process.argv.slice(2);
const only = args.indexOf('--only');
// The soak runs for ten minutes: only when asked for by name (make test-soak).
const selected = only >= 0 ? files.filter((f) => f.includes(args[only + 1] ?? '')) : files.filter((f) => !f.includes('/soak/'));
const extra = only >= 0 ? [...args.slice(0, only), ...args.slice(only + 2)] : args;
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...extra, ...selected], { stdio: 'inherit' });
process.exit(result.status ?? 1);

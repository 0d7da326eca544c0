import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Lockfile, pruneLock } from '../src/builder/lockfile.js';
import { BuildError } from '../src/errors.js';

const lock: Lockfile = {
  lockfileVersion: 3,
  packages: {
    '': { name: 'repo', workspaces: ['framework', 'services/*'] },
    framework: {
      name: '@x/framework',
      version: '1.0.0',
      dependencies: { fastify: '^5', sharp: '^0.35' },
      devDependencies: { typescript: '5' },
    },
    'framework/node_modules/sharp': {
      version: '0.35.0',
      integrity: 'sha512-nested',
      optionalDependencies: { '@img/linux': '1' },
    },
    'services/svc': { version: '0.1.0', dependencies: { '@x/framework': '1.0.0', yaml: '^2' } },
    'node_modules/@x/framework': { resolved: 'framework', link: true },
    'node_modules/@x/svc': { resolved: 'services/svc', link: true },
    'node_modules/fastify': { version: '5.1.0', integrity: 'sha512-f', dependencies: { 'fast-json': '^1' } },
    'node_modules/fast-json': { version: '1.2.0', integrity: 'sha512-fj' },
    'node_modules/yaml': { version: '2.8.0', integrity: 'sha512-y', dev: true },
    'node_modules/typescript': { version: '5.9.3', integrity: 'sha512-ts', dev: true },
    'node_modules/sharp': { version: '0.30.0', integrity: 'sha512-old-sharp' },
  },
};

describe('lockfile pruning', () => {
  it('keeps the production closure of a service with the locked versions, and nothing else', () => {
    const { packages, locals } = pruneLock(lock, 'services/svc', { '@x/framework': '1.0.0', yaml: '^2' });
    assert.deepEqual(locals, [{ name: '@x/framework', location: 'framework' }]);
    assert.deepEqual(Object.keys(packages).sort(), [
      'node_modules/@x/framework/node_modules/sharp',
      'node_modules/fast-json',
      'node_modules/fastify',
      'node_modules/yaml',
    ]);
    // A package nested in a workspace folder moves under that package's place, with its own version (not the hoisted one).
    assert.equal(packages['node_modules/@x/framework/node_modules/sharp'].version, '0.35.0');
    // A dependency that was dev-only at the root is production here: the dev flag goes.
    assert.equal(packages['node_modules/yaml'].dev, undefined);
    assert.ok(!('node_modules/typescript' in packages));
  });

  it('tolerates a missing optional dependency and refuses a missing required one', () => {
    assert.doesNotThrow(() => pruneLock(lock, 'services/svc', { '@x/framework': '1.0.0' }));
    assert.throws(
      () => pruneLock(lock, 'services/svc', { 'left-pad': '1' }),
      (err: Error) => err instanceof BuildError && /"left-pad".*not in the lockfile/.test(err.message),
    );
  });

  it('refuses lockfile v1', () => {
    assert.throws(() => pruneLock({ lockfileVersion: 1, packages: {} }, '', {}), /older than lockfile v2/);
  });
});

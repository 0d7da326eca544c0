/**
 * Canary, A/B and shadow on the real service: three copies of the bundled model serve as `champion` (weight 90),
 * `challenger` (weight 10) and `mirror` (a shadow). The split is tested statistically, the header picks a variant,
 * the shadow gets a copy of every call and never answers, and the metrics carry variant and version.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunningServer } from '@bento-ts/framework';
import { REPO_ROOT, SERVICE_DIR, multipart, sample, startService } from './helpers.js';

const N = 1000;
const CONCURRENCY = 8;

describe('model variants: canary / A-B split, header routing, shadow', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'bento-variants-'));
  for (const name of ['champion', 'challenger', 'mirror'])
    cpSync(join(SERVICE_DIR, 'model'), join(dir, name), { recursive: true });
  const variants = {
    champion: { uri: join(dir, 'champion'), weight: 90 },
    challenger: { uri: join(dir, 'challenger'), weight: 10 },
    mirror: { uri: join(dir, 'mirror'), shadow: true },
  };
  let server: RunningServer;
  let url: string;
  const image = sample('trouser.jpg');
  const predict = (headers: Record<string, string> = {}) =>
    fetch(`${url}/predict_image`, {
      method: 'POST',
      body: multipart('image', image, 'trouser.jpg', 'image/jpeg'),
      headers,
    });

  before(async () => {
    server = await startService({ env: { BENTO_MODEL_VARIANTS: JSON.stringify(variants), BENTO_RUNNER_WORKERS: '1' } });
    url = `http://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const versionsOf = (metrics: string, role: string) => {
    const counts: Record<string, number> = {};
    for (const m of metrics.matchAll(/^bento_variant_requests_total\{([^}]*)\} (\d+)$/gm)) {
      const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
      // A local model's version is its directory's name and a hash of its content: the name tells the copies apart.
      if (labels.role === role && labels.outcome === 'ok')
        counts[`${labels.variant}:${labels.version.split('/')[0]}`] = Number(m[2]);
    }
    return counts;
  };

  it(`splits ${N} requests 90/10 within four standard deviations, every answer naming its version`, async () => {
    const answered: Record<string, number> = {};
    const predictions = new Set<string>();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < N) {
          const res = await predict();
          assert.equal(res.status, 200);
          const version = res.headers.get('x-model-version')?.split('/')[0] ?? 'none';
          answered[version] = (answered[version] ?? 0) + 1;
          predictions.add(JSON.stringify(((await res.json()) as { prediction: unknown }).prediction));
        }
      }),
    );
    mkdirSync(join(REPO_ROOT, 'test-output'), { recursive: true });
    writeFileSync(
      join(REPO_ROOT, 'test-output', 'variants.json'),
      JSON.stringify({ requests: N, weights: { champion: 90, challenger: 10 }, answered }, null, 2),
    );
    assert.deepEqual(Object.keys(answered).sort(), ['challenger', 'champion'], JSON.stringify(answered));
    // Binomial: 10% of N, standard deviation sqrt(N·0.1·0.9) ≈ 9.5; a fair split lands outside ±4σ once in 15,000 runs.
    const sd = Math.sqrt(N * 0.1 * 0.9);
    assert.ok(Math.abs(answered.challenger - N * 0.1) < 4 * sd, `challenger answered ${answered.challenger} of ${N}`);
    assert.equal(predictions.size, 1, 'copies of one model predict alike');
  });

  it('the shadow got a copy of every call, and its answers went nowhere', async () => {
    // Shadow calls run beside the requests: wait for the last ones.
    let shadow: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      shadow = versionsOf(await (await fetch(`${url}/metrics`)).text(), 'shadow');
      if (shadow['mirror:mirror'] === N) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(shadow, { 'mirror:mirror': N });
    const primary = versionsOf(await (await fetch(`${url}/metrics`)).text(), 'primary');
    assert.equal((primary['champion:champion'] ?? 0) + (primary['challenger:challenger'] ?? 0), N);
  });

  it('routes by the x-model-variant header, and refuses a variant it does not have with 400', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await predict({ 'x-model-variant': 'challenger' });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('x-model-version') ?? '', /^challenger\//);
      await res.body?.cancel();
    }
    for (const asked of ['nope', 'mirror']) {
      const res = await predict({ 'x-model-variant': asked });
      assert.equal(res.status, 400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'INVALID_INPUT');
      assert.match(body.error.message, new RegExp(`no variant "${asked}"; it has champion, challenger`));
    }
    // The standard protocol's calls are routed too.
    const info = (await (await fetch(`${url}/get_model_info`)).json()) as Record<string, unknown>;
    assert.ok(JSON.stringify(info).includes('champion'), 'the model info describes the first variant');
  });
});

describe('model variants: configurations that cannot serve', { timeout: 120_000 }, () => {
  const model = join(SERVICE_DIR, 'model');
  const refused: Array<[unknown, RegExp]> = [
    ['{not json', /CONFIG_ERROR|BENTO_MODEL_VARIANTS is not JSON/],
    [{ only: { uri: model, shadow: true } }, /has only shadow variants; one must answer/],
    [{ a: { uri: model, weight: -1 } }, /weight -1; a weight is a number >= 0/],
    [{ 'bad name': { uri: model } }, /variant name "bad name"/],
    [{ a: { uri: model, shadow: true, weight: 3 } }, /is a shadow: it takes copies of the traffic, not a weight of it/],
  ];
  for (const [value, said] of refused) {
    it(`refuses ${typeof value === 'string' ? value : JSON.stringify(value).replaceAll(model, '<model>')}`, async () => {
      await assert.rejects(
        startService({ env: { BENTO_MODEL_VARIANTS: typeof value === 'string' ? value : JSON.stringify(value) } }),
        said,
      );
    });
  }
});

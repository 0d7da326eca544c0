import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, startTestServer } from '@bento-ts/framework/testing';

/** The shipped model: scores = features @ W + b (scripts/make-template-models.py in bento-ts). */
const W = [[1, 0, 0], [0, 2, 0], [0, 0, 3], [1, 1, 1]];
const B = [0.5, -0.5, 0];
const expected = (row: number[]) => B.map((b, j) => row.reduce((sum, x, i) => sum + x * W[i]![j]!, b));

describe('{{name}}', () => {
  let server: TestServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  const post = (body: unknown) =>
    server.fetch('/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('scores a batch of rows', async () => {
    const features = [[1, 2, 3, 4], [0, 0, 0, 0], [-1, 0.5, 2, 10]];
    const res = await post({ features });
    assert.equal(res.status, 200);
    const { scores } = (await res.json()) as { scores: number[][] };
    assert.equal(scores.length, 3);
    scores.forEach((row, r) => row.forEach((s, j) => assert.ok(Math.abs(s - expected(features[r]!)[j]!) < 1e-5, `row ${r}: ${row}`)));
  });

  it('refuses a row of the wrong width with a JSON 4xx error', async () => {
    const res = await post({ features: [[1, 2, 3]] });
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.match(body.error.message, /features/);
  });
});

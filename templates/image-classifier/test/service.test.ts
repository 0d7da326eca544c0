import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type TestServer, startTestServer } from '@bento-ts/framework/testing';

const sample = readFileSync(new URL('../../test/fixtures/ankle_boot.png', import.meta.url));

describe('{{name}}', () => {
  let server: TestServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  it('classifies an uploaded image', async () => {
    const form = new FormData();
    form.append('image', new Blob([sample], { type: 'image/png' }), 'ankle_boot.png');
    const res = await server.fetch('/classify', { method: 'POST', body: form });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { predicted_class: string; confidence: number; probabilities: Record<string, number> };
    assert.equal(body.predicted_class, 'Ankle boot');
    assert.ok(body.confidence > 0.9, `confidence ${body.confidence}`);
    assert.equal(Object.keys(body.probabilities).length, 10);
  });

  it('answers a request without an image with a JSON error', async () => {
    const res = await server.fetch('/classify', { method: 'POST', body: new FormData() });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(typeof body.error.code, 'string');
  });

  it('reports health', async () => {
    const res = await server.fetch('/health');
    assert.deepEqual(((await res.json()) as { status: string }).status, 'healthy');
  });
});

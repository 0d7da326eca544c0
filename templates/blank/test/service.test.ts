import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, startTestServer } from '@bento-ts/framework/testing';

describe('{{name}}', () => {
  let server: TestServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  const post = (body: unknown) =>
    server.fetch('/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('echoes', async () => {
    const res = await post({ text: 'hi', times: 3 });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { echo: 'hi hi hi' });
  });

  it('refuses a body its schema does not allow, with a JSON 400', async () => {
    const res = await post({ text: 'hi', times: 99 });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(typeof body.error.code, 'string');
  });
});

/**
 * Request hooks (the third plugin kind): run on every request before its body is read, in the order registered;
 * a BentoError thrown is the answer (401, 403...), anything else a 500 with no internals; a hook sees the route
 * it matched, or none for a 404 to be. The real HTTP app on an ephemeral port.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_LIMITS, ForbiddenError, JSONBody, UnauthorizedError, api, service } from '../src/index.js';
import { type HookRequest, type RequestHook } from '../src/plugin.js';
import { listeningApp } from './helpers/listening-app.js';

@service({ name: 'hooked' })
class HookedService {
  @api({ input: JSONBody() })
  async echo(body: unknown) {
    return { body };
  }

  @api()
  async health() {
    return { status: 'healthy' };
  }
}

describe('request hooks', () => {
  const seen: Array<{ hook: string; route?: string; url: string }> = [];
  const record = (hook: string, r: HookRequest) => seen.push({ hook, route: r.route, url: r.url });
  const apiKey: RequestHook = {
    name: 'api-key',
    onRequest(r) {
      record('api-key', r);
      if (r.route === '/health') return;
      if (r.headers['x-api-key'] !== 'k-123') throw new UnauthorizedError('a valid x-api-key header is required');
    },
  };
  const tenants: RequestHook = {
    name: 'tenants',
    async onRequest(r) {
      record('tenants', r);
      await new Promise((resolve) => setImmediate(resolve));
      if (r.headers['x-tenant'] === 'blocked') throw new ForbiddenError('tenant "blocked" may not use this service');
    },
  };
  const buggy: RequestHook = {
    name: 'buggy',
    onRequest(r) {
      if (r.headers['x-trip'] === '1') throw new TypeError('cannot read properties of undefined (at /srv/hook.js:3)');
    },
  };
  let app: FastifyInstance;
  let url: string;

  before(async () => {
    ({ app, url } = await listeningApp(new HookedService(), {
      limits: { ...DEFAULT_LIMITS, maxBodyBytes: 1024 },
      requestHooks: [apiKey, tenants, buggy],
    }));
  });
  after(async () => app?.close());

  const echo = (headers: Record<string, string>) =>
    fetch(`${url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: '{"x":1}',
    });
  const errorOf = async (res: Response) => {
    const text = await res.text();
    assert.doesNotMatch(text, /\n\s+at |\/srv\//, 'no stack trace or internals');
    return [res.status, (JSON.parse(text) as { error: { code: string } }).error.code];
  };

  it('lets through what every hook accepts, and runs them in the order registered', async () => {
    seen.length = 0;
    const res = await echo({ 'x-api-key': 'k-123' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { body: { x: 1 } });
    assert.deepEqual(
      seen.map((s) => s.hook),
      ['api-key', 'tenants'],
    );
    assert.deepEqual(seen[0], { hook: 'api-key', route: '/echo', url: '/echo' });
  });

  it("answers a hook's BentoError with its status and JSON error, and runs no later hook", async () => {
    seen.length = 0;
    assert.deepEqual(await errorOf(await echo({})), [401, 'UNAUTHORIZED']);
    assert.deepEqual(
      seen.map((s) => s.hook),
      ['api-key'],
      'refused by the first hook: the second never ran',
    );
    assert.deepEqual(await errorOf(await echo({ 'x-api-key': 'k-123', 'x-tenant': 'blocked' })), [403, 'FORBIDDEN']);
  });

  it("answers 500 INTERNAL, without the hook's internals, when a hook throws something else", async () => {
    assert.deepEqual(await errorOf(await echo({ 'x-api-key': 'k-123', 'x-trip': '1' })), [500, 'INTERNAL']);
    // The server serves on.
    assert.equal((await echo({ 'x-api-key': 'k-123' })).status, 200);
  });

  it('shows a hook the route, so it can exempt probes; a request for no route is checked too', async () => {
    seen.length = 0;
    assert.equal((await fetch(`${url}/health`)).status, 200);
    assert.deepEqual(await errorOf(await fetch(`${url}/no/such/route?q=1`)), [401, 'UNAUTHORIZED']);
    assert.deepEqual(seen, [
      { hook: 'api-key', route: '/health', url: '/health' },
      { hook: 'tenants', route: '/health', url: '/health' },
      { hook: 'api-key', route: undefined, url: '/no/such/route?q=1' },
    ]);
  });

  it('refuses before the body is read: an unauthorized upload over the body limit gets its 401', async () => {
    // 1 MiB declared and sent against a 1 KiB limit: the hook answers first, so the client reads 401, not 413.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${url}/echo`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': 1 << 20 } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      req.end(Buffer.alloc(1 << 20, 0x20));
    });
    assert.equal(status, 401);
  });
});

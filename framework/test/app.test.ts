import 'reflect-metadata';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import {
  DEFAULT_LIMITS,
  File,
  InvalidInputError,
  JSONBody,
  type FilePart,
  type RequestContext,
  api,
  service,
} from '../src/index.js';
import { limitsFrom } from '../src/config/limits.js';
import { readSettings } from '../src/config/settings.js';
import type { InferenceTarget } from '../src/protocols/inference-target.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { ServerMetrics } from '../src/observability/metrics.js';
import { listeningApp } from './helpers/listening-app.js';

@service({ name: 'app_test', traffic: { timeoutMs: 300, maxConcurrency: 2 } })
class AppTestService {
  @api({
    input: JSONBody({
      schema: { type: 'object', required: ['a'], properties: { a: { type: 'integer' } }, additionalProperties: false },
    }),
  })
  async add(body: { a: number }, ctx: RequestContext) {
    ctx.responseHeaders['x-sum'] = String(body.a + 1);
    return { sum: body.a + 1, requestId: ctx.requestId };
  }

  @api({ input: File() })
  async size(file: FilePart) {
    return { bytes: file.data.length, name: file.filename ?? null, type: file.contentType };
  }

  @api({ input: File({ mediaTypes: ['text/csv', 'audio/*'] }) })
  async raw(file: FilePart) {
    return { bytes: file.data.length, type: file.contentType };
  }

  @api({ input: JSONBody() })
  async created(_body: unknown, ctx: RequestContext) {
    ctx.status = 201;
    return { ok: true };
  }

  @api()
  async search(_: undefined, ctx: RequestContext) {
    return { query: ctx.query };
  }

  @api()
  async slow(_: undefined, ctx: RequestContext) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    return { aborted: ctx.signal.aborted };
  }

  @api()
  async hold() {
    await new Promise((resolve) => setTimeout(resolve, 150));
    return { ok: true };
  }

  @api()
  async bug() {
    throw new TypeError('secret internals at /srv/app.js:12');
  }

  @api()
  async refuse() {
    throw new InvalidInputError('the service said no');
  }
}

const state = { draining: false };
let app: FastifyInstance;
let url: string;

before(async () => {
  ({ app, url } = await listeningApp(new AppTestService(), {
    limits: { ...DEFAULT_LIMITS, maxHeaderBytes: 4096 },
    metrics: new ServerMetrics({ processMetrics: false }),
    state,
  }));
});
after(async () => app?.close());

const post = (path: string, body: string, type = 'application/json', headers: Record<string, string> = {}) =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': type, ...headers }, body });

async function error(res: Response, status: number, code: string) {
  assert.equal(res.status, status);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, code);
  return body.error.message;
}

describe('JSON input', () => {
  it('validates against the schema and passes the body, context headers and request id', async () => {
    const res = await post('/add', '{"a": 41}', 'application/json', { 'x-request-id': 'req-7' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-sum'), '42');
    assert.deepEqual(await res.json(), { sum: 42, requestId: 'req-7' });
  });

  it('answers schema violations with 400 INVALID_INPUT', async () => {
    assert.match(await error(await post('/add', '{"a": "x"}'), 400, 'INVALID_INPUT'), /integer/);
    await error(await post('/add', '{"b": 1}'), 400, 'INVALID_INPUT');
    await error(await post('/add', '{"a": 1, "extra": 2}'), 400, 'INVALID_INPUT');
  });

  it('lets a method set the status', async () => {
    assert.equal((await post('/created', '{}')).status, 201);
  });

  it('hands the method the query string, a repeated parameter as a list', async () => {
    const res = await fetch(`${url}/search?top=3&tag=a&tag=b&q=caf%C3%A9`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { query: { top: '3', tag: ['a', 'b'], q: 'café' } });
    assert.deepEqual(await (await fetch(`${url}/search`)).json(), { query: {} });
  });
});

describe('File input', () => {
  it('takes a multipart file or a raw octet-stream body', async () => {
    const form = new FormData();
    form.append('file', new Blob([Buffer.from('hello')], { type: 'text/plain' }), 'h.txt');
    assert.deepEqual(await (await fetch(`${url}/size`, { method: 'POST', body: form })).json(), {
      bytes: 5,
      name: 'h.txt',
      type: 'text/plain',
    });
    const raw = await post('/size', 'abc', 'application/octet-stream');
    assert.deepEqual(await raw.json(), { bytes: 3, name: null, type: 'application/octet-stream' });
  });
});

describe('traffic control', () => {
  it('answers 504 TIMEOUT when the method overruns traffic.timeoutMs, and aborts its signal', async () => {
    const started = Date.now();
    await error(await fetch(`${url}/slow`), 504, 'TIMEOUT');
    assert.ok(Date.now() - started < 1500);
  });

  it('refuses requests beyond maxConcurrency with 429 and Retry-After', async () => {
    const responses = await Promise.all([1, 2, 3, 4].map(() => fetch(`${url}/hold`)));
    const statuses = responses.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    const refused = responses.find((r) => r.status === 429)!;
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'TOO_MANY_REQUESTS');
    await Promise.all(responses.filter((r) => r !== refused).map(async (r) => r.body?.cancel()));
  });
});

describe('traffic control of the standard protocols', () => {
  // A runner's stand-in whose answers take `ms`: the protocols' routes must keep the service's timeout and cap.
  const target = (ms: number): InferenceTarget => ({
    name: 'slow',
    method: 'predict',
    model: {
      uri: 'test',
      source: 'test',
      path: '/nonexistent',
      format: 'test',
      metadata: {},
      inputs: [{ name: 'x', dtype: 'float32', shape: [null, 2] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [null, 2] }],
      device: 'cpu',
      backend: 'test',
      warmUp: { ran: false, skipped: 'test' },
    },
    infer: async (inputs: Record<string, Tensor>) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return { y: inputs.x };
    },
  });
  const v2 = (base: string) =>
    fetch(`${base}/v2/models/slow/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] }),
    });
  const mlflow = (base: string) =>
    fetch(`${base}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [[1, 2]] }),
    });

  it('answers a protocol call that overruns traffic.timeoutMs with 504 TIMEOUT', async () => {
    const served = await listeningApp(new AppTestService(), {
      targets: [target(2000)],
      metrics: new ServerMetrics({ processMetrics: false }),
    });
    try {
      await error(await v2(served.url), 504, 'TIMEOUT');
      await error(await mlflow(served.url), 504, 'TIMEOUT');
    } finally {
      await served.app.close();
    }
  });

  it('counts protocol calls against maxConcurrency: 429 with Retry-After past it', async () => {
    const served = await listeningApp(new AppTestService(), {
      targets: [target(150)],
      metrics: new ServerMetrics({ processMetrics: false }),
    });
    try {
      const responses = await Promise.all([v2, v2, mlflow, mlflow].map((call) => call(served.url)));
      assert.deepEqual(responses.map((r) => r.status).sort(), [200, 200, 429, 429]);
      for (const res of responses.filter((r) => r.status === 429)) {
        assert.equal(res.headers.get('retry-after'), '1');
        await error(res, 429, 'TOO_MANY_REQUESTS');
      }
    } finally {
      await served.app.close();
    }
  });
});

describe('errors', () => {
  it('hides unexpected errors behind a generic 500 without internals', async () => {
    const res = await fetch(`${url}/bug`);
    const text = await res.text();
    assert.equal(res.status, 500);
    assert.equal(JSON.parse(text).error.code, 'INTERNAL');
    assert.doesNotMatch(text, /secret|srv|TypeError/);
  });

  it('passes a BentoError raised by the service through with its status and code', async () => {
    assert.equal(await error(await fetch(`${url}/refuse`), 400, 'INVALID_INPUT'), 'the service said no');
  });

  it('answers oversized headers with a JSON 431', async () => {
    const res = await fetch(`${url}/refuse`, { headers: { 'x-big': 'y'.repeat(8000) } });
    await error(res, 431, 'HEADERS_TOO_LARGE');
  });

  it('reads as bytes the raw body types an input declares (a CSV, any audio/*), and refuses others with a JSON 415', async () => {
    for (const type of ['text/csv', 'audio/wav', 'audio/ogg']) {
      const res = await post('/raw', '1,2\n3,4', type);
      assert.equal(res.status, 200, type);
      assert.deepEqual(await res.json(), { bytes: 7, type });
    }
    await error(await post('/raw', '1,2', 'video/mp4'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers a request it cannot parse with a JSON 400, and a HEAD one without a body', async () => {
    const { port } = new URL(url);
    const raw = (method: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () =>
          socket.end(
            Buffer.concat([
              Buffer.from(`${method} /docs.json?b=`),
              Buffer.from([0xc3, 0xa9]),
              Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n'),
            ]),
          ),
        );
        let answer = '';
        socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
      });
    const [headers, body] = (await raw('GET')).split('\r\n\r\n');
    assert.match(headers, /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Content-Type: application\/json/);
    assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'BAD_REQUEST');
    const head = await raw('HEAD');
    assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.ok(head.endsWith('\r\n\r\n'), `no body after the headers: ${JSON.stringify(head)}`);
  });

  it('keeps an idle keep-alive connection open for BENTO_KEEP_ALIVE_TIMEOUT_MS (72 s by default), then closes it', async () => {
    // Two requests on one connection, `idleMs` apart: the answers, and whether the server had closed it in between.
    const twoRequests = (base: string, idleMs: number) =>
      new Promise<{ answers: string[]; closedBetween: boolean }>((resolve, reject) => {
        const request = 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n';
        const socket = connect(Number(new URL(base).port), '127.0.0.1', () => socket.write(request));
        const answers: string[] = [];
        let sentSecond = false;
        let timer: NodeJS.Timeout | undefined;
        socket.on('data', (d: Buffer) => {
          answers.push(d.toString('latin1'));
          if (answers.length === 1) timer = setTimeout(() => ((sentSecond = true), socket.end(request)), idleMs);
        });
        socket.on('close', () => {
          clearTimeout(timer);
          resolve({ answers, closedBetween: !sentSecond });
        });
        socket.on('error', reject);
      });
    const idle = await twoRequests(url, 7000);
    assert.match(idle.answers[0], /\r\nKeep-Alive: timeout=72\r\n/);
    assert.equal(idle.closedBetween, false, 'open after 7 s idle (Node alone closes at 5 s, plus its 1 s allowance)');
    assert.match(idle.answers.join(''), /^HTTP\/1\.1 200[\s\S]*HTTP\/1\.1 200/);
    const short = await listeningApp(new AppTestService(), {
      limits: { ...limitsFrom(readSettings({ BENTO_KEEP_ALIVE_TIMEOUT_MS: '1000' })) },
      metrics: new ServerMetrics({ processMetrics: false }),
    });
    try {
      const closed = await twoRequests(short.url, 3000);
      assert.equal(closed.closedBetween, true, 'closed after 3 s idle at a 1 s timeout (Node allows 1 s more)');
    } finally {
      await short.app.close();
    }
  });

  it('takes its request limits from the environment: body bytes, and files and fields per multipart request', async () => {
    const limited = await listeningApp(new AppTestService(), {
      limits: limitsFrom(readSettings({ BENTO_MAX_BODY_BYTES: '1000', BENTO_MAX_FILES: '1', BENTO_MAX_FIELDS: '2' })),
      metrics: new ServerMetrics({ processMetrics: false }),
    });
    const form = (fields: number, files: number, bytes = 10) => {
      const body = new FormData();
      for (let i = 0; i < fields; i++) body.append(`k${i}`, 'v');
      for (let i = 0; i < files; i++)
        body.append(
          i === 0 ? 'file' : `f${i}`,
          new Blob([Buffer.alloc(bytes, 1)], { type: 'application/octet-stream' }),
          `f${i}.bin`,
        );
      return fetch(`${limited.url}/size`, { method: 'POST', body });
    };
    try {
      assert.deepEqual(await (await form(2, 1)).json(), {
        bytes: 10,
        name: 'f0.bin',
        type: 'application/octet-stream',
      });
      assert.match(
        await error(await fetch(`${limited.url}/size`, { method: 'POST', body: new FormData() }), 400, 'MISSING_FIELD'),
        /multipart field "file" with the uploaded file is missing/,
      );
      await error(await form(3, 1), 413, 'TOO_MANY_PARTS');
      await error(await form(0, 2), 413, 'TOO_MANY_PARTS');
      await error(await form(0, 1, 2000), 413, 'PAYLOAD_TOO_LARGE');
      await error(
        await fetch(`${limited.url}/size`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body: Buffer.alloc(2000),
        }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
    } finally {
      await limited.app.close();
    }
  });

  it('answers a client whose headers or body do not arrive within BENTO_RECEIVE_TIMEOUT_MS with a JSON 408', async () => {
    const slow = await listeningApp(new AppTestService(), {
      limits: limitsFrom(readSettings({ BENTO_RECEIVE_TIMEOUT_MS: '1000' })),
      metrics: new ServerMetrics({ processMetrics: false }),
    });
    // Sends `sent` and then nothing more; what the server answers before it closes the connection.
    const stall = (sent: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(slow.url).port), '127.0.0.1', () => socket.write(sent));
        let answer = '';
        socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
      });
    try {
      const cases = {
        'a body that stops':
          'POST /size HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\n0123456789',
        'headers that stop': 'POST /add HTTP/1.1\r\nHost: x\r\nContent-Ty',
      };
      for (const [name, sent] of Object.entries(cases)) {
        const [head, body] = (await stall(sent)).split('\r\n\r\n');
        assert.match(head, /^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*Content-Type: application\/json/, name);
        const error = (JSON.parse(body) as { error: { code: string; message: string } }).error;
        assert.equal(error.code, 'RECEIVE_TIMEOUT', name);
        assert.match(error.message, /did not arrive within 1000 ms/);
      }
      // A request that arrives in time is served as usual by the same server.
      assert.equal(
        (
          await fetch(`${slow.url}/size`, {
            method: 'POST',
            headers: { 'content-type': 'application/octet-stream' },
            body: 'abc',
          })
        ).status,
        200,
      );
    } finally {
      await slow.app.close();
    }
  });

  it('answers unknown routes and methods with JSON 404 / 405', async () => {
    await error(await fetch(`${url}/missing`), 404, 'NOT_FOUND');
    await error(await post('/bug', '{}'), 405, 'METHOD_NOT_ALLOWED');
  });
});

describe('probes', () => {
  it('report live and ready, and not ready (503, Retry-After) once draining', async () => {
    assert.deepEqual((await app.inject({ method: 'GET', url: '/livez' })).json(), { status: 'live' });
    assert.deepEqual((await app.inject({ method: 'GET', url: '/readyz' })).json(), { status: 'ready' });
    state.draining = true;
    try {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(res.json().error.code, 'SHUTTING_DOWN');
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 503);
      assert.equal((await app.inject({ method: 'GET', url: '/livez' })).statusCode, 200);
    } finally {
      state.draining = false;
    }
  });
});

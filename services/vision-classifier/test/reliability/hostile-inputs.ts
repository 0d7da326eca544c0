/**
 * Malformed and hostile requests for every route, generated from a seed so a
 * failing case can be replayed. Each generator names its kind; the fuzz test
 * counts answers per kind.
 */
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { sample } from '../helpers.js';

export interface HostileRequest {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** Where an SVG may try to reach out: a loopback listener and a local file, both watched by the test. */
export interface Canaries {
  url: string;
  file: string;
}

/** A small, fast, seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The image files every mutation starts from: one per format the server accepts, and animated ones. */
export async function seedImages(): Promise<Array<{ format: string; data: Buffer }>> {
  const png = sample('ankle_boot.png');
  const red = await sharp({ create: { width: 28, height: 28, channels: 3, background: '#c33' } })
    .png()
    .toBuffer();
  return [
    { format: 'png', data: png },
    { format: 'png-rgba', data: sample('coat_rgba.png') },
    { format: 'jpeg', data: sample('trouser.jpg') },
    { format: 'bmp', data: sample('bag.bmp') },
    { format: 'webp', data: await sharp(png).webp().toBuffer() },
    { format: 'gif', data: await sharp(png).gif().toBuffer() },
    { format: 'tiff', data: await sharp(png).tiff().toBuffer() },
    { format: 'avif', data: await sharp(png).avif().toBuffer() },
    {
      format: 'svg',
      data: Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><rect width="28" height="20" fill="#888"/></svg>',
      ),
    },
    {
      format: 'gif-animated',
      data: await sharp([png, red, png, red], { join: { animated: true } })
        .gif()
        .toBuffer(),
    },
    {
      format: 'webp-animated',
      data: await sharp([png, red], { join: { animated: true } })
        .webp()
        .toBuffer(),
    },
  ];
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Valid PNG headers (correct CRCs) declaring `width`×`height`, with a tiny compressed body: a decompression bomb. */
function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  // Rows of zeros compress to almost nothing; a few thousand of them are enough to look real.
  const idat = deflateSync(Buffer.alloc(Math.min(height, 4096) * (1 + Math.min(width, 4096) * 3)));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG whose SOF0 header declares 65500×65500. */
function jpegBomb(jpeg: Buffer): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length; i++) {
    if (out[i] === 0xff && out[i + 1] === 0xc0) {
      out.writeUInt16BE(65500, i + 5);
      out.writeUInt16BE(65500, i + 7);
      break;
    }
  }
  return out;
}

/** GIF with a 65535×65535 logical screen. */
function gifBomb(gif: Buffer): Buffer {
  const out = Buffer.from(gif);
  out.writeUInt16LE(65535, 6);
  out.writeUInt16LE(65535, 8);
  return out;
}

function hostileSvgs(c: Canaries): Array<[string, string]> {
  const ns = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"';
  return [
    [
      'svg-xxe-file',
      `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file://${c.file}">]><svg ${ns} width="28" height="28"><text y="20">&x;</text></svg>`,
    ],
    [
      'svg-xxe-url',
      `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "${c.url}/xxe">]><svg ${ns} width="28" height="28"><text y="20">&x;</text></svg>`,
    ],
    [
      'svg-image-file',
      `<svg ${ns} width="28" height="28"><image href="file://${c.file}" width="28" height="28"/><image xlink:href="${c.file}" width="28" height="28"/></svg>`,
    ],
    [
      'svg-image-url',
      `<svg ${ns} width="28" height="28"><image href="${c.url}/img.png" width="28" height="28"/><use href="${c.url}/defs.svg#a"/></svg>`,
    ],
    [
      'svg-css-import',
      `<svg ${ns} width="28" height="28"><style>@import url("${c.url}/style.css"); rect { fill: url(${c.url}/fill) }</style><rect width="28" height="28"/></svg>`,
    ],
    [
      'svg-xinclude',
      `<svg ${ns} xmlns:xi="http://www.w3.org/2001/XInclude" width="28" height="28"><xi:include href="file://${c.file}" parse="text"/></svg>`,
    ],
    [
      'svg-billion-laughs',
      `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]><svg ${ns} width="28" height="28"><text>&f;&f;&f;&f;</text></svg>`,
    ],
    ['svg-huge-canvas', `<svg ${ns} width="1000000" height="1000000"><rect width="100%" height="100%"/></svg>`],
    [
      'svg-deep-nesting',
      `<svg ${ns} width="28" height="28">${'<g>'.repeat(5000)}<rect width="1" height="1"/>${'</g>'.repeat(5000)}</svg>`,
    ],
  ];
}

type Gen = (r: () => number) => HostileRequest;

const BOUNDARY = '----hostile';

function multipartBody(
  parts: Array<{ name: string; filename?: string; type?: string; data: Buffer }>,
  boundary = BOUNDARY,
): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`,
      ),
      p.data,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

function upload(kind: string, data: Buffer, type = 'application/octet-stream', filename = 'x'): HostileRequest {
  return {
    kind,
    method: 'POST',
    path: '/predict_image',
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    body: multipartBody([{ name: 'image', filename, type, data }]),
  };
}

function json(kind: string, path: string, text: string): HostileRequest {
  return { kind, method: 'POST', path, headers: { 'content-type': 'application/json' }, body: Buffer.from(text) };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: () => number, n: number) => Math.floor(r() * n);

function mutate(r: () => number, data: Buffer): [string, Buffer] {
  const out = Buffer.from(data);
  const how = r();
  if (how < 0.3) {
    for (let k = 0, n = 1 + int(r, 24); k < n; k++) out[int(r, out.length)] = int(r, 256);
    return ['bit-flips', out];
  }
  if (how < 0.5) return ['truncated', out.subarray(0, int(r, out.length))];
  if (how < 0.65) {
    for (let k = 0; k < 6; k++) out[int(r, Math.min(48, out.length))] = int(r, 256);
    return ['header-corrupted', out];
  }
  if (how < 0.75) {
    const at = int(r, out.length);
    return [
      'bytes-inserted',
      Buffer.concat([
        out.subarray(0, at),
        Buffer.from(Array.from({ length: 1 + int(r, 200) }, () => int(r, 256))),
        out.subarray(at),
      ]),
    ];
  }
  if (how < 0.85) {
    const at = int(r, out.length);
    return [
      'bytes-deleted',
      Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + int(r, 64)))]),
    ];
  }
  if (how < 0.93) return ['padded', Buffer.concat([out, Buffer.alloc(int(r, 4096), int(r, 256))])];
  return ['random-bytes', Buffer.from(Array.from({ length: int(r, 2048) }, () => int(r, 256)))];
}

const pixel = (r: () => number) => int(r, 256);
const image3d = (r: () => number, h: number, w: number, c: number, value: (r: () => number) => unknown = pixel) =>
  Array.from({ length: h }, () => Array.from({ length: w }, () => Array.from({ length: c }, () => value(r))));

function batchCases(r: () => number): HostileRequest {
  const good = image3d(r, 32, 32, 3);
  const cases: Array<[string, () => string]> = [
    ['json-nan', () => `{"input": [[[[NaN, 1, 2]]]]}`],
    ['json-infinity', () => `{"input": [[[[Infinity, -Infinity, 1e400]]]]}`],
    ['json-strings', () => JSON.stringify({ input: [image3d(r, 32, 32, 3, () => pick(r, ['1', 'a', '', '0x10']))] })],
    ['json-nulls', () => JSON.stringify({ input: [null, [null], [[null]]] })],
    ['json-deep-nesting', () => `{"input": ${'['.repeat(20000)}1${']'.repeat(20000)}}`],
    ['json-ragged', () => JSON.stringify({ input: [good, image3d(r, 31, 32, 3)] })],
    ['json-oversized-batch', () => JSON.stringify({ input: Array.from({ length: 33 + int(r, 40) }, () => good) })],
    ['json-negative', () => JSON.stringify({ input: [image3d(r, 32, 32, 3, () => -1 - int(r, 1000))] })],
    ['json-over-255', () => JSON.stringify({ input: [image3d(r, 32, 32, 3, () => 256 + int(r, 1e6))] })],
    ['json-wrong-channels', () => JSON.stringify({ input: [image3d(r, 32, 32, pick(r, [0, 1, 2, 5, 64]))] })],
    ['json-wrong-size', () => JSON.stringify({ input: [image3d(r, 1 + int(r, 200), 1 + int(r, 200), 3)] })],
    ['json-empty-batch', () => '{"input": []}'],
    [
      'json-wrong-type',
      () =>
        JSON.stringify(pick(r, [{ input: 'x' }, { input: 5 }, { input: {} }, [], 'x', 7, null, { inputs: [good] }])),
    ],
    ['json-truncated', () => JSON.stringify({ input: [good] }).slice(0, int(r, 5000))],
    ['json-invalid-utf8', () => Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]).toString('latin1')],
    ['json-duplicate-keys', () => `{"input": [], "input": ${JSON.stringify([good])}, "input": "x"}`],
    [
      'json-proto-pollution',
      () =>
        `{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}, "input": [${JSON.stringify(good)}]}`,
    ],
  ];
  const [kind, make] = pick(r, cases);
  return json(kind, '/predict_batch', make());
}

function protocolCases(r: () => number): HostileRequest {
  // The model's infer route, with and without the version it serves.
  const infer = pick(r, ['/v2/models/vision_model_runner/infer', '/v2/models/vision_model_runner/versions/1/infer']);
  const cases: Array<() => HostileRequest> = [
    () =>
      json(
        'v2-unknown-version',
        `/v2/models/vision_model_runner/versions/${pick(r, ['2', '0', '-1', '%00', 'a'.repeat(500)])}/infer`,
        '{"inputs": []}',
      ),
    () =>
      json(
        'v2-wrong-shape',
        infer,
        JSON.stringify({
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 32, int(r, 100)], data: [1, 2, 3] }],
        }),
      ),
    () =>
      json(
        'v2-wrong-datatype',
        infer,
        JSON.stringify({
          inputs: [
            {
              name: 'input',
              datatype: pick(r, ['BYTES', 'FP64', 'BOOL', 'X']),
              shape: [1, 3, 32, 32],
              data: Array(3072).fill(0),
            },
          ],
        }),
      ),
    () =>
      json(
        'v2-huge-shape',
        infer,
        JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2 ** 31, 3, 32, 32], data: [] }] }),
      ),
    () =>
      json(
        'v2-negative-shape',
        infer,
        JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 3, 32, 32], data: [] }] }),
      ),
    () =>
      json(
        'v2-missing-inputs',
        infer,
        JSON.stringify(pick(r, [{}, { inputs: [] }, { inputs: null }, { inputs: [{}] }])),
      ),
    () => ({
      kind: 'v2-binary-lies',
      method: 'POST',
      path: infer,
      headers: {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(pick(r, [-1, 0, 5, 10_000_000, 'x'])),
      },
      body: Buffer.concat([
        Buffer.from(
          JSON.stringify({
            inputs: [
              { name: 'input', datatype: 'FP32', shape: [1, 3, 32, 32], parameters: { binary_data_size: int(r, 1e7) } },
            ],
          }),
        ),
        Buffer.alloc(int(r, 12288)),
      ]),
    }),
    () =>
      json(
        'v2-unknown-model',
        `/v2/models/${pick(r, ['nope', '..%2F..', '%00', 'a'.repeat(2000)])}/infer`,
        '{"inputs": []}',
      ),
    () =>
      json(
        'mlflow-bad-format',
        '/invocations',
        JSON.stringify(
          pick(r, [
            {},
            { inputs: 'x' },
            { instances: [[1, 2]] },
            { dataframe_split: { columns: ['a'], data: [[1, 2]] } },
            { dataframe_records: [{ a: 'x' }] },
            { inputs: [], instances: [] },
          ]),
        ),
      ),
    () => ({
      kind: 'mlflow-bad-csv',
      method: 'POST',
      path: '/invocations',
      headers: { 'content-type': 'text/csv' },
      body: Buffer.from(
        pick(r, ['', 'a,b\n1', '\n\n\n', '"unterminated\n1,2', 'x\n' + 'NaN\n'.repeat(10), 'a\n' + '1,'.repeat(5000)]),
      ),
    }),
    () => ({
      kind: 'mlflow-wrong-type',
      method: 'POST',
      path: '/invocations',
      headers: { 'content-type': pick(r, ['text/plain', 'application/xml', 'image/png']) },
      body: Buffer.from('1,2,3'),
    }),
  ];
  return pick(r, cases)();
}

function httpCases(r: () => number, images: Array<{ format: string; data: Buffer }>): HostileRequest {
  const png = images[0].data;
  const cases: Array<() => HostileRequest> = [
    () => ({ kind: 'no-content-type', method: 'POST', path: '/predict_image', headers: {}, body: png }),
    () => ({
      kind: 'wrong-content-type',
      method: 'POST',
      path: '/predict_image',
      headers: { 'content-type': pick(r, ['text/plain', 'application/json', 'application/xml', 'video/mp4', 'x/y']) },
      body: png,
    }),
    () => ({
      kind: 'multipart-no-boundary',
      method: 'POST',
      path: '/predict_image',
      headers: { 'content-type': 'multipart/form-data' },
      body: multipartBody([{ name: 'image', filename: 'a.png', type: 'image/png', data: png }]),
    }),
    () => ({
      kind: 'multipart-wrong-boundary',
      method: 'POST',
      path: '/predict_image',
      headers: { 'content-type': 'multipart/form-data; boundary=other' },
      body: multipartBody([{ name: 'image', filename: 'a.png', type: 'image/png', data: png }]),
    }),
    () => {
      const body = multipartBody([{ name: 'image', filename: 'a.png', type: 'image/png', data: png }]);
      return {
        kind: 'multipart-truncated',
        method: 'POST',
        path: '/predict_image',
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        body: body.subarray(0, int(r, body.length)),
      };
    },
    () => ({
      kind: 'multipart-no-file',
      method: 'POST',
      path: '/predict_image',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body: multipartBody([{ name: pick(r, ['file', 'img', '']), filename: 'a.png', data: png }]),
    }),
    () => ({
      kind: 'multipart-many-parts',
      method: 'POST',
      path: '/predict_image',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body: multipartBody(
        Array.from({ length: 20 + int(r, 200) }, (_, i) => ({ name: `f${i}`, data: Buffer.from('x') })),
      ),
    }),
    () => ({
      kind: 'multipart-many-files',
      method: 'POST',
      path: '/predict_image',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body: multipartBody(
        Array.from({ length: 9 + int(r, 40) }, () => ({
          name: 'image',
          filename: 'a.png',
          type: 'image/png',
          data: png,
        })),
      ),
    }),
    () => ({
      kind: 'multipart-huge-field-name',
      method: 'POST',
      path: '/predict_image',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body: multipartBody([
        { name: 'n'.repeat(100_000), data: Buffer.from('x') },
        { name: 'image', filename: 'a.png', type: 'image/png', data: png },
      ]),
    }),
    () => ({
      kind: 'multipart-garbage',
      method: 'POST',
      path: '/predict_image',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body: Buffer.from(Array.from({ length: int(r, 4000) }, () => int(r, 256))),
    }),
    () => ({
      kind: 'huge-header',
      method: 'GET',
      path: '/health',
      headers: { 'x-filler': 'a'.repeat(17_000 + int(r, 50_000)) },
    }),
    () => ({
      kind: 'many-headers',
      method: 'GET',
      path: '/get_model_info',
      headers: Object.fromEntries(Array.from({ length: 300 + int(r, 500) }, (_, i) => [`x-h${i}`, 'v'.repeat(20)])),
    }),
    () => ({
      kind: 'unknown-route',
      method: pick(r, ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']),
      path: pick(r, [
        '/nope',
        '/predict_image/../../etc/passwd',
        '/%2e%2e/%2e%2e',
        `/${'a'.repeat(3000)}`,
        '/v2/models',
        '/docs.json/x',
        '/metrics?x=' + '%'.repeat(10),
      ]),
      headers: {},
    }),
    () => ({
      kind: 'wrong-method',
      method: pick(r, ['GET', 'PUT', 'DELETE', 'PATCH']),
      path: pick(r, ['/predict_image', '/predict_batch', '/invocations']),
      headers: {},
    }),
    () => ({
      kind: 'query-garbage',
      method: 'GET',
      path: `/get_model_info?${'a[b][c]='.repeat(200)}&${'%zz'.repeat(50)}`,
      headers: {},
    }),
    // Every route that reads rather than predicts, with odd methods, queries and headers.
    () => ({
      kind: 'read-routes',
      method: pick(r, ['GET', 'GET', 'HEAD', 'OPTIONS']),
      path:
        pick(r, [
          '/metrics',
          '/docs.json',
          '/docs',
          '/livez',
          '/readyz',
          '/healthz',
          '/health',
          '/get_model_info',
          '/ping',
          '/version',
          '/v2',
          '/v2/health/live',
          '/v2/health/ready',
          '/v2/models/vision_model_runner',
          '/v2/models/vision_model_runner/ready',
          '/v2/models/vision_model_runner/versions/1',
          '/v2/models/x%00y',
          '/v2/models/%ff%fe/ready',
          // Swagger UI and the files it serves (@fastify/static), with paths that try to leave its directory.
          '/',
          '/json',
          '/yaml',
          '/static/index.html',
          '/static/swagger-ui.css',
          '/static/swagger-initializer.js',
          '/static/../package.json',
          '/static/%2e%2e/package.json',
          '/static/..%2fpackage.json',
          '/static/..%5cpackage.json',
          '/static/../../../../package.json',
          '/static/%00',
          '/static/' + 'a/'.repeat(300),
        ]) + pick(r, ['', '?', '?name[]=1&name[]=2', `?${'x'.repeat(5000)}=1`, '?%', '?a=%zz&b=é']),
      headers: pick(r, [
        {},
        {
          accept: pick(r, ['application/xml', '*/*;q=garbage', 'text/html, application/json;q=0.5', 'x'.repeat(8000)]),
        },
        { 'accept-encoding': pick(r, ['br;q=abc', 'gzip, deflate, zstd, *;q=0', 'x-nope']) },
        { range: pick(r, ['bytes=0-0', 'bytes=-1', 'bytes=999999999-', 'lines=1-2']) },
        { 'if-none-match': '"x"', 'if-modified-since': 'not a date' },
        { 'x-request-id': pick(r, ['', ' ', 'a'.repeat(4000), '../../etc/passwd', '{"$gt":""}']) },
        { traceparent: pick(r, ['00-zz-zz-01', '00-' + '0'.repeat(32) + '-' + '0'.repeat(16) + '-01', 'garbage']) },
      ]),
    }),
    () => upload('empty-file', Buffer.alloc(0), 'image/png'),
    () => ({
      kind: 'raw-image-wrong-type',
      method: 'POST',
      path: '/predict_image',
      headers: { 'content-type': pick(r, ['image/png', 'image/jpeg', 'image/svg+xml', 'image/x-nope']) },
      body: pick(r, images).data,
    }),
  ];
  return pick(r, cases)();
}

/** Requests whose size alone should be refused: built once, sent a few times. */
export function oversizedRequests(maxBodyBytes: number): HostileRequest[] {
  const big = Buffer.alloc(maxBodyBytes + 1024, 1);
  return [
    {
      kind: 'body-over-limit-raw',
      method: 'POST',
      path: '/predict_image',
      headers: { 'content-type': 'image/png' },
      body: big,
    },
    {
      kind: 'body-over-limit-multipart',
      method: 'POST',
      path: '/predict_image',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body: multipartBody([{ name: 'image', filename: 'a.png', type: 'image/png', data: big }]),
    },
    {
      kind: 'body-over-limit-json',
      method: 'POST',
      path: '/predict_batch',
      headers: { 'content-type': 'application/json' },
      body: Buffer.concat([Buffer.from('{"input": ['), Buffer.alloc(maxBodyBytes, 0x30), Buffer.from(']}')]),
    },
  ];
}

/**
 * `count` hostile requests across every route, in a repeatable order for the
 * seed: mutated images of every format (multipart and raw), decompression
 * bombs, hostile SVGs, bad batches, bad protocol calls and malformed HTTP.
 */
export function* hostileRequests(
  seed: number,
  count: number,
  images: Array<{ format: string; data: Buffer }>,
  canaries: Canaries,
): Generator<HostileRequest> {
  const r = prng(seed);
  const jpeg = images.find((i) => i.format === 'jpeg')!.data;
  const gif = images.find((i) => i.format === 'gif')!.data;
  const svgs = hostileSvgs(canaries);
  const gens: Array<[number, Gen]> = [
    [
      0.38,
      (r) => {
        const base = pick(r, images);
        const [how, data] = mutate(r, base.data);
        return r() < 0.8
          ? upload(`${base.format}-${how}`, data, pick(r, ['image/png', 'image/jpeg', 'application/octet-stream']))
          : {
              kind: `${base.format}-${how}-raw`,
              method: 'POST',
              path: '/predict_image',
              headers: { 'content-type': 'application/octet-stream' },
              body: data,
            };
      },
    ],
    [0.04, (r) => upload(`intact-${pick(r, images).format}`, pick(r, images).data)],
    [
      0.06,
      (r) => {
        const bombs: Array<[string, () => Buffer]> = [
          [
            'bomb-png',
            () =>
              pngBomb(pick(r, [100_000, 65_535, 2 ** 31 - 1, 30_000]), pick(r, [100_000, 65_535, 2 ** 31 - 1, 30_000])),
          ],
          ['bomb-jpeg', () => jpegBomb(jpeg)],
          ['bomb-gif', () => gifBomb(gif)],
        ];
        const [kind, make] = pick(r, bombs);
        return upload(kind, make());
      },
    ],
    [
      0.1,
      (r) => {
        const [kind, svg] = pick(r, svgs);
        return r() < 0.7
          ? upload(kind, Buffer.from(svg), 'image/svg+xml', 'a.svg')
          : {
              kind: `${kind}-raw`,
              method: 'POST',
              path: '/predict_image',
              headers: { 'content-type': 'image/svg+xml' },
              body: Buffer.from(svg),
            };
      },
    ],
    // Image URLs where an image belongs: bento-ts takes images only in the request, and must never fetch one.
    [
      0.02,
      (r) => {
        const link = `${canaries.url}/${pick(r, ['x.png', 'latest/meta-data', 'a.jpg?redirect=1'])}`;
        const cases: HostileRequest[] = [
          json(
            'url-input-json',
            '/predict_image',
            JSON.stringify(pick(r, [{ image: link }, { url: link }, { image_url: link }])),
          ),
          json(
            'url-input-batch',
            '/predict_batch',
            JSON.stringify(pick(r, [{ input: link }, { input: [link] }, { url: link }])),
          ),
          upload('url-input-multipart', Buffer.from(link), 'text/uri-list'),
          {
            kind: 'url-input-raw',
            method: 'POST',
            path: '/predict_image',
            headers: { 'content-type': 'image/png' },
            body: Buffer.from(link),
          },
          json(
            'url-input-v2',
            '/v2/models/vision_model_runner/infer',
            JSON.stringify({ inputs: [{ name: 'input', datatype: 'BYTES', shape: [1], data: [link] }] }),
          ),
        ];
        return pick(r, cases);
      },
    ],
    [0.17, batchCases],
    [0.1, protocolCases],
    [0.15, (r) => httpCases(r, images)],
  ];
  const total = gens.reduce((s, [w]) => s + w, 0);
  for (let i = 0; i < count; i++) {
    let x = r() * total;
    const gen = gens.find(([w]) => (x -= w) < 0)?.[1] ?? gens[0][1];
    yield gen(r);
  }
}

/**
 * The hostile-input fuzz suite: 20,000 malformed requests (FUZZ_REQUESTS) across
 * every route, against `bento serve` in its own process. Every answer must be
 * 2xx or a JSON 4xx within a bounded time; the process must neither crash nor
 * restart a worker; memory must stay bounded; SVGs must reach neither the
 * network nor the disk.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_LIMITS } from '@bento-ts/framework';
import { type LiveBento, REPO_ROOT, howItEnded, multipart, rssBytes, sample, startBento } from '../helpers.js';
import { type HostileRequest, hostileRequests, oversizedRequests, seedImages } from './hostile-inputs.js';

const COUNT = Number(process.env.FUZZ_REQUESTS ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const CONCURRENCY = 16;
/** No answer may take longer; the server's own request timeout is 60 s, so a hang shows here first. */
const ANSWER_WITHIN_MS = 10_000;

interface Answer {
  status?: number;
  body: string;
  type?: string;
  ms: number;
  error?: string;
  /** A HEAD request: its answer has the headers of a GET's and no body. */
  head?: boolean;
}

function send(agent: Agent, port: number, req: HostileRequest): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const headers = { ...req.headers, ...(req.body ? { 'content-length': String(req.body.length) } : {}) };
    let status: number | undefined;
    let type: string | undefined;
    const chunks: Buffer[] = [];
    const done = (error?: string) => {
      const body = Buffer.concat(chunks).toString('utf8');
      // A server may answer an oversized body at once and close while the client still writes: the answer counts
      // when it arrived whole (a JSON body that parses), whatever the write then met.
      const whole =
        status !== undefined &&
        (!error ||
          (() => {
            try {
              JSON.parse(body);
              return true;
            } catch {
              return false;
            }
          })());
      resolve(
        whole
          ? { status, type, body, ms: performance.now() - started, head: req.method === 'HEAD' }
          : { body, ms: performance.now() - started, error: error ?? 'incomplete answer' },
      );
    };
    const r = request(
      { host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent, timeout: ANSWER_WITHIN_MS },
      (res) => {
        status = res.statusCode;
        type = res.headers['content-type'];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => done());
        res.on('error', (err) => done(err.message));
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer in ${ANSWER_WITHIN_MS} ms`)));
    r.on('error', (err) => done((err as NodeJS.ErrnoException).code ?? err.message));
    r.end(req.body);
  });
}

/** What is wrong with an answer, or undefined when it keeps the promise. */
function problem(a: Answer): string | undefined {
  if (a.error) return `no answer: ${a.error}`;
  if (a.status! >= 500) return `status ${a.status}: ${a.body.slice(0, 300)}`;
  // The read routes are sent paths that try to leave Swagger UI's static directory: no package manifest comes back.
  if (a.status! < 300 && /"(devDependencies|workspaces)"\s*:/.test(a.body))
    return `a file outside the served directories: ${a.body.slice(0, 200)}`;
  if (!/^application\/json/.test(a.type ?? '') && a.status! >= 400)
    return `status ${a.status} with ${a.type}: ${a.body.slice(0, 200)}`;
  if (a.status! >= 400 && !a.head) {
    const e = (JSON.parse(a.body) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof e?.code !== 'string' || typeof e.message !== 'string')
      return `status ${a.status} without {error:{code,message}}: ${a.body.slice(0, 200)}`;
    if (/\n\s+at /.test(e.message)) return `a stack trace in the message: ${e.message.slice(0, 200)}`;
  }
  return undefined;
}

describe('hostile-input fuzzing', { timeout: 1_200_000 }, () => {
  let bento: LiveBento;
  let canaryHits = 0;
  const canary = createServer((_req, res) => {
    canaryHits++;
    res.end('x');
  });
  const canaryFile = join(tmpdir(), `bento-canary-${process.pid}.png`);
  const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);

  before(async () => {
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    writeFileSync(canaryFile, sample('ankle_boot.png'));
    // Under relatime a read moves an atime that is older than a day: the test sees any read of the file. A control
    // read proves that this filesystem does so (on noatime the check could not fail).
    utimesSync(canaryFile, twoDaysAgo, twoDaysAgo);
    readFileSync(canaryFile);
    assert.ok(
      statSync(canaryFile).atimeMs > twoDaysAgo.getTime() + 1000,
      'this filesystem records reads (relatime or strictatime)',
    );
    utimesSync(canaryFile, twoDaysAgo, twoDaysAgo);
    bento = await startBento();
  });
  after(async () => {
    canary.close();
    bento?.child.kill('SIGTERM');
    await bento?.exited;
  });

  it(`answers ${COUNT} hostile requests with 2xx or a JSON 4xx, in bounded time and memory, without a crash`, async () => {
    const pid = bento.child.pid!;
    const canaryUrl = `http://127.0.0.1:${(canary.address() as { port: number }).port}`;
    const images = await seedImages();
    const baseline = rssBytes(pid)!;
    let maxRss = baseline;
    // Once the process is gone there is nothing to sample; the check after the load says how it ended.
    const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssBytes(pid) ?? maxRss)), 100);
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const byKind = new Map<string, Record<string, number>>();
    const problems: string[] = [];
    const problemsByKind = new Map<string, number>();
    let slowest = 0;
    let tried = 0;
    const record = (req: HostileRequest, a: Answer) => {
      tried++;
      slowest = Math.max(slowest, a.ms);
      const counts = byKind.get(req.kind) ?? {};
      const key = a.error ? 'no answer' : String(a.status);
      counts[key] = (counts[key] ?? 0) + 1;
      byKind.set(req.kind, counts);
      const p = problem(a);
      if (!p) return;
      problemsByKind.set(req.kind, (problemsByKind.get(req.kind) ?? 0) + 1);
      if (problemsByKind.get(req.kind)! <= 2 && problems.length < 40)
        problems.push(`${req.kind} ${req.method} ${req.path.slice(0, 80)}: ${p}`);
    };
    const started = performance.now();
    try {
      for (let round = 0; round < 5; round++)
        for (const req of oversizedRequests(DEFAULT_LIMITS.maxBodyBytes))
          record(req, await send(agent, bento.port, req));
      const source = hostileRequests(SEED, COUNT, images, { url: canaryUrl, file: canaryFile });
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let next = source.next(); !next.done; next = source.next())
            record(next.value, await send(agent, bento.port, next.value));
        }),
      );
    } finally {
      clearInterval(sampler);
      agent.destroy();
    }
    const seconds = (performance.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    // Still the same process (neither exited nor killed by a signal), still answering correctly.
    assert.equal(howItEnded(bento), undefined);
    const rssAfter = rssBytes(pid)!;
    const res = await fetch(`${bento.base}/predict_image`, {
      method: 'POST',
      body: multipart('image', sample('ankle_boot.png'), 'a.png', 'image/png'),
    });
    assert.equal(((await res.json()) as { predicted_class: string }).predicted_class, 'Ankle boot');
    const crashes = (bento.stderr.match(/RUNNER_CRASHED|worker .* (exited|died)|uncaught|FATAL/gi) ?? []).length;

    const statuses: Record<string, number> = {};
    for (const counts of byKind.values())
      for (const [k, n] of Object.entries(counts)) statuses[k] = (statuses[k] ?? 0) + n;
    const figures = {
      requests: tried,
      kinds: byKind.size,
      seconds: Math.round(seconds),
      statuses,
      five_xx: Object.entries(statuses)
        .filter(([k]) => Number(k) >= 500)
        .reduce((s, [, n]) => s + n, 0),
      no_answer: statuses['no answer'] ?? 0,
      slowest_ms: Math.round(slowest),
      crashes,
      rss_mb: { before: Math.round(baseline / 1e6), max: Math.round(maxRss / 1e6), after: Math.round(rssAfter / 1e6) },
      canary_requests: canaryHits,
      canary_file_read: statSync(canaryFile).atimeMs > twoDaysAgo.getTime() + 1000,
      by_kind: Object.fromEntries([...byKind.entries()].sort()),
    };
    mkdirSync(join(REPO_ROOT, 'test-output', 'reliability'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'test-output', 'reliability', 'fuzz.json'), JSON.stringify(figures, null, 2));

    assert.deepEqual(problems, []);
    assert.ok(tried >= COUNT, `${tried} tried`);
    assert.equal(figures.five_xx, 0);
    assert.equal(figures.no_answer, 0);
    assert.equal(crashes, 0, bento.stderr.slice(-2000));
    assert.ok(slowest < ANSWER_WITHIN_MS);
    assert.equal(canaryHits, 0, 'an SVG made the server fetch a URL');
    assert.equal(figures.canary_file_read, false, 'an SVG made the server read a local file');
    // Bounded: no request may make the server hold more than a fixed amount, and it gives memory back.
    assert.ok(maxRss < 1.5e9, `max RSS ${figures.rss_mb.max} MB`);
    assert.ok(
      rssAfter < baseline + 400e6,
      `RSS after ${figures.rss_mb.after} MB against ${figures.rss_mb.before} MB before`,
    );
    // Every family of input was tried, and both outcomes seen: the suite is not sending only what the server likes.
    assert.ok(byKind.size >= 60, `${byKind.size} kinds`);
    assert.ok(
      (statuses['200'] ?? 0) > 0 &&
        (statuses['400'] ?? 0) > 0 &&
        (statuses['413'] ?? 0) > 0 &&
        (statuses['415'] ?? 0) > 0,
      JSON.stringify(statuses),
    );
  });
});

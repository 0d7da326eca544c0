import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Limits, type RunningServer, loadProject, startServer } from '@bento-ts/framework';

export const SERVICE_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const SAMPLES_DIR = fileURLToPath(new URL('../../samples/', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export const CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

export function sample(name: string): Buffer {
  return readFileSync(SAMPLES_DIR + name);
}

export interface ExpectedSample {
  file: string;
  label: number;
  predicted_index: number;
  probabilities: number[];
}

/** The PyTorch model's answers for the sample files, written by training/make_samples.py. */
export function expectedSamples(): ExpectedSample[] {
  return JSON.parse(readFileSync(SAMPLES_DIR + 'expected.json', 'utf8')) as ExpectedSample[];
}

/** The real service on an ephemeral port, as `bento serve` runs it. */
export async function startService(
  options: { env?: Record<string, string>; limits?: Partial<Limits> } = {},
): Promise<RunningServer> {
  return startServer({
    project: loadProject(SERVICE_DIR),
    port: 0,
    host: '127.0.0.1',
    env: { ...process.env, ...options.env },
    limits: options.limits,
    logger: false,
  });
}

/** The real service for the tests of one describe block: started before them, closed after them. */
export function serviceForTests(): { readonly server: RunningServer; readonly url: string } {
  const handle = {} as { server: RunningServer; url: string };
  before(async () => {
    handle.server = await startService();
    handle.url = `http://127.0.0.1:${handle.server.port}`;
  });
  after(() => handle.server?.close());
  return handle;
}

export function multipart(field: string, data: Buffer, filename: string, type: string): FormData {
  const form = new FormData();
  form.append(field, new Blob([data], { type }), filename);
  return form;
}

/** The open-loop load generator of the framework's reliability tests (framework/test/reliability/offered-load.ts). */
export const LOAD_GENERATOR = join(REPO_ROOT, 'framework', 'dist', 'test', 'reliability', 'offered-load.js');

/** A sample as a multipart upload written to a file, for the load generator: the file and its content type. */
export async function uploadFile(name: string, type: string): Promise<{ file: string; type: string }> {
  const encoded = new Response(multipart('image', sample(name), name, type));
  const file = join(mkdtempSync(join(tmpdir(), 'bento-upload-')), 'upload.multipart');
  writeFileSync(file, Buffer.from(await encoded.arrayBuffer()));
  return { file, type: encoded.headers.get('content-type')! };
}

export interface ErrorResponse {
  error: { code: string; message: string };
}

export const BENTO = join(REPO_ROOT, 'framework', 'bin', 'bento.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** buildah's storage for the image tests: vfs, as infra/base-image.sh and infra/k8s.sh use it. */
export const BUILDAH_STORAGE = ['--storage-driver', 'vfs'];

/** The stand-in of node:<major>-bookworm-slim for the Node.js running the tests (infra/base-image.sh builds it once). */
export function baseImage(): string {
  return execFileSync('bash', [join(REPO_ROOT, 'infra', 'base-image.sh')], {
    env: { ...process.env, NODE_BIN: process.execPath },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .toString()
    .trim();
}

/** `bento containerize` of a bento into `image` with buildah, from `base` (baseImage()). */
export function containerize(tag: string, image: string, base: string, env: Record<string, string>): Promise<Run> {
  return runBento(
    [
      'containerize',
      tag,
      '--backend',
      'buildah',
      '-t',
      image,
      '--build-arg',
      `BASE_IMAGE=${base}`,
      '--',
      ...BUILDAH_STORAGE,
    ],
    env,
    undefined,
    undefined,
    REPO_ROOT,
    1_200_000,
  );
}

/** Runs `bento` until it exits, or until `until` matches its stdout (then stops it with SIGTERM). */
export function runBento(
  args: string[],
  env: Record<string, string> = {},
  until?: RegExp,
  onReady?: (stdout: string) => Promise<void>,
  cwd = REPO_ROOT,
  timeoutMs = 60_000,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BENTO, ...args], {
      cwd,
      env: { ...process.env, BENTO_LOG_LEVEL: 'warn', ...env },
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += String(d);
      if (until?.test(stdout)) {
        until = undefined;
        (onReady ?? (async () => undefined))(stdout).then(
          () => child.kill('SIGTERM'),
          (err: unknown) => {
            child.kill('SIGKILL');
            reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface LiveBento {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>`, from the start-up banner. */
  base: string;
  port: number;
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<number | null>;
}

/** Starts `bento serve` on an ephemeral port and resolves once its banner shows the address. */
export async function startBento(args: string[] = [], env: Record<string, string> = {}): Promise<LiveBento> {
  const child = spawn(process.execPath, [BENTO, 'serve', '.', '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, BENTO_LOG_LEVEL: 'warn', ...env },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const base = await new Promise<string>((resolve, reject) => {
    const poll = setInterval(() => {
      const m = /Health: GET (\S+)\/health/.exec(out.stdout);
      if (m) {
        resolve(m[1]);
        clearInterval(poll);
      }
    }, 50);
    child.once('exit', (code) => (clearInterval(poll), reject(new Error(`bento serve exited ${code}: ${out.stderr}`))));
  });
  return {
    child,
    base,
    port: Number(new URL(base).port),
    get stdout() {
      return out.stdout;
    },
    get stderr() {
      return out.stderr;
    },
    exited,
  };
}

/**
 * Uploads with half of each body sent: they stay in flight until `finish`
 * sends the rest, so a test can act while the server holds them.
 */
export async function halfSentUploads(
  port: number,
  count: number,
  image = 'trouser.jpg',
): Promise<Array<{ done: Promise<{ status: number; body: string }>; finish: () => void }>> {
  const encoded = new Response(
    multipart('image', sample(image), image, image.endsWith('.png') ? 'image/png' : 'image/jpeg'),
  );
  const type = encoded.headers.get('content-type')!;
  const body = Buffer.from(await encoded.arrayBuffer());
  const half = Math.floor(body.length / 2);
  return Array.from({ length: count }, () => {
    let finish!: () => void;
    const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/predict_image',
          method: 'POST',
          headers: { 'content-type': type, 'content-length': body.length },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, half));
      finish = () => req.end(body.subarray(half));
    });
    return { done, finish: () => finish() };
  });
}

/** Polls `/metrics` until its text matches `pattern`. */
export async function waitForMetrics(base: string, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A client timeout, as Prometheus has: a connection node:cluster hands to a worker at the instant it dies is never answered.
    const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
    const text = res?.ok ? await res.text() : '';
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`/metrics never matched ${pattern}; last:\n${text}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Eight uploads held mid-body, SIGTERM once the server counts all eight in
 * flight: new connections are refused, the eight complete with 200, exit 0.
 */
export async function sigtermUnderLoad(args: string[], said: RegExp): Promise<void> {
  // Life-cycle lines are logged at info. The latency objective counts from a request's headers, and these uploads
  // are held half-sent on purpose (0.3 s and more, longer on a loaded machine: CI once saw 516 ms expected against
  // the 500 ms objective, and a 503): what is tested is the drain, not admission, so the objective is out of reach.
  const bento = await startBento(args, { BENTO_LOG_LEVEL: 'info', BENTO_MAX_LATENCY_MS: '60000' });
  const pending = await halfSentUploads(bento.port, 8);
  await waitForMetrics(bento.base, /bento_http_requests_in_flight\{route="\/predict_image"\} 8\b/);
  bento.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  await assert.rejects(fetch(`${bento.base}/health`));
  for (const p of pending) p.finish();
  const results = await Promise.all(pending.map((p) => p.done));
  for (const r of results) {
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { predicted_class: string }).predicted_class, 'Trouser');
  }
  assert.equal(await bento.exited, 0, bento.stderr);
  assert.match(bento.stderr, said);
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
  });
}

/** How a server that should be running ended, with the end of what it wrote to stderr. */
export function howItEnded(bento: LiveBento): string | undefined {
  const { exitCode, signalCode } = bento.child;
  if (exitCode === null && signalCode === null) return undefined;
  return `the server ended (exit code ${exitCode}, signal ${signalCode}); its stderr ends:\n${bento.stderr.slice(-4000)}`;
}

/** Resident memory of a process, in bytes, from /proc; undefined once it has exited (its /proc entry is gone). */
export function rssBytes(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

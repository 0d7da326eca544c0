import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Limits, type RunningServer, loadProject, startServer } from '@bento-ts/framework';

export const SERVICE_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const SAMPLES_DIR = fileURLToPath(new URL('../../samples/', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

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
export async function startService(options: { env?: Record<string, string>; limits?: Partial<Limits> } = {}): Promise<RunningServer> {
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

export interface ErrorResponse {
  error: { code: string; message: string };
}

export const BENTO = join(REPO_ROOT, 'framework', 'bin', 'bento.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
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
    const child = spawn(process.execPath, [BENTO, ...args], { cwd, env: { ...process.env, BENTO_LOG_LEVEL: 'warn', ...env } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (until?.test(stdout)) {
        until = undefined;
        (onReady ?? (async () => undefined))(stdout).then(() => child.kill('SIGTERM'), (err: unknown) => { child.kill('SIGKILL'); reject(err); });
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}


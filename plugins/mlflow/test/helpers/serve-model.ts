import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './stack.js';

const BENTO = join(REPO_ROOT, 'framework', 'bin', 'bento.js');

export interface ServedModel {
  base: string;
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  close(): Promise<void>;
}

/** `bento serve <args>` (a model with no service code) on an ephemeral port; resolves once its banner lists /invocations. */
export async function serveModel(args: string[], env: Record<string, string>, cwd: string): Promise<ServedModel> {
  const child = spawn(process.execPath, [BENTO, 'serve', ...args, '-p', '0', '-h', '127.0.0.1'], {
    cwd,
    env: { ...process.env, ...env },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = await new Promise<string>((resolve, reject) => {
    const poll = setInterval(() => {
      const m = /Invocations \(MLflow scoring\): POST (\S+)\/invocations/.exec(out.stdout);
      if (m) {
        resolve(m[1]);
        clearInterval(poll);
      }
    }, 50);
    child.once(
      'exit',
      (code) => (clearInterval(poll), reject(new Error(`bento serve exited ${code}:\n${out.stderr.slice(-3000)}`))),
    );
  });
  return {
    base,
    child,
    get stdout() {
      return out.stdout;
    },
    get stderr() {
      return out.stderr;
    },
    async close() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** `bento <args>` to its end: exit code and output. */
export function runBentoCli(
  args: string[],
  env: Record<string, string>,
  cwd: string,
  timeoutMs = 600_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BENTO, ...args], { cwd, env: { ...process.env, ...env } });
    let [stdout, stderr] = ['', ''];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** POSTs a JSON body to /invocations; its status and parsed answer. */
export async function invoke(
  base: string,
  body: unknown,
  type = 'application/json',
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}/invocations`, {
    method: 'POST',
    headers: { 'content-type': type },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** What `mlflow.pyfunc.load_model(uri).predict` answers for each body, run with `python` (fixtures/pyfunc_predict.py). */
export async function pyfuncPredict(
  python: string,
  uri: string,
  bodies: unknown[],
  env: Record<string, string>,
  dir: string,
): Promise<Array<Record<string, unknown>>> {
  const file = join(dir, `bodies-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(bodies));
  const script = join(REPO_ROOT, 'plugins', 'mlflow', 'test', 'fixtures', 'pyfunc_predict.py');
  const { stdout } = await promisify(execFile)(python, [script, uri, file], {
    env: { ...process.env, ...env },
    timeout: 300_000,
    maxBuffer: 64 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Array<Record<string, unknown>>;
}

/** The largest absolute difference between two nested lists of numbers (Infinity when their shapes differ). */
export function maxDiff(a: unknown, b: unknown): number {
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length ? Math.max(0, ...a.map((x, i) => maxDiff(x, b[i]))) : Infinity;
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b);
  return a === b ? 0 : Infinity;
}

/** Row maxima of [N, C] lists. */
export function argmax(rows: number[][]): number[] {
  return rows.map((r) => r.indexOf(Math.max(...r)));
}

/** `mlflow models serve -m <uri>` from a venv (its bin on PATH: it starts uvicorn through bash), once /ping answers. */
export async function mlflowServe(
  venv: string,
  uri: string,
  port: number,
  env: Record<string, string>,
): Promise<{ base: string; close(): Promise<void> }> {
  const bin = join(venv, 'bin');
  const child = spawn(
    join(bin, 'mlflow'),
    ['models', 'serve', '-m', uri, '--env-manager', 'local', '-h', '127.0.0.1', '-p', String(port)],
    {
      env: { ...process.env, ...env, PATH: `${bin}:${process.env.PATH}` },
      // Its own process group: uvicorn's workers go with it.
      detached: true,
    },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`mlflow models serve exited ${child.exitCode}:\n${output.slice(-3000)}`);
    const ok = await fetch(`${base}/ping`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline)
      throw new Error(`mlflow models serve did not answer /ping in 180 s:\n${output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    base,
    async close() {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    },
  };
}

/** MLflow's own scoring-server client (fixtures/scoring_client.py) against a port: the predictions it reads back. */
export async function scoringClient(python: string, port: number, input: unknown, dir: string): Promise<unknown> {
  const file = join(dir, `client-${port}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(input));
  const script = join(REPO_ROOT, 'plugins', 'mlflow', 'test', 'fixtures', 'scoring_client.py');
  const { stdout } = await promisify(execFile)(python, [script, String(port), file], {
    timeout: 120_000,
    maxBuffer: 64 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

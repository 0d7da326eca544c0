import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const BENTO = fileURLToPath(new URL('../../../bin/bento.js', import.meta.url));

const { NODE_TEST_CONTEXT: _inner, ...outer } = process.env;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `bento <args>` as a subprocess, to its end. */
export function bento(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BENTO, ...args], {
      cwd: options.cwd,
      env: { ...outer, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A long-running `bento <args>` (a server), with its output so far and a way to wait for a line. */
export class CliProcess {
  readonly child: ChildProcess;
  output = '';
  private waiters: Array<{ pattern: RegExp; from: number; resolve: () => void }> = [];

  constructor(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string } = {}) {
    this.child = spawn(process.execPath, [BENTO, ...args], {
      cwd: options.cwd,
      env: { ...outer, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const take = (d: Buffer) => {
      this.output += String(d);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pattern.test(this.output.slice(w.from))) return true;
        w.resolve();
        return false;
      });
    };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
  }

  /** Resolves when `pattern` appears in output written after `from` (an offset into `output`). */
  waitFor(pattern: RegExp, from = 0, timeoutMs = 60_000): Promise<void> {
    if (pattern.test(this.output.slice(from))) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${this.output.slice(-3000)}`)),
        timeoutMs,
      );
      this.waiters.push({ pattern, from, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /** SIGTERM, then the exit code. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => {
      this.child.once('exit', (code) => resolve(code));
      this.child.kill(signal);
    });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

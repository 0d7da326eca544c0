import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, freePort } from './stack.js';

const exec = promisify(execFile);

/** Runs a Makefile target as a user types it, with `env` added to the environment; its stdout, or an error with both outputs. */
export async function make(args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await exec('make', ['--no-print-directory', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      timeout: 900_000,
      maxBuffer: 32 << 20,
    });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`make ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
      cause: err,
    });
  }
}

/**
 * The stack as `make start` runs it, in a temporary state directory on a free port; `stop()` also stops a server
 * that `make serve` started (`served` set).
 */
export class MadeStack {
  readonly args: string[];
  mlflowPort = 0;
  served = false;

  constructor(prefix: string) {
    this.args = [`STACK_DIR=${mkdtempSync(join(tmpdir(), prefix))}`];
  }

  /** `make start`; resolves with its output once MLflow is up. */
  async start(): Promise<string> {
    this.mlflowPort = await freePort();
    this.args.push(`MLFLOW_PORT=${this.mlflowPort}`);
    return make(['start', ...this.args]);
  }

  get trackingUri(): string {
    return `http://127.0.0.1:${this.mlflowPort}`;
  }

  async stop(): Promise<void> {
    if (this.served) await make(['serve-stop']).catch(() => undefined);
    await make(['stop', ...this.args]).catch(() => undefined);
  }
}

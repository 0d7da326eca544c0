import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));
export const SERVICE_DIR = join(REPO_ROOT, 'services', 'vision-classifier');
const STACK = join(REPO_ROOT, 'infra', 'stack.sh');

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface Fixtures {
  name: string;
  versions: Array<{ run_id: string; model_id: string; version: string }>;
  artifacts_run_id: string;
  bad_signature_run_id: string;
  pytorch_run_id: string;
}

export interface StackOptions {
  mode: 'basic' | 'full';
  /** MLflow's basic-auth app, with these admin credentials. */
  auth?: { user: string; password: string };
  /** The venv whose MLflow runs the server and logs the models (default .venv: MLflow 3; .venv-mlflow2: MLflow 2.x). */
  venv?: string;
  /** MinIO's root credentials, which clients use as their AWS keys (default minio / minio123). */
  s3?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * A real MLflow stack started with infra/stack.sh (the script behind `make start`)
 * in a temporary state directory on free ports; `env` is what a client needs.
 */
export class Stack {
  readonly dir = mkdtempSync(join(tmpdir(), 'bento-mlflow-'));
  env: Record<string, string> = {};
  private serverEnv: Record<string, string> = {};

  constructor(readonly options: StackOptions) {}

  private get venv(): string {
    return join(REPO_ROOT, this.options.venv ?? '.venv');
  }

  private get pythonBin(): string {
    return join(this.venv, 'bin', 'python');
  }

  get trackingUri(): string {
    return this.env.MLFLOW_TRACKING_URI;
  }

  async start(): Promise<this> {
    const mlflowPort = await freePort();
    const s3Port = await freePort();
    const { accessKeyId, secretAccessKey } = this.options.s3 ?? { accessKeyId: 'minio', secretAccessKey: 'minio123' };
    this.serverEnv = {
      STACK_DIR: this.dir,
      MLFLOW_PORT: String(mlflowPort),
      PG_PORT: String(await freePort()),
      S3_PORT: String(s3Port),
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      BENTO_VENV: this.venv,
    };
    if (this.options.auth) {
      Object.assign(this.serverEnv, {
        MLFLOW_AUTH: 'basic',
        MLFLOW_TRACKING_USERNAME: this.options.auth.user,
        MLFLOW_TRACKING_PASSWORD: this.options.auth.password,
      });
    }
    this.env = {
      MLFLOW_TRACKING_URI: `http://127.0.0.1:${mlflowPort}`,
      // Tests fail fast on purpose-made outages instead of waiting out MLflow's default backoff.
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1',
      MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0',
    };
    if (this.options.auth)
      Object.assign(this.env, {
        MLFLOW_TRACKING_USERNAME: this.options.auth.user,
        MLFLOW_TRACKING_PASSWORD: this.options.auth.password,
      });
    if (this.options.mode === 'full') {
      Object.assign(this.env, {
        MLFLOW_S3_ENDPOINT_URL: `http://127.0.0.1:${s3Port}`,
        AWS_ACCESS_KEY_ID: accessKeyId,
        AWS_SECRET_ACCESS_KEY: secretAccessKey,
      });
    }
    await this.script('start');
    return this;
  }

  private async script(command: string): Promise<string> {
    try {
      const { stdout } = await run(STACK, [command, this.options.mode], {
        env: { ...process.env, ...this.serverEnv },
        timeout: 240_000,
        maxBuffer: 8 << 20,
      });
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(
        `infra/stack.sh ${command} ${this.options.mode} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
        { cause: err },
      );
    }
  }

  /** Logs the bundled model every way the tests need, with MLflow's own Python client. */
  async logModels(name: string, extraEnv: Record<string, string> = {}): Promise<Fixtures> {
    const script = join(REPO_ROOT, 'plugins', 'mlflow', 'test', 'fixtures', 'log_models.py');
    const { stdout } = await run(this.pythonBin, [script, this.trackingUri, name], {
      env: { ...process.env, ...this.env, ...extraEnv, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '3' },
      timeout: 300_000,
      maxBuffer: 8 << 20,
    });
    const line = stdout.trim().split('\n').pop()!;
    return JSON.parse(line) as Fixtures;
  }

  /** Runs Python with MLflow's client against this stack (for one-off setups). */
  async python(code: string, extraEnv: Record<string, string> = {}): Promise<string> {
    const { stdout } = await run(this.pythonBin, ['-c', code], {
      env: { ...process.env, ...this.env, ...extraEnv },
      timeout: 300_000,
      maxBuffer: 8 << 20,
    });
    return stdout.trim();
  }

  /**
   * Logs the bundled model into an experiment whose artifacts live in S3 itself (as with `--default-artifact-root
   * s3://…`), so clients read the bucket directly, and registers it as `name` version 1 (full stack only).
   */
  async logDirectS3Model(name: string, params: Record<string, string> = {}): Promise<void> {
    await this.python(
      [
        'import mlflow, onnx, warnings, yaml',
        'warnings.filterwarnings("ignore")',
        `mlflow.set_experiment(experiment_id=mlflow.create_experiment("direct-s3-${name}", artifact_location="s3://mlflow/direct-${name}"))`,
        'with mlflow.start_run():',
        `    mlflow.log_params(${JSON.stringify(params)})`,
        `    bundled = ${JSON.stringify(join(SERVICE_DIR, 'model'))}`,
        '    metadata = yaml.safe_load(open(bundled + "/MLmodel"))["metadata"]',
        `    mlflow.onnx.log_model(onnx.load(bundled + "/model.onnx"), name="model", metadata=metadata, registered_model_name=${JSON.stringify(name)})`,
      ].join('\n'),
    );
  }

  async stopServers(): Promise<void> {
    await this.script('stop');
  }

  /** Stops the S3-compatible object store (MinIO) alone, as an outage would; MLflow and PostgreSQL go on. */
  async stopObjectStore(): Promise<void> {
    const pid = Number(readFileSync(join(this.dir, 's3.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    while (
      await fetch(`${this.env.MLFLOW_S3_ENDPOINT_URL}/minio/health/live`).then(
        () => true,
        () => false,
      )
    )
      await new Promise((r) => setTimeout(r, 50));
  }

  async stop(): Promise<void> {
    await this.script('stop').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

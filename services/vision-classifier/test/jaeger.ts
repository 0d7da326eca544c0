/**
 * A real Jaeger v2 (built by infra/install.sh into .stack-bin/jaeger) on free
 * loopback ports, with in-memory storage: the OTLP backend of the tracing tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, freePort } from './helpers.js';

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  tags: Array<{ key: string; value: unknown }>;
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: Array<{ key: string; value: unknown }> }>;
}

export function tag(span: JaegerSpan, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

export class Jaeger {
  private child?: ChildProcess;
  private log = '';
  /** OTLP/HTTP base URL, what OTEL_EXPORTER_OTLP_ENDPOINT takes. */
  otlpEndpoint = '';
  private query = '';

  async start(): Promise<void> {
    const ports = {
      JAEGER_OTLP_HTTP_PORT: 0,
      JAEGER_OTLP_GRPC_PORT: 0,
      JAEGER_QUERY_PORT: 0,
      JAEGER_QUERY_GRPC_PORT: 0,
      JAEGER_HEALTH_PORT: 0,
    };
    for (const key of Object.keys(ports) as Array<keyof typeof ports>) ports[key] = await freePort();
    const env = {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      JAEGER_LOG_LEVEL: 'warn',
    };
    this.child = spawn(
      join(REPO_ROOT, '.stack-bin', 'jaeger'),
      ['--config', `file:${join(REPO_ROOT, 'infra', 'jaeger', 'config.yaml')}`],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout!.on('data', (d) => (this.log += d));
    this.child.stderr!.on('data', (d) => (this.log += d));
    this.otlpEndpoint = `http://127.0.0.1:${ports.JAEGER_OTLP_HTTP_PORT}`;
    this.query = `http://127.0.0.1:${ports.JAEGER_QUERY_PORT}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`jaeger exited with ${this.child.exitCode}: ${this.log}`);
      const res = await fetch(`http://127.0.0.1:${ports.JAEGER_HEALTH_PORT}/status`).catch(() => undefined);
      if (res?.status === 200) return;
      if (Date.now() > deadline) throw new Error(`jaeger did not become healthy in 30 s: ${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async services(): Promise<string[]> {
    return ((await (await fetch(`${this.query}/api/services`)).json()) as { data: string[] | null }).data ?? [];
  }

  /** A trace by ID, or undefined while Jaeger has none. */
  async trace(traceId: string): Promise<JaegerTrace | undefined> {
    const res = await fetch(`${this.query}/api/traces/${traceId}`);
    if (res.status === 404) return undefined;
    return ((await res.json()) as { data: JaegerTrace[] }).data[0];
  }

  async traces(service: string): Promise<JaegerTrace[]> {
    const res = await fetch(`${this.query}/api/traces?service=${encodeURIComponent(service)}&limit=100`);
    return ((await res.json()) as { data: JaegerTrace[] | null }).data ?? [];
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child!.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

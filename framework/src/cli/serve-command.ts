import { loadDotEnv } from '../config/dotenv.js';
import { loadProject } from '../config/project.js';
import { startServer } from '../server/serve.js';
import type { ApiDefinition } from '../sdk/decorators/api.js';

function title(api: ApiDefinition): string {
  return api.summary ?? api.name.replace(/[_-]+/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase());
}

/** The seed guide's start-up banner, listing every endpoint. */
export function banner(url: string, apis: ApiDefinition[]): string {
  const lines = apis.map((a) => `  - ${title(a)}: ${a.method} ${url}${a.route}`);
  return `bento-ts server started!\n\nAPI Endpoints:\n${lines.join('\n')}\n`;
}

export async function serveCommand(target: string, opts: { port?: number; host?: string; runnerWorkers?: number }): Promise<void> {
  loadDotEnv();
  const project = loadProject(target);
  const env = process.env;
  const server = await startServer({
    project,
    port: opts.port ?? (env.PORT ? Number(env.PORT) : env.BENTO_PORT ? Number(env.BENTO_PORT) : 3000),
    host: opts.host ?? env.HOST ?? '0.0.0.0',
    runnerWorkers: opts.runnerWorkers,
  });
  process.stdout.write(banner(server.url, server.apis));
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`${signal} received: stopping\n`);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

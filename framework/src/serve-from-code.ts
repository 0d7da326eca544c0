import type { RunningServer, ServeOptions } from './server/serve.js';

/**
 * Starts a service's server from code, as `bento serve` does. The server's modules (fastify, the runner pool,
 * metrics, tracing) are imported on the first call: the framework's entry, which every service module and so every
 * runner worker thread imports, does not load them.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const { startServer: start } = await import('./server/serve.js');
  return start(options);
}

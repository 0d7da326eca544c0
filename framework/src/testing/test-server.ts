/**
 * `@bento-ts/framework/testing`: the real server of a service project, on an
 * ephemeral port, for the project's own tests. It is what `bento serve` runs
 * (plugins, runner worker threads, limits, routes), minus the process: each
 * test file gets a server and closes it.
 */
import { resolve } from 'node:path';
import { resolveSettings } from '../config/effective-config.js';
import { loadProject } from '../config/project.js';
import type { Limits } from '../config/limits.js';
import { type RunningServer, startServer } from '../server/serve.js';

export interface TestServerOptions {
  /** Variables over every other layer, as `bento serve -e` sets them (e.g. MODEL_URI). */
  env?: Record<string, string>;
  limits?: Partial<Limits>;
  /** Log lines to stderr (default: silent). */
  log?: boolean;
}

export interface TestServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  readonly server: RunningServer;
  /** Shorthand for `fetch(url + path, init)`. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** Serves the project in `dir` (default: the working directory) on 127.0.0.1 and a free port. */
export async function startTestServer(dir = '.', options: TestServerOptions = {}): Promise<TestServer> {
  const project = loadProject(resolve(dir));
  // The settings `bento serve` would start with (bento.yaml, a config file named by BENTO_CONFIG, .env, the environment).
  const settings = resolveSettings(project, { env: options.env }, process.env);
  project.config = settings.config;
  const server = await startServer({
    project,
    port: 0,
    host: '127.0.0.1',
    env: settings.env,
    limits: options.limits,
    logger: options.log ?? false,
  });
  const url = `http://127.0.0.1:${server.port}`;
  return { url, server, fetch: (path, init) => fetch(url + path, init), close: () => server.close() };
}

/**
 * `bento serve --reload`: a supervisor that runs the server as a child process
 * and restarts it when the service's files change, compiling TypeScript first.
 * A change that does not compile leaves the last good server running; a server
 * that fails to start leaves the supervisor waiting for the next change, as in a dev loop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { watch } from 'chokidar';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileTsconfig, findUp, tsconfigFor, typescriptSourceOf } from '../config/project.js';
import { consoleLogger } from '../logging/console-logger.js';
import type { ServeCommandOptions } from './serve-command.js';

/** Paths under these are output or dependencies, never a reason to restart. */
const IGNORED = new Set(['node_modules', 'dist', '.bento', '.git', 'coverage']);
const DEBOUNCE_MS = 250;
const BENTO_BIN = fileURLToPath(new URL('../../../bin/bento.js', import.meta.url));

function ignored(path: string): boolean {
  const parts = path.split(sep);
  const file = parts[parts.length - 1] ?? '';
  return parts.some((p) => IGNORED.has(p)) || file.endsWith('~') || /^\.#|\.sw[px]$|\.tsbuildinfo$/.test(file);
}

/** The command line of the child: the same `bento serve`, without --reload. */
function childArgs(target: string, opts: ServeCommandOptions): string[] {
  const args = ['serve', target];
  if (opts.port !== undefined) args.push('--port', String(opts.port));
  if (opts.host) args.push('--host', opts.host);
  if (opts.workers) args.push('--workers', opts.workers);
  if (opts.runnerWorkers) args.push('--runner-workers', String(opts.runnerWorkers));
  if (opts.gracefulTimeout) args.push('--graceful-timeout', String(opts.gracefulTimeout));
  if (opts.config) args.push('--config', opts.config);
  for (const kv of opts.env ?? []) args.push('--env', kv);
  return args;
}

export async function serveWithReload(target: string, opts: ServeCommandOptions): Promise<void> {
  const log = consoleLogger('bento');
  const abs = resolve(target);
  if (!existsSync(abs)) throw new (await import('../errors.js')).ConfigError(`${abs} does not exist; --reload watches a project directory or a service file`);
  const root = statSync(abs).isDirectory() ? abs : dirname(abs);
  const source = typescriptSourceOf(abs);
  // bento.yaml may name a service project elsewhere (service: ../x): its files count too.
  const pkg = source ? findUp(dirname(source), 'package.json') : undefined;
  const roots = [root, ...(pkg && relative(root, dirname(pkg)).startsWith('..') ? [dirname(pkg)] : [])];
  let child: ChildProcess | undefined;
  let pending: NodeJS.Timeout | undefined;
  let stopping = false;
  let exitCode = 0;

  const compile = (): boolean => {
    if (!source) return true;
    try {
      compileTsconfig(tsconfigFor(source), 'the service changed');
      return true;
    } catch (err) {
      log.error(`${(err as Error).message}; ${child ? 'the server goes on with the last version that compiled' : 'waiting for the next change'}`);
      return false;
    }
  };

  const start = () => {
    if (stopping) return;
    const proc = spawn(process.execPath, [BENTO_BIN, ...childArgs(target, opts)], { stdio: 'inherit', env: process.env });
    child = proc;
    proc.on('exit', (code, signal) => {
      if (child === proc) child = undefined;
      if (stopping) {
        exitCode = code ?? 0;
        process.exit(exitCode);
      }
      if (!proc.killed) log.warn(`the server exited (${signal ?? `code ${code}`}); waiting for a change to restart it`);
    });
  };

  // Compiled before the old server stops: a change that does not compile leaves it serving.
  const restart = (why: string) => {
    log.info(`${why}: restarting`);
    if (!compile()) return;
    const old = child;
    if (!old) return start();
    old.once('exit', () => start());
    old.kill('SIGTERM');
  };

  // chokidar watches directories, so editors that save by replacing a file (a new inode) are still seen.
  // Judged by the path below its watched root: a project may itself sit under a .bento or dist directory.
  const below = (path: string) => roots.map((r) => relative(r, path)).find((rel) => !rel.startsWith('..')) ?? path;
  const watcher = watch(roots, { ignoreInitial: true, ignored: (path) => ignored(below(path)) });
  watcher.on('all', (_event, path) => {
    clearTimeout(pending);
    pending = setTimeout(() => restart(`${relative(root, path) || path} changed`), DEBOUNCE_MS);
  });
  await new Promise<void>((resolveReady) => watcher.once('ready', () => resolveReady()));
  log.info(`watching ${roots.join(', ')} for changes (node_modules, dist and .bento left out)`);

  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    void watcher.close();
    clearTimeout(pending);
    if (child) child.kill(signal);
    else process.exit(exitCode);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (compile()) start();
}

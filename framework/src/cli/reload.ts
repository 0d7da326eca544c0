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
import { ConfigError } from '../errors.js';
import { consoleLogger } from '../logging/console-logger.js';

/** Paths under these are output or dependencies, never a reason to restart. */
const IGNORED = new Set(['node_modules', 'dist', '.bento', '.git', 'coverage']);
const DEBOUNCE_MS = 250;
const BENTO_BIN = fileURLToPath(new URL('../../../bin/bento.js', import.meta.url));

function ignored(path: string): boolean {
  const parts = path.split(sep);
  const file = parts[parts.length - 1] ?? '';
  return parts.some((p) => IGNORED.has(p)) || file.endsWith('~') || /^\.#|\.sw[px]$|\.tsbuildinfo$/.test(file);
}

/**
 * Runs `bento <args>` (the command line as given, minus --reload, which takes no value) as a child, restarting it
 * when the files of `target` change.
 */
export async function serveWithReload(target: string, args: string[]): Promise<void> {
  const childArgs = args.filter((a) => a !== '--reload');
  const log = consoleLogger('bento');
  const abs = resolve(target);
  if (!existsSync(abs))
    throw new ConfigError(`${abs} does not exist; --reload watches a project directory or a service file`);
  const root = statSync(abs).isDirectory() ? abs : dirname(abs);
  const source = typescriptSourceOf(abs);
  // bento.yaml may name a service project elsewhere (service: ../x): its files count too.
  const pkg = source ? findUp(dirname(source), 'package.json') : undefined;
  const roots = [root, ...(pkg && relative(root, dirname(pkg)).startsWith('..') ? [dirname(pkg)] : [])];
  let child: ChildProcess | undefined;
  let pending: NodeJS.Timeout | undefined;
  let stopping = false;

  const compile = (): boolean => {
    if (!source) return true;
    try {
      compileTsconfig(tsconfigFor(source), 'the service changed');
      return true;
    } catch (err) {
      log.error(
        `${(err as Error).message}; ${child ? 'the server goes on with the last version that compiled' : 'waiting for the next change'}`,
      );
      return false;
    }
  };

  const start = () => {
    if (stopping) return;
    const proc = spawn(process.execPath, [BENTO_BIN, ...childArgs], { stdio: 'inherit', env: process.env });
    child = proc;
    proc.on('exit', (code, signal) => {
      if (child === proc) child = undefined;
      if (stopping) process.exit(code ?? 0);
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
    else process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (compile()) start();
}

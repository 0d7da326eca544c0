// Cold start and idle memory of a server process (cold-start.mjs, versions.mjs): from spawning it to the first 200
// from /readyz, then the resident memory of its process tree (the server, its worker threads and any child
// processes) read from /proc after IDLE_MS with no request.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const IDLE_MS = 3000;

/** Resident set size of `pid` and its descendants, in MB. */
function treeRssMb(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone since the listing
    }
  }
  let kb = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      continue;
    }
    stack.push(...(children.get(p) ?? []));
  }
  return Math.round(kb / 1024);
}

/** Spawns `args` in `cwd`, polls `http://127.0.0.1:<port>/readyz` until 200, and measures. */
async function measure(args, port, cwd) {
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', BENTO_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      await sleep(5);
      if (performance.now() - started > 60_000) throw new Error(`${args.join(' ')}: not ready in 60 s`);
    }
    const coldMs = Math.round(performance.now() - started);
    await sleep(IDLE_MS);
    return { cold_start_ms: coldMs, idle_rss_mb: treeRssMb(child.pid) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** `node <args>` started in `cwd` on a free port: { cold_start_ms, idle_rss_mb }. */
export function startup(args, cwd) {
  return measure(args, 20000 + Math.floor(Math.random() * 20000), cwd);
}

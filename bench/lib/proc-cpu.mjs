// CPU time of a running process and of its threads, read from /proc (Linux). Node names its threads, so the
// split shows where a server's time goes: MainThread (HTTP and everything on the event loop), WorkerThread (the
// runner workers: inference), libuv-worker (sharp, file and DNS work), V8Worker (garbage collection, compilation).
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of utime and stime in /proc: USER_HZ, 100 on every Linux build Node.js runs on. */
const TICKS = 100;

/** utime + stime of one /proc stat line, in seconds (the fields after the command name, which may hold spaces). */
function statSeconds(line) {
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/**
 * CPU seconds of `pid`: `total` for the process (threads that have ended included), and `threads` by thread name
 * (summed over the threads that share it).
 */
export function cpuOf(pid) {
  const threads = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      threads[name] = (threads[name] ?? 0) + statSeconds(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
    } catch {
      // the thread ended since the listing
    }
  }
  return { total: statSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8')), threads };
}

/** What `pid` spent between two cpuOf readings, by the same keys. */
export function cpuSince(before, after) {
  const threads = {};
  for (const [name, s] of Object.entries(after.threads)) threads[name] = s - (before.threads[name] ?? 0);
  return { total: after.total - before.total, threads };
}

import { readSettings } from '../config/settings.js';
import type { Logger } from '../plugins/types.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** `HH:MM:ss.mmm`, as pino-pretty shows the server's request lines. */
function clock(time: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}.${pad(time.getMilliseconds(), 3)}`;
}

/**
 * A line-per-message logger on stderr for places without the server's pino
 * instance (worker threads, the CLI before the server starts): JSON lines, or
 * human-readable ones when stderr is a terminal, as BENTO_LOG_FORMAT
 * (`json`, `pretty`) may also say. Level from BENTO_LOG_LEVEL.
 */
export function consoleLogger(name: string, level?: string): Logger {
  const settings = readSettings();
  const min = Math.max(0, LEVELS.indexOf((level ?? settings.logLevel) as (typeof LEVELS)[number]));
  const pretty = (settings.logFormat ?? (process.stderr.isTTY ? 'pretty' : 'json')) === 'pretty';
  const write =
    (lvl: (typeof LEVELS)[number]) =>
    (msg: string, ...args: unknown[]) => {
      if (LEVELS.indexOf(lvl) < min) return;
      const text = args.length
        ? `${msg} ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`
        : msg;
      const now = new Date();
      const line = pretty
        ? `[${clock(now)}] ${lvl.toUpperCase()} (${name}): ${text}`
        : JSON.stringify({ level: lvl, time: now.getTime(), name, msg: text });
      process.stderr.write(line + '\n');
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

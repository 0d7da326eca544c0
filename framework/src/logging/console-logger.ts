import type { Logger } from '../plugins/types.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * A line-per-message JSON logger for places without the server's pino instance
 * (worker threads, the CLI before the server starts). Level from BENTO_LOG_LEVEL.
 */
export function consoleLogger(name: string, level = process.env.BENTO_LOG_LEVEL ?? 'info'): Logger {
  const min = Math.max(0, LEVELS.indexOf(level as (typeof LEVELS)[number]));
  const write = (lvl: (typeof LEVELS)[number]) => (msg: string, ...args: unknown[]) => {
    if (LEVELS.indexOf(lvl) < min) return;
    const line = JSON.stringify({ level: lvl, time: Date.now(), name, msg: args.length ? `${msg} ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}` : msg });
    process.stderr.write(line + '\n');
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

import type { Settings } from '../config/settings.js';
import { useColour } from '../logging/colour.js';

/**
 * pino's options: JSON lines, or human-readable lines (pino-pretty) when
 * stdout is a terminal, unless BENTO_LOG_FORMAT says `json` or `pretty`. JSON lines name their level as the
 * other bento-ts lines do (`"level":"info"`, see logging/console-logger.ts), not by pino's number, so that one
 * parser reads every line a server writes.
 */
export function loggerOptions(settings: Settings): Record<string, unknown> {
  const format = settings.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const level = settings.logLevel;
  if (format !== 'pretty') return { level, formatters: { level: (label: string) => ({ level: label }) } };
  return {
    level,
    transport: {
      target: 'pino-pretty',
      options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', colorize: useColour(process.stdout, settings) },
    },
  };
}

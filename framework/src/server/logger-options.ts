import { useColour } from '../logging/colour.js';

/**
 * pino's options: JSON lines, or human-readable lines (pino-pretty) when
 * stdout is a terminal, unless BENTO_LOG_FORMAT says `json` or `pretty`.
 */
export function loggerOptions(env: Readonly<Record<string, string | undefined>>): Record<string, unknown> {
  const format = env.BENTO_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const level = env.BENTO_LOG_LEVEL ?? 'info';
  if (format !== 'pretty') return { level };
  return { level, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', colorize: useColour(process.stdout, env) } } };
}

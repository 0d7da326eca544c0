import { type Settings, readSettings } from '../config/settings.js';

/**
 * Whether to write ANSI colour to a stream: only to a terminal, never when
 * NO_COLOR is set (https://no-color.org), always when FORCE_COLOR asks for it.
 */
export function useColour(
  stream: { isTTY?: boolean },
  settings: Pick<Settings, 'noColor' | 'forceColor'> = readSettings(),
): boolean {
  if (settings.noColor) return false;
  return settings.forceColor ?? stream.isTTY === true;
}

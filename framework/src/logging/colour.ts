/**
 * Whether to write ANSI colour to a stream: only to a terminal, never when
 * NO_COLOR is set (https://no-color.org), always when FORCE_COLOR is 1-3.
 */
export function useColour(
  stream: { isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return stream.isTTY === true;
}

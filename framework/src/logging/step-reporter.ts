import type { Logger } from '../plugins/types.js';

export interface StepReporter {
  /** The step under way now. */
  step(text: string): void;
  /** Ends the report with a last line (kept on a terminal). */
  done(text: string): void;
}

/**
 * Steps of a long task (a conversion: making its Python environment, installing, converting, checking): on a
 * terminal one line redrawn in place with the time so far, else one log line a step.
 */
export function stepReporter(
  title: string,
  options: { terminal: boolean; logger: Logger; out?: NodeJS.WriteStream },
): StepReporter {
  const out = options.out ?? process.stderr;
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  let drawn = false;
  const draw = (text: string) => {
    const width = Math.max(20, (out.columns ?? 100) - 1);
    out.write(`\r\x1b[K${`${title}: ${text} (${elapsed()})`.slice(0, width)}`);
    drawn = true;
  };
  return {
    step(text) {
      if (options.terminal) draw(text);
      else options.logger.info(`${title}: ${text}`);
    },
    done(text) {
      if (options.terminal && drawn) out.write(`\r\x1b[K${title}: ${text} (${elapsed()})\n`);
      else options.logger.info(`${title}: ${text} (${elapsed()})`);
    },
  };
}

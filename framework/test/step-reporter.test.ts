/**
 * A long task's progress (a model's conversion): on a terminal, one line redrawn in place and kept at the end; in a
 * pipe or a log, one log line a step.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stepReporter } from '../src/logging/step-reporter.js';
import type { Logger } from '../src/plugins/types.js';

/** A terminal `columns` wide that keeps what is written to it. */
function terminal(columns: number): { out: NodeJS.WriteStream; written: string[] } {
  const written: string[] = [];
  const out = { columns, isTTY: true, write: (s: string) => (written.push(s), true) };
  return { out: out as unknown as NodeJS.WriteStream, written };
}

function logger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = (msg: string) => void lines.push(msg);
  return { logger: { info: log, warn: log, error: log, debug: log }, lines };
}

describe('stepReporter', () => {
  it('on a terminal: each step redraws one line, cut to its width; the last line is kept, with a newline', () => {
    const { out, written } = terminal(40);
    const log = logger();
    const report = stepReporter('converting runs:/abc/model (pytorch → onnx)', {
      terminal: true,
      logger: log.logger,
      out,
    });
    report.step('making a Python 3.11 environment');
    report.step('installing 4 packages');
    report.done('done');
    assert.equal(written.length, 3);
    for (const line of written.slice(0, 2)) {
      assert.ok(line.startsWith('\r\x1b[K'), JSON.stringify(line));
      assert.ok(!line.includes('\n'));
      assert.ok(line.length - '\r\x1b[K'.length <= 39, `cut to the terminal's width: ${JSON.stringify(line)}`);
    }
    const CLEAR = '\r\x1b[K';
    assert.ok(written[2].startsWith(CLEAR) && written[2].endsWith('\n'), JSON.stringify(written[2]));
    assert.match(written[2].slice(CLEAR.length), /^converting runs:\/abc\/model \(pytorch → onnx\): done \(\d+ s\)\n$/);
    assert.deepEqual(log.lines, [], 'nothing logged beside the line');
  });

  it('elsewhere: a log line a step, and one at the end with the time taken', () => {
    const { out, written } = terminal(40);
    const log = logger();
    const report = stepReporter('converting m', { terminal: false, logger: log.logger, out });
    report.step('installing');
    report.done('failed');
    assert.deepEqual(written, []);
    assert.equal(log.lines[0], 'converting m: installing');
    assert.match(log.lines[1], /^converting m: failed \(\d+ s\)$/);
  });

  it('a task that ends before any step is drawn ends with a log line, not a redraw of nothing', () => {
    const { out, written } = terminal(80);
    const log = logger();
    stepReporter('converting m', { terminal: true, logger: log.logger, out }).done('done');
    assert.deepEqual(written, []);
    assert.match(log.lines[0], /^converting m: done/);
  });
});

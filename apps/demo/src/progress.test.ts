import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatDuration, ProgressBar, progressLine } from './progress.js';

describe('progress', () => {
  it('shows step, loss, tokens/s and the ETA from the time per step so far', () => {
    const line = progressLine({
      label: 'glam',
      step: 5,
      steps: 20,
      loss: 2.3456,
      tokensPerSecond: 1834.4,
      seconds: 10,
    });
    expect(line).toContain('[#####...............]');
    expect(line).toContain(' 5/20');
    expect(line).toContain('loss 2.346');
    expect(line).toContain('1,834 tok/s');
    expect(line).toContain('ETA 0:30');
    expect(
      progressLine({ label: 'x', step: 20, steps: 20, loss: 1, tokensPerSecond: 1, seconds: 75 }),
    ).toContain('done in 1:15');
    expect(formatDuration(3600)).toBe('60:00');
  });

  it('prints every tenth of the run when the stream is not a terminal', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const bar = new ProgressBar(stream);
    for (let step = 1; step <= 100; step++) {
      bar.update({ label: 'dense', step, steps: 100, loss: 1, tokensPerSecond: 1, seconds: step });
    }
    expect(lines).toHaveLength(11);
    expect(lines.at(-1)).toContain('done in');
  });
});

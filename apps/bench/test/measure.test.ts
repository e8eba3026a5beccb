import { describe, expect, it } from 'vitest';
import { measure, median } from '../src/measure.js';

describe('measure', () => {
  it('settles once after the warm-up and warms up again before the first sample', async () => {
    const events: string[] = [];
    const timing = await measure(
      () => void events.push('run'),
      async () => void events.push('sync'),
      {
        runs: 3,
        warmupSeconds: 0,
        sampleSeconds: 0,
        settle: async () => void events.push('settle'),
      },
    );
    // One warm-up run, the settle, one more warm-up run, then three samples of one run each.
    expect(events).toEqual(['run', 'sync', 'settle', ...Array(4).fill(['run', 'sync']).flat()]);
    expect(timing.runs).toBe(3);
  });

  it('reports the median sample', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

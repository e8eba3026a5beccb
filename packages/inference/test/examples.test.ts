import { liveTensorCount } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import { readme } from '../examples/readme.js';

describe('README example (examples/readme.ts)', () => {
  it('generates, samples, streams with a trace and offloads to the same tokens; nothing leaks', async () => {
    const before = liveTensorCount();
    const lines: string[] = [];
    await readme((line) => lines.push(line));
    console.log(lines.join('\n'));
    expect(lines).toHaveLength(7);
    expect(lines[0]).toMatch(/^greedy {3}\[\[\d+(,\d+){5}\],\[\d+(,\d+){5}\]\]$/);
    expect(lines[2]).toMatch(
      /^step 0: read 1->\[\d,\d\] 5->\[\d,\d\] 17->\[\d,\d\] 301->\[\d,\d\], wrote \d+$/,
    );
    expect(lines[5]).toMatch(/\(same: true\)$/);
    expect(lines[6]).toMatch(
      /^experts: \d+ requests, hit rate \d+% \(\d+ prefetched\), \d+ KiB moved, peak \d+ of 48 KiB$/,
    );
    expect(liveTensorCount()).toBe(before);
  });
});

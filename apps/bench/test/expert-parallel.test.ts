// The expert-parallel cases' rank program runs on 2 worker ranks (a tiny layer, one timed step) and returns
// one positive duration per step; the case turns them into per-step times across ranks.
import { launchWorkers } from '@switchyard/parallel';
import { describe, expect, it } from 'vitest';
import type { RankConfig } from '../src/cases/expert-parallel-rank.js';

describe('expert-parallel rank program', () => {
  it('times each training step on every worker rank', async () => {
    const config: RankConfig = { tokens: 32, dModel: 8, dHidden: 16, numExperts: 4, topK: 2, steps: 2 };
    const rank = new URL('../src/cases/expert-parallel-rank.ts', import.meta.url);
    const perRank = await launchWorkers<number[], RankConfig>(rank, { size: 2, data: config });
    expect(perRank).toHaveLength(2);
    for (const seconds of perRank) {
      expect(seconds).toHaveLength(2);
      for (const s of seconds) expect(s).toBeGreaterThan(0);
    }
  });
});

// Whole-model expert-parallel training on worker ranks: tiny Mixtral and DeepSeek-V3 models made
// expert-parallel with applyExpertParallel train through their own forward and one loss.backward() per rank
// (the collectives' adjoints run inside it). Every gradient, and the model after one SGD step, equals the
// single-device model's on the ranks' batches concatenated: experts hold their own shard, the other
// parameters sum over the ranks.
import { describe, expect, it } from 'vitest';
import { launchWorkers } from '../src/index.js';
import type { TrainingCase, TrainingResult } from './ranks/model-training.js';

const entry = new URL('./ranks/model-training.ts', import.meta.url);

function check(cases: TrainingCase[], results: TrainingResult[][]) {
  for (const [rank, perCase] of results.entries()) {
    perCase.forEach((r, k) => {
      const label = `rank ${rank}, case ${JSON.stringify(cases[k])}`;
      expect(r.compared, label).toBeGreaterThan(20);
      expect(r.gradError.ratio, `${label}: gradient of ${r.gradError.name}`).toBeLessThanOrEqual(1);
      expect(
        r.paramErrorAfterStep.ratio,
        `${label}: ${r.paramErrorAfterStep.name} after a step`,
      ).toBeLessThanOrEqual(1);
      expect(r.loss[0], label).toBeCloseTo(r.loss[1], 4);
      expect(r.lossAfterStep[0], label).toBeCloseTo(r.lossAfterStep[1], 4);
      expect(r.lossAfterStep[1], label).toBeLessThan(r.loss[1]);
      expect(r.replicated, label).toBe(cases[k]?.load !== undefined);
      if (cases[k]?.capacity) expect(r.dropped, label).toBeGreaterThan(0);
      else expect(r.dropped, label).toBe(0);
      expect(r.leaked, label).toBe(0);
    });
  }
}

describe('whole-model expert-parallel training on worker ranks', () => {
  it('tiny Mixtral: dropless, with capacity, replicated hot experts, expert-tensor parallel', async () => {
    const cases: TrainingCase[] = [
      { preset: 'mixtral-8x7b' },
      { preset: 'mixtral-8x7b', capacity: { capacityFactor: 1 } },
      { preset: 'mixtral-8x7b', load: [8, 1, 1, 1, 1, 1, 1, 6], capacity: { capacityFactor: 1.25 } },
      { preset: 'mixtral-8x7b', expertTensor: true },
    ];
    check(cases, await launchWorkers<TrainingResult[]>(entry, { size: 2, data: cases }));
  });

  it('tiny DeepSeek-V3 (shared experts, sigmoid group-limited routing, MLA): dropless and with capacity', async () => {
    const cases: TrainingCase[] = [
      { preset: 'deepseek-v3' },
      { preset: 'deepseek-v3', capacity: { capacityFactor: 1, dropPolicy: 'probs' } },
    ];
    check(cases, await launchWorkers<TrainingResult[]>(entry, { size: 2, data: cases }));
  });
});

// applyExpertParallel on models built by @switchyard/presets: their own forward, unchanged, runs the experts
// spread over worker ranks and gives the full model's logits (training through it: model-training.test.ts); on
// ranks without blocking collectives it refuses with UNSUPPORTED, with or without gradients.

import { MoELayer } from '@switchyard/moe';
import { buildModel, tinyPreset } from '@switchyard/presets';
import { Generator, getBackend, noGrad } from '@switchyard/tensor';
import { expectSwitchyardError } from '@switchyard/tensor/testing';
import { describe, expect, it } from 'vitest';
import { applyExpertParallel, createVirtualCluster, launchWorkers } from '../src/index.js';

describe('applyExpertParallel', () => {
  it('runs tiny Mixtral and DeepSeek-V3 models expert-parallel over 2 worker ranks', async () => {
    for (const preset of ['mixtral-8x7b', 'deepseek-v3']) {
      const results = await launchWorkers<{ layers: string[]; maxDiff: number; maxAbs: number }>(
        new URL('./ranks/model-inference.ts', import.meta.url),
        { size: 2, data: preset },
      );
      for (const r of results) {
        expect(r.layers.length).toBeGreaterThan(0);
        expect(r.maxDiff).toBeLessThan(1e-5 * Math.max(1, r.maxAbs));
      }
    }
  });

  it('refuses MoELayer.forward on virtual ranks, which cannot block', () => {
    const [comm] = createVirtualCluster({ backends: [getBackend()] });
    const model = buildModel(tinyPreset('mixtral-8x7b'), { generator: new Generator(0) });
    const moeNames = model.namedModules().flatMap(([name, m]) => (m instanceof MoELayer ? [name] : []));
    const layers = applyExpertParallel(model, { expert: comm! });
    expect([...layers.keys()]).toEqual(moeNames);
    const ids = new Generator(1).randint([1, 4], 0, 512);
    expectSwitchyardError(() => noGrad(() => model.forward({ ids })), 'UNSUPPORTED', /blocking collectives/);
    // With gradients on it points to the per-layer training path, which awaits the other ranks.
    expectSwitchyardError(
      () => model.forward({ ids }),
      'UNSUPPORTED',
      /blocking collectives .*ExpertParallelLayer\.forward\/backward/,
    );
    model.dispose();
    ids.dispose();
  });
});

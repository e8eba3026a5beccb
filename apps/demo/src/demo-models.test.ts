import { countParameters, flopsPerToken, tinyPreset } from '@switchyard/presets';
import { expectSwitchyardError } from '@switchyard/tensor/testing';
import { describe, expect, it } from 'vitest';
import { DEMO_PRESETS, demoModels } from './demo-models.js';

describe('demoModels', () => {
  const models = demoModels({ vocabSize: 259, seqLen: 64, balanceCoefficient: 0.1 });
  const flops = (p: (typeof DEMO_PRESETS)[number]) => flopsPerToken(models[p].config, { seqLen: 64 }).forward;

  it('keeps each preset’s routing structure and uses the tokenizer’s vocabulary', () => {
    expect(models.switch.config.moe?.router.kind).toBe('switch');
    expect(models.switch.config.moe?.topK).toBe(1);
    expect(models.switch.config.encoder).toBeNull();
    expect(models.glam.config.moe?.topK).toBe(2);
    expect(models.deepseekmoe.config.moe?.shared?.count).toBe(2);
    expect(models.dense.config.moe).toBeNull();
    for (const p of DEMO_PRESETS) {
      expect(models[p].config.embedding.vocabSize).toBe(259);
      // One backbone: the runs differ in their feed-forward layers only.
      expect(models[p].config.position).toEqual({ kind: 'rotary', base: 10000 });
      expect(models[p].config.attention).toEqual(models.dense.config.attention);
    }
    const glam = tinyPreset('glam-0.1b-64e');
    expect(models.glam.config.moe).toEqual(glam.moe);
    expect(models.glam.loss.balance).toEqual([{ loss: 'gshard', coefficient: 0.1 }]);
    expect(models.deepseekmoe.loss.balance).toEqual([{ loss: 'expert', coefficient: 0.1 }]);
    expect(models.dense.loss.balance).toEqual([]);
  });

  it('gives the dense baseline at least the FLOPs per token of every sparse model, within one width step', () => {
    const sparse = Math.max(flops('switch'), flops('glam'), flops('deepseekmoe'));
    expect(flops('dense')).toBeGreaterThanOrEqual(sparse);
    const d = models.dense.config.dModel;
    // One step of 8 in the SwiGLU width adds 3·D·8 weights, 2 FLOPs each, per layer.
    expect(flops('dense') - sparse).toBeLessThan(2 * 3 * d * 8 * models.dense.config.decoder.layers);
    // Sparse: more parameters than they use per token.
    for (const p of ['switch', 'glam', 'deepseekmoe'] as const) {
      const count = countParameters(models[p].config);
      expect(count.total).toBeGreaterThan(count.active);
    }
  });

  it('rejects a negative balance coefficient', () => {
    expectSwitchyardError(
      () => demoModels({ vocabSize: 259, seqLen: 64, balanceCoefficient: -1 }),
      'INVALID_ARGUMENT',
      /balanceCoefficient must be a finite number >= 0, got -1/,
    );
  });
});

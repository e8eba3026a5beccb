import { expectSwitchyardError } from '@switchyard/tensor/testing';
import { describe, expect, it } from 'vitest';
import { countParameters } from './count.js';
import { flopsPerToken } from './flops.js';
import { getPreset } from './presets.js';
import { scalePreset } from './scale.js';
import { tinyPreset } from './tiny.js';

describe('flopsPerToken', () => {
  it('is 2·N_active plus the attention over the context for a decoder-only model', () => {
    const config = tinyPreset('mixtral-8x7b');
    const count = countParameters(config);
    const f = flopsPerToken(config, { seqLen: 64 });
    // Mixtral's head is untied, so every active non-embedding parameter is a matmul weight.
    expect(f.matmul).toBe(2 * count.activeExcludingEmbedding);
    const { heads, headDim } = config.attention as { heads: number; headDim: number };
    expect(f.attention).toBe(config.decoder.layers * 2 * 64 * 2 * heads * headDim);
    expect(f.forward).toBe(f.matmul + f.attention);
    expect(f.training).toBe(3 * f.forward);
  });

  it('counts a tied output head as a matmul', () => {
    const config = tinyPreset('glam-0.1b-64e');
    const count = countParameters(config);
    expect(config.embedding.tied).toBe(true);
    expect(flopsPerToken(config, { seqLen: 8 }).matmul).toBe(
      2 * (count.activeExcludingEmbedding + config.embedding.vocabSize * config.dModel),
    );
  });

  it('adds encoder self-attention and decoder cross-attention over the encoder length', () => {
    const config = tinyPreset('switch-base-8');
    const a = flopsPerToken(config, { seqLen: 16, encoderLength: 16 });
    const b = flopsPerToken(config, { seqLen: 16, encoderLength: 48 });
    const perContext = 2 * 2 * 4 * 16;
    expect(b.attention - a.attention).toBe((4 + 4) * perContext * 32);
  });

  it('grows with K, not with E: the sparse promise in numbers', () => {
    const base = tinyPreset('mixtral-8x7b');
    const moe = base.moe;
    if (moe === null) throw new Error('mixtral is an MoE');
    const f8 = flopsPerToken(base, { seqLen: 32 }).forward;
    const wide = scalePreset(base, { moe: { numExperts: 64 } });
    const f64 = flopsPerToken(wide, { seqLen: 32 }).forward;
    // Only the router grows: D·ΔE weights per MoE layer.
    expect(f64 - f8).toBe(2 * base.dModel * 56 * base.decoder.layers);
    expect(flopsPerToken(getPreset('mixtral-8x7b'), { seqLen: 4096 }).forward).toBeGreaterThan(2 * 12e9);
  });

  it('rejects a context length that is not a positive integer', () => {
    expectSwitchyardError(
      () => flopsPerToken(tinyPreset('glam-0.1b-64e'), { seqLen: 0 }),
      'INVALID_ARGUMENT',
      /seqLen must be an integer >= 1, got 0/,
    );
  });
});

// The weight map: one rule per tensor of a built model, Hugging Face's names, and DeepSeek's rotary row order.
import { Generator } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import { buildModel, huggingFaceWeightMap, tinyPreset } from '../../src/index.js';
import { interleavedRowOrder, invertOrder } from '../../src/interop/weight-rule.js';

describe('huggingFaceWeightMap', () => {
  for (const name of [
    'mixtral-8x7b',
    'qwen1.5-moe-a2.7b',
    'olmoe-1b-7b',
    'deepseek-v2-lite',
    'deepseek-v3',
    'switch-base-8',
  ] as const) {
    it(`${name}: one rule per parameter and buffer of the built model, distinct checkpoint names`, () => {
      const config = tinyPreset(name);
      const model = buildModel(config, { generator: new Generator(0) });
      const rules = huggingFaceWeightMap(config);
      expect(rules.map((r) => r.ours).sort()).toEqual([...model.stateDict().keys()].sort());
      const names = rules.flatMap((r) => (r.kind === 'experts' ? r.hf : [r.hf]));
      expect(new Set(names).size).toBe(names.length);
      model.dispose();
    });
  }

  it('Mixtral: experts stacked from block_sparse_moe.experts.{e}.w1/w3/w2, Linear weights transposed', () => {
    const rules = huggingFaceWeightMap(tinyPreset('mixtral-8x7b'));
    expect(rules.find((r) => r.ours === 'decoder.blocks.2.ffn.experts.w3')).toEqual({
      kind: 'experts',
      ours: 'decoder.blocks.2.ffn.experts.w3',
      hf: Array.from({ length: 8 }, (_, e) => `model.layers.2.block_sparse_moe.experts.${e}.w3.weight`),
    });
    expect(rules.find((r) => r.ours === 'decoder.blocks.0.ffn.router.weight')).toEqual({
      kind: 'linear',
      ours: 'decoder.blocks.0.ffn.router.weight',
      hf: 'model.layers.0.block_sparse_moe.gate.weight',
    });
  });

  it("DeepSeek-V3: q_b_proj and kv_a_proj_with_mqa carry interleaved rotary rows; the gate's correction bias", () => {
    const rules = huggingFaceWeightMap(tinyPreset('deepseek-v3'));
    expect(rules.find((r) => r.ours === 'decoder.blocks.1.attention.wqB')).toEqual({
      kind: 'linear',
      ours: 'decoder.blocks.1.attention.wqB',
      hf: 'model.layers.1.self_attn.q_b_proj.weight',
      rows: { block: 24, start: 16, width: 8 },
    });
    expect(rules.find((r) => r.ours === 'decoder.blocks.1.attention.wkvA')).toMatchObject({
      hf: 'model.layers.1.self_attn.kv_a_proj_with_mqa.weight',
      rows: { block: 40, start: 32, width: 8 },
    });
    expect(rules.find((r) => r.ours === 'decoder.blocks.1.ffn.router.expertBias')).toEqual({
      kind: 'same',
      ours: 'decoder.blocks.1.ffn.router.expertBias',
      hf: 'model.layers.1.mlp.gate.e_score_correction_bias',
    });
  });
});

describe('interleavedRowOrder', () => {
  it('de-interleaves the rotary rows of every block and leaves the rest in place', () => {
    const order = interleavedRowOrder(12, { block: 6, start: 2, width: 4 });
    expect([...order]).toEqual([0, 1, 2, 4, 3, 5, 6, 7, 8, 10, 9, 11]);
    expect([...interleavedRowOrder(8, { block: 8, start: 0, width: 8 })]).toEqual([0, 2, 4, 6, 1, 3, 5, 7]);
    const inverse = invertOrder(order);
    expect([...order].map((source) => inverse[source])).toEqual([...order.keys()]);
  });
});

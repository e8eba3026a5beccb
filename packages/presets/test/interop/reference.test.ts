// Loading a checkpoint written in Hugging Face's layout gives the logits of an independent float64 forward pass
// of the Hugging Face architecture over the same tensors (hf-reference.ts): the name mapping, every transpose,
// the per-expert stacking and DeepSeek's interleaved rotary rows are checked against the architecture itself.
import { liveTensorCount } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import { type HuggingFaceConfig, loadHuggingFace } from '../../src/index.js';
import { disposeOutput, ids as idsOf } from '../build-helpers.js';
import {
  Checkpoint,
  deepseekForward,
  deepseekShapes,
  type LlamaMoEKind,
  llamaMoEForward,
  llamaMoEShapes,
  switchForward,
  switchShapes,
} from './hf-reference.js';
import {
  tinyDeepseekV2,
  tinyDeepseekV3,
  tinyMixtral,
  tinyOlmoe,
  tinyQwen2Moe,
  tinySwitch,
} from './tiny-configs.js';

const IDS = [3, 17, 5, 29, 11, 2, 38];
const ENCODER_IDS = [7, 1, 33, 20, 9];

/** The largest |a - b| relative to the largest |b|. */
function relativeError(ours: Float32Array, reference: number[][]): number {
  const b = reference.flat();
  expect(ours.length).toBe(b.length);
  const scale = Math.max(...b.map(Math.abs));
  return Math.max(...b.map((v, i) => Math.abs((ours[i] as number) - v))) / scale;
}

/** Loads the checkpoint and returns the logits of one forward pass in eval mode, freeing everything else. */
function logitsOf(config: HuggingFaceConfig, bytes: Uint8Array, encoder: boolean): Float32Array {
  const { model } = loadHuggingFace({ config, safetensors: bytes });
  const ids = idsOf([IDS]);
  const encoderIds = idsOf([ENCODER_IDS]);
  const out = model.eval().forward(encoder ? { ids, encoderIds } : { ids });
  const logits = Float32Array.from(out.logits.dataSync() as Float32Array);
  disposeOutput(out);
  ids.dispose();
  encoderIds.dispose();
  model.dispose();
  return logits;
}

describe('loadHuggingFace against an independent forward pass of the Hugging Face architecture', () => {
  const llama: [string, LlamaMoEKind, HuggingFaceConfig][] = [
    ['MixtralForCausalLM', 'mixtral', tinyMixtral],
    [
      'Qwen2MoeForCausalLM (shared expert with its sigmoid gate, a dense layer, q/k/v biases)',
      'qwen2_moe',
      tinyQwen2Moe,
    ],
    ['OlmoeForCausalLM (full-width q/k norms)', 'olmoe', tinyOlmoe],
  ];
  for (const [name, kind, cfg] of llama) {
    it(`${name}: same logits`, async () => {
      const before = liveTensorCount();
      const checkpoint = new Checkpoint(llamaMoEShapes(kind, cfg), 11);
      const logits = logitsOf(cfg, await checkpoint.bytes(), false);
      expect(relativeError(logits, llamaMoEForward(kind, cfg, checkpoint, IDS))).toBeLessThan(1e-4);
      expect(liveTensorCount()).toBe(before);
    });
  }

  for (const [name, cfg] of [
    [
      'DeepseekV3ForCausalLM (MLA with a query latent, sigmoid noaux_tc groups, correction bias)',
      tinyDeepseekV3,
    ],
    ['DeepseekV2ForCausalLM (plain q_proj, group_limited_greedy, routed scaling 16)', tinyDeepseekV2],
  ] as const) {
    it(`${name}: same logits`, async () => {
      const checkpoint = new Checkpoint(deepseekShapes(cfg), 12);
      const logits = logitsOf(cfg, await checkpoint.bytes(), false);
      expect(relativeError(logits, deepseekForward(cfg, checkpoint, IDS))).toBeLessThan(1e-4);
    });
  }

  it('DeepSeek: the interleaved rotary rows matter (rope_interleave: false reads them wrongly)', async () => {
    const checkpoint = new Checkpoint(deepseekShapes(tinyDeepseekV3), 12);
    const logits = logitsOf({ ...tinyDeepseekV3, rope_interleave: false }, await checkpoint.bytes(), false);
    expect(relativeError(logits, deepseekForward(tinyDeepseekV3, checkpoint, IDS))).toBeGreaterThan(1e-3);
  });

  it('SwitchTransformersForConditionalGeneration (T5 relative buckets, sparse every other layer, tied head): same logits', async () => {
    const checkpoint = new Checkpoint(switchShapes(tinySwitch), 13);
    const logits = logitsOf(tinySwitch, await checkpoint.bytes(), true);
    expect(relativeError(logits, switchForward(tinySwitch, checkpoint, ENCODER_IDS, IDS))).toBeLessThan(1e-4);
  });
});

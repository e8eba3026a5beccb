import type { ModelConfig } from '../config.js';
import { exportFamily } from './export-config.js';
import type { WeightRule } from './weight-rule.js';

/**
 * Where each tensor of the model `buildModel(config)` makes lives in the Hugging Face checkpoint of the
 * architecture that holds `config` (see `exportHuggingFaceConfig`), as `exportHuggingFace` writes it (DeepSeek's
 * rotary rows interleaved). One rule per state-dict entry; see `WeightRule` for the three layouts.
 *
 * @example
 * ```ts
 * huggingFaceWeightMap(tinyPreset('mixtral-8x7b')).find((r) => r.ours === 'decoder.blocks.0.ffn.experts.w1');
 * // { kind: 'experts', ours: ..., hf: ['model.layers.0.block_sparse_moe.experts.0.w1.weight', ...] }
 * ```
 */
export function huggingFaceWeightMap(config: ModelConfig): WeightRule[] {
  return exportFamily(config, 'huggingFaceWeightMap').weightRules(config, { ropeInterleave: true });
}

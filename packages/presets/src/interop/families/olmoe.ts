// OlmoeForCausalLM (allenai/OLMoE-1B-7B-0924): every layer a top-K softmax MoE of SwiGLU experts
// `mlp.experts.{e}.{gate,up,down}_proj`, and RMSNorm over the whole query and key projections (`q_norm`
// [H·Dh], `k_norm` [KVH·Dh]) before the heads split — our `qkNorm: 'full'`.
import { layerPlan, type ModelConfig, type MultiHeadAttentionSpec } from '../../config.js';
import type { ConfigReader } from '../config-reader.js';
import {
  attentionRules,
  blockPaths,
  decoderBase,
  decoderMisfits,
  decoderSkips,
  expertRules,
  gatedFFN,
  normRules,
  outerRules,
  plainRouterMisfits,
  readDecoderKeys,
  readHeads,
  softmaxTopKRouter,
  writeDecoderKeys,
} from '../decoder-only.js';
import { type Family, firstMisfit } from '../family.js';
import type { WeightRule } from '../weight-rule.js';

/** OLMoE: `num_experts`, `num_experts_per_tok`, `intermediate_size` (the experts' width), `attention_bias`. */
export const olmoeFamily: Family = {
  architecture: 'OlmoeForCausalLM',
  modelType: 'olmoe',
  read(reader: ConfigReader) {
    const keys = readDecoderKeys(reader, { normEps: 1e-5, ropeTheta: 10000 });
    const { kvHeads, headDim } = readHeads(reader, keys);
    reader.unsupported('clip_qkv', (v) => v === null, 'Switchyard does not clip q, k and v');
    const bias = reader.bool('attention_bias', false);
    const expert = gatedFFN(reader.int('intermediate_size'), keys.activation);
    const numExperts = reader.int('num_experts');
    const topK = reader.int('num_experts_per_tok');
    if (topK > numExperts) {
      throw reader.error('num_experts_per_tok', `must be at most num_experts (${numExperts}), got ${topK}`);
    }
    return {
      layout: { ropeInterleave: false },
      structure: {
        ...decoderBase(keys),
        attention: {
          kind: 'mha',
          heads: keys.heads,
          kvHeads,
          headDim,
          qkvBias: bias,
          outBias: bias,
          qkNorm: 'full',
        },
        ffn: expert,
        moe: {
          numExperts,
          topK,
          expert,
          shared: null,
          router: softmaxTopKRouter(reader.bool('norm_topk_prob', false)),
          capacity: null,
          extraDenseFFN: false,
        },
        decoder: { layers: keys.layers, moeLayers: 'all' },
      },
    };
  },
  misfit(config: ModelConfig) {
    const a = config.attention;
    const moe = config.moe;
    return firstMisfit([
      ...decoderMisfits(config),
      [a.kind === 'mha', "attention.kind 'mla' (multi-head attention only)"],
      [a.kind !== 'mha' || a.qkNorm === 'full', "attention.qkNorm must be 'full' (OLMoE's q_norm/k_norm)"],
      [
        a.kind !== 'mha' || a.qkvBias === a.outBias,
        'attention.qkvBias and outBias differ (one attention_bias)',
      ],
      [moe === null || moe.shared === null, 'shared experts'],
      ...plainRouterMisfits(config),
      [layerPlan(config).decoder.every(Boolean), 'dense layers (every OLMoE layer is MoE)'],
      [
        config.ffn.dHidden === moe?.expert.dHidden,
        'ffn.dHidden differs from moe.expert.dHidden (one intermediate_size)',
      ],
      [config.mtp === null, 'a multi-token-prediction module'],
    ]);
  },
  write(config: ModelConfig) {
    const a = config.attention as MultiHeadAttentionSpec;
    const moe = config.moe as NonNullable<ModelConfig['moe']>;
    return {
      ...writeDecoderKeys(config),
      num_key_value_heads: a.kvHeads,
      head_dim: a.headDim,
      attention_bias: a.qkvBias,
      clip_qkv: null,
      intermediate_size: moe.expert.dHidden,
      num_experts: moe.numExperts,
      num_experts_per_tok: moe.topK,
      norm_topk_prob: moe.router.normalize,
    };
  },
  weightRules(config: ModelConfig) {
    const moe = config.moe as NonNullable<ModelConfig['moe']>;
    const rules: WeightRule[] = outerRules(config);
    for (let i = 0; i < config.decoder.layers; i++) {
      const { ours, hf } = blockPaths(i);
      rules.push(...normRules(i), ...attentionRules(i, config.attention as MultiHeadAttentionSpec));
      rules.push({ kind: 'linear', ours: `${ours}.ffn.router.weight`, hf: `${hf}.mlp.gate.weight` });
      rules.push(
        ...expertRules(`${ours}.ffn.experts`, `${hf}.mlp.experts`, moe.numExperts, {
          gate: 'gate_proj',
          up: 'up_proj',
          down: 'down_proj',
        }),
      );
    }
    return rules;
  },
  skips: decoderSkips,
};

// MixtralForCausalLM (mistralai/Mixtral-8x7B-v0.1, 8x22B): every layer a top-K softmax MoE of SwiGLU experts
// `block_sparse_moe.experts.{e}.w1/w2/w3` with renormalised weights; grouped-query attention; RMSNorm; RoPE.
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
  refuseSlidingWindow,
  softmaxTopKRouter,
  writeDecoderKeys,
} from '../decoder-only.js';
import { type Family, firstMisfit } from '../family.js';
import type { WeightRule } from '../weight-rule.js';

/** Mixtral: `num_local_experts`, `num_experts_per_tok`, `intermediate_size` (the experts' width). */
export const mixtralFamily: Family = {
  architecture: 'MixtralForCausalLM',
  modelType: 'mixtral',
  read(reader: ConfigReader) {
    const keys = readDecoderKeys(reader, { normEps: 1e-5, ropeTheta: 1e6 });
    const { kvHeads, headDim } = readHeads(reader, keys);
    refuseSlidingWindow(reader);
    reader.unsupported(
      'router_jitter_noise',
      (v) => v === 0,
      "Mixtral's jitter multiplies the experts' input too, Switchyard's only the router's",
    );
    const expert = gatedFFN(reader.int('intermediate_size'), keys.activation);
    const numExperts = reader.int('num_local_experts');
    const topK = reader.int('num_experts_per_tok');
    if (topK > numExperts) {
      throw reader.error(
        'num_experts_per_tok',
        `must be at most num_local_experts (${numExperts}), got ${topK}`,
      );
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
          qkvBias: false,
          outBias: false,
          qkNorm: 'none',
        },
        ffn: expert,
        moe: {
          numExperts,
          topK,
          expert,
          shared: null,
          router: softmaxTopKRouter(true),
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
      [a.kind !== 'mha' || (!a.qkvBias && !a.outBias), 'attention biases'],
      [a.kind !== 'mha' || a.qkNorm === 'none', 'a q/k norm'],
      [moe === null || moe.shared === null, 'shared experts'],
      ...plainRouterMisfits(config),
      [moe === null || moe.router.normalize, 'moe.router.normalize false (Mixtral renormalises the top-K)'],
      [layerPlan(config).decoder.every(Boolean), 'dense layers (every Mixtral layer is MoE)'],
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
      intermediate_size: moe.expert.dHidden,
      num_local_experts: moe.numExperts,
      num_experts_per_tok: moe.topK,
      sliding_window: null,
    };
  },
  weightRules(config: ModelConfig) {
    const moe = config.moe as NonNullable<ModelConfig['moe']>;
    const rules: WeightRule[] = outerRules(config);
    for (let i = 0; i < config.decoder.layers; i++) {
      const { ours, hf } = blockPaths(i);
      rules.push(...normRules(i), ...attentionRules(i, config.attention as MultiHeadAttentionSpec));
      rules.push({
        kind: 'linear',
        ours: `${ours}.ffn.router.weight`,
        hf: `${hf}.block_sparse_moe.gate.weight`,
      });
      rules.push(
        ...expertRules(`${ours}.ffn.experts`, `${hf}.block_sparse_moe.experts`, moe.numExperts, {
          gate: 'w1',
          up: 'w3',
          down: 'w2',
        }),
      );
    }
    return rules;
  },
  skips: decoderSkips,
};

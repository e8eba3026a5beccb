// Qwen2MoeForCausalLM (Qwen/Qwen1.5-MoE-A2.7B, Qwen2-57B-A14B): top-K softmax routing over fine-grained SwiGLU
// experts plus one wide shared expert scaled per token by sigmoid(x w), `shared_expert_gate` [1, D] — our
// SharedExperts with `gate: 'sigmoid'`. q/k/v carry biases. Dense layers where `decoder_sparse_step` or
// `mlp_only_layers` say.
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
  gatedMLPRules,
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
import { placementFromMask } from '../placement-from-mask.js';
import type { WeightRule } from '../weight-rule.js';

/** transformers' rule: layer i is MoE unless listed in `mlp_only_layers`, when (i + 1) % step == 0. */
function sparseMask(layers: number, step: number, mlpOnly: readonly number[]): boolean[] {
  return Array.from({ length: layers }, (_, i) => !mlpOnly.includes(i) && (i + 1) % step === 0);
}

/** Qwen2-MoE: `moe_intermediate_size`, `shared_expert_intermediate_size`, `decoder_sparse_step`, `mlp_only_layers`. */
export const qwen2MoeFamily: Family = {
  architecture: 'Qwen2MoeForCausalLM',
  modelType: 'qwen2_moe',
  read(reader: ConfigReader) {
    const keys = readDecoderKeys(reader, { normEps: 1e-6, ropeTheta: 10000 });
    const { kvHeads, headDim } = readHeads(reader, keys);
    refuseSlidingWindow(reader, reader.bool('use_sliding_window', false));
    const numExperts = reader.int('num_experts');
    const topK = reader.int('num_experts_per_tok');
    if (topK > numExperts) {
      throw reader.error('num_experts_per_tok', `must be at most num_experts (${numExperts}), got ${topK}`);
    }
    const step = reader.int('decoder_sparse_step', 1);
    const mlpOnly = reader.intList('mlp_only_layers', []);
    return {
      layout: { ropeInterleave: false },
      structure: {
        ...decoderBase(keys),
        attention: {
          kind: 'mha',
          heads: keys.heads,
          kvHeads,
          headDim,
          qkvBias: reader.bool('qkv_bias', true),
          outBias: false,
          qkNorm: 'none',
        },
        ffn: gatedFFN(reader.int('intermediate_size'), keys.activation),
        moe: {
          numExperts,
          topK,
          expert: gatedFFN(reader.int('moe_intermediate_size'), keys.activation),
          shared: { count: 1, dHidden: reader.int('shared_expert_intermediate_size'), gate: 'sigmoid' },
          router: softmaxTopKRouter(reader.bool('norm_topk_prob', false)),
          capacity: null,
          extraDenseFFN: false,
        },
        decoder: {
          layers: keys.layers,
          moeLayers: placementFromMask(sparseMask(keys.layers, step, mlpOnly)),
        },
      },
    };
  },
  misfit(config: ModelConfig) {
    const a = config.attention;
    const moe = config.moe;
    return firstMisfit([
      ...decoderMisfits(config),
      [a.kind === 'mha', "attention.kind 'mla' (multi-head attention only)"],
      [a.kind !== 'mha' || a.qkvBias, 'attention.qkvBias false (Qwen2-MoE has q/k/v biases)'],
      [a.kind !== 'mha' || !a.outBias, 'attention.outBias (no output bias)'],
      [a.kind !== 'mha' || a.qkNorm === 'none', 'a q/k norm'],
      [moe === null || moe.shared?.gate === 'sigmoid', 'moe.shared must be a sigmoid-gated shared expert'],
      ...plainRouterMisfits(config),
      [config.mtp === null, 'a multi-token-prediction module'],
    ]);
  },
  write(config: ModelConfig) {
    const a = config.attention as MultiHeadAttentionSpec;
    const moe = config.moe as NonNullable<ModelConfig['moe']>;
    const shared = moe.shared as NonNullable<typeof moe.shared>;
    const mask = layerPlan(config).decoder;
    let step = 1;
    for (let s = 1; s <= mask.length; s++) {
      if (sparseMask(mask.length, s, []).every((isMoE, i) => isMoE === mask[i])) {
        step = s;
        break;
      }
    }
    const sparse = sparseMask(mask.length, step, []);
    return {
      ...writeDecoderKeys(config),
      num_key_value_heads: a.kvHeads,
      head_dim: a.headDim,
      qkv_bias: true,
      intermediate_size: config.ffn.dHidden,
      moe_intermediate_size: moe.expert.dHidden,
      shared_expert_intermediate_size: shared.count * shared.dHidden,
      num_experts: moe.numExperts,
      num_experts_per_tok: moe.topK,
      norm_topk_prob: moe.router.normalize,
      decoder_sparse_step: step,
      mlp_only_layers: mask.flatMap((isMoE, i) => (sparse[i] && !isMoE ? [i] : [])),
      use_sliding_window: false,
    };
  },
  weightRules(config: ModelConfig) {
    const moe = config.moe as NonNullable<ModelConfig['moe']>;
    const rules: WeightRule[] = outerRules(config);
    layerPlan(config).decoder.forEach((isMoE, i) => {
      const { ours, hf } = blockPaths(i);
      rules.push(...normRules(i), ...attentionRules(i, config.attention as MultiHeadAttentionSpec));
      if (!isMoE) {
        rules.push(...gatedMLPRules(`${ours}.ffn`, `${hf}.mlp`));
        return;
      }
      rules.push({ kind: 'linear', ours: `${ours}.ffn.router.weight`, hf: `${hf}.mlp.gate.weight` });
      rules.push(
        ...expertRules(`${ours}.ffn.experts`, `${hf}.mlp.experts`, moe.numExperts, {
          gate: 'gate_proj',
          up: 'up_proj',
          down: 'down_proj',
        }),
        ...gatedMLPRules(`${ours}.ffn.shared`, `${hf}.mlp.shared_expert`),
        { kind: 'linear', ours: `${ours}.ffn.shared.wGate`, hf: `${hf}.mlp.shared_expert_gate.weight` },
      );
    });
    return rules;
  },
  skips: decoderSkips,
};

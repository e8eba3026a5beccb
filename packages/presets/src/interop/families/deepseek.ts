// DeepseekV2ForCausalLM and DeepseekV3ForCausalLM (deepseek-ai/DeepSeek-V2, -V2-Lite, -V3): multi-head latent
// attention (`q_a_proj`/`q_a_layernorm`/`q_b_proj` or `q_proj`, `kv_a_proj_with_mqa`/`kv_a_layernorm`/`kv_b_proj`,
// `o_proj`), `first_k_dense_replace` dense layers, then fine-grained experts with `n_shared_experts` shared ones.
// V2 routes by softmax (greedy or device-limited `group_limited_greedy`, scaled by `routed_scaling_factor`);
// V3 by sigmoid with the selection-only `e_score_correction_bias` and node-limited `noaux_tc` groups.
import {
  type LatentAttentionSpec,
  layerPlan,
  type ModelConfig,
  type MoEConfig,
  type RouterConfig,
} from '../../config.js';
import type { ConfigReader, HuggingFaceConfig } from '../config-reader.js';
import {
  blockPaths,
  decoderBase,
  decoderMisfits,
  decoderSkips,
  expertRules,
  gatedFFN,
  gatedMLPRules,
  normRules,
  outerRules,
  readDecoderKeys,
  writeDecoderKeys,
} from '../decoder-only.js';
import { type Family, firstMisfit, type HuggingFaceLayout, type ModelStructure } from '../family.js';
import { placementFromMask } from '../placement-from-mask.js';
import type { WeightRule } from '../weight-rule.js';

type Version = 2 | 3;

/** The epsilon transformers' DeepSeek code gives the latent norms, whatever `rms_norm_eps` says. */
const LATENT_NORM_EPS = 1e-6;

function readRouter(reader: ConfigReader, version: Version, numExperts: number): RouterConfig {
  const scale = reader.number('routed_scaling_factor', version === 2 ? 1 : 2.5);
  const nGroup = reader.intOrNull('n_group', version === 2 ? null : 1);
  const topkGroup = reader.intOrNull('topk_group', version === 2 ? null : 1);
  const base = { kind: 'top-k', jitter: 0, bias: false, scale } as const;
  const groups = (topN: number): RouterConfig['groupLimit'] => {
    if (nGroup === null || topkGroup === null) {
      throw reader.error(nGroup === null ? 'n_group' : 'topk_group', 'is needed for grouped routing');
    }
    if (numExperts % nGroup !== 0) {
      throw reader.error('n_group', `must divide n_routed_experts (${numExperts}), got ${nGroup}`);
    }
    if (topkGroup > nGroup)
      throw reader.error('topk_group', `must be at most n_group (${nGroup}), got ${topkGroup}`);
    return nGroup === 1 ? null : { groups: nGroup, topGroups: topkGroup, groupScoreTopN: topN };
  };
  if (version === 2) {
    reader.choice('scoring_func', ['softmax'], 'softmax');
    reader.unsupported(
      'norm_topk_prob',
      (v) => v === false,
      "DeepSeek-V2's two transformers implementations disagree on it (the remote code renormalises instead of " +
        'scaling, the built-in DeepseekV2 ignores it); the released V2 checkpoints leave it false',
    );
    const method = reader.choice('topk_method', ['greedy', 'group_limited_greedy'], 'greedy');
    return {
      ...base,
      scoring: 'softmax',
      normalize: false,
      selectionBias: false,
      groupLimit: method === 'greedy' ? null : groups(1),
    };
  }
  reader.choice('scoring_func', ['sigmoid'], 'sigmoid');
  reader.choice('topk_method', ['noaux_tc'], 'noaux_tc');
  const groupLimit = groups(2);
  if (groupLimit !== null && numExperts / groupLimit.groups < 2) {
    throw reader.error(
      'n_group',
      `leaves ${numExperts / groupLimit.groups} expert per group; noaux_tc sums each group's top 2`,
    );
  }
  return {
    ...base,
    scoring: 'sigmoid',
    normalize: reader.bool('norm_topk_prob', true),
    selectionBias: true,
    groupLimit,
  };
}

function read(
  reader: ConfigReader,
  version: Version,
): { structure: ModelStructure; layout: HuggingFaceLayout } {
  const keys = readDecoderKeys(reader, { normEps: LATENT_NORM_EPS, ropeTheta: 10000 });
  reader.unsupported(
    'rms_norm_eps',
    (v) => v === LATENT_NORM_EPS,
    `transformers' DeepSeek latent norms (q_a_layernorm, kv_a_layernorm) always use ${LATENT_NORM_EPS} while Switchyard's MLA uses the model's one epsilon`,
  );
  reader.unsupported('attention_bias', (v) => v === false, 'multi-head latent attention has no biases here');
  reader.unsupported('mlp_bias', (v) => v === false, 'the feed-forwards have no biases here');
  reader.unsupported(
    'quantization_config',
    (v) => v === null,
    'the checkpoint is quantised (e.g. fp8 blocks with scales); Switchyard loads F32, F16 and BF16 weights',
  );
  reader.unsupported(
    'moe_layer_freq',
    (v) => v === 1,
    'every layer from first_k_dense_replace on is MoE here',
  );
  // Every MLA head has its own keys; transformers' configs still carry the key/value head count.
  reader.skip('num_key_value_heads');
  if (!reader.has('q_lora_rank')) throw reader.error('q_lora_rank', 'is missing (null for a plain q_proj)');
  const rope = reader.int('qk_rope_head_dim');
  if (rope % 2 !== 0) throw reader.error('qk_rope_head_dim', `must be even (rotary pairs), got ${rope}`);
  const attention: LatentAttentionSpec = {
    kind: 'mla',
    heads: keys.heads,
    qLoraRank: reader.intOrNull('q_lora_rank', null),
    kvLoraRank: reader.int('kv_lora_rank'),
    qkNopeHeadDim: reader.int('qk_nope_head_dim'),
    qkRopeHeadDim: rope,
    vHeadDim: reader.int('v_head_dim'),
  };
  const numExperts = reader.int('n_routed_experts');
  const topK = reader.int('num_experts_per_tok');
  if (topK > numExperts) {
    throw reader.error(
      'num_experts_per_tok',
      `must be at most n_routed_experts (${numExperts}), got ${topK}`,
    );
  }
  const expertHidden = reader.int('moe_intermediate_size');
  const shared =
    version === 2 ? (reader.intOrNull('n_shared_experts', null, 0) ?? 0) : reader.int('n_shared_experts');
  const firstDense = reader.int('first_k_dense_replace', version === 2 ? 0 : 3, 0);
  const moe: MoEConfig = {
    numExperts,
    topK,
    expert: gatedFFN(expertHidden, keys.activation),
    shared: shared === 0 ? null : { count: shared, dHidden: expertHidden, gate: 'none' },
    router: readRouter(reader, version, numExperts),
    capacity: null,
    extraDenseFFN: false,
  };
  const mtpDepth = version === 3 ? reader.int('num_nextn_predict_layers', 0, 0) : 0;
  const mask = Array.from({ length: keys.layers }, (_, i) => i >= firstDense);
  return {
    layout: { ropeInterleave: reader.bool('rope_interleave', true) },
    structure: {
      ...decoderBase(keys),
      attention,
      ffn: gatedFFN(reader.int('intermediate_size'), keys.activation),
      moe,
      decoder: { layers: keys.layers, moeLayers: placementFromMask(mask) },
      mtp: mtpDepth === 0 ? null : { depth: mtpDepth },
    },
  };
}

function misfit(config: ModelConfig, version: Version): string | null {
  const moe = config.moe;
  const r = moe?.router;
  const mask = layerPlan(config).decoder;
  const firstDense = mask.indexOf(true);
  const g = r?.groupLimit ?? null;
  const common: (readonly [boolean, string])[] = [
    ...decoderMisfits(config),
    [
      config.attention.kind === 'mla',
      "attention.kind 'mha' (DeepSeek-V2/V3 use multi-head latent attention)",
    ],
    [
      config.norm.eps === LATENT_NORM_EPS,
      `norm.eps ${config.norm.eps} (transformers' latent norms use 1e-6)`,
    ],
    [moe === null || moe.shared === null || moe.shared.gate === 'none', 'a sigmoid-gated shared expert'],
    [
      moe === null || moe.shared === null || moe.shared.dHidden === moe.expert.dHidden,
      'moe.shared.dHidden differs from moe.expert.dHidden (one moe_intermediate_size)',
    ],
    [
      firstDense >= 0 && mask.every((isMoE, i) => isMoE === i >= firstDense),
      'MoE layers other than "all layers from first_k_dense_replace on"',
    ],
  ];
  if (version === 2) {
    return firstMisfit([
      ...common,
      [r?.scoring === 'softmax', "moe.router.scoring 'sigmoid' (DeepSeek-V2 scores by softmax)"],
      [r?.normalize === false, 'moe.router.normalize (DeepSeek-V2 scales without renormalising)'],
      [r?.selectionBias === false, 'moe.router.selectionBias (a DeepSeek-V3 feature)'],
      [g === null || g.groupScoreTopN === 1, 'moe.router.groupLimit.groupScoreTopN other than 1 (group max)'],
      [config.mtp === null, 'a multi-token-prediction module (DeepSeek-V3 only)'],
    ]);
  }
  return firstMisfit([
    ...common,
    [r?.scoring === 'sigmoid', "moe.router.scoring 'softmax' (DeepSeek-V3 scores by sigmoid)"],
    [r?.selectionBias === true, 'no moe.router.selectionBias (DeepSeek-V3 has e_score_correction_bias)'],
    [g === null || g.groupScoreTopN === 2, 'moe.router.groupLimit.groupScoreTopN other than 2 (noaux_tc)'],
    [moe === null || moe.shared !== null, 'no shared experts (DeepSeek-V3 always has them)'],
  ]);
}

function write(config: ModelConfig, version: Version): HuggingFaceConfig {
  const a = config.attention as LatentAttentionSpec;
  const moe = config.moe as MoEConfig;
  const g = moe.router.groupLimit;
  const json: HuggingFaceConfig = {
    ...writeDecoderKeys(config),
    num_key_value_heads: a.heads,
    q_lora_rank: a.qLoraRank,
    kv_lora_rank: a.kvLoraRank,
    qk_nope_head_dim: a.qkNopeHeadDim,
    qk_rope_head_dim: a.qkRopeHeadDim,
    v_head_dim: a.vHeadDim,
    attention_bias: false,
    intermediate_size: config.ffn.dHidden,
    moe_intermediate_size: moe.expert.dHidden,
    n_routed_experts: moe.numExperts,
    n_shared_experts: moe.shared === null ? null : moe.shared.count,
    num_experts_per_tok: moe.topK,
    first_k_dense_replace: layerPlan(config).decoder.indexOf(true),
    moe_layer_freq: 1,
    routed_scaling_factor: moe.router.scale,
    n_group: g === null ? 1 : g.groups,
    topk_group: g === null ? 1 : g.topGroups,
  };
  if (version === 2) {
    return {
      ...json,
      scoring_func: 'softmax',
      topk_method: g === null ? 'greedy' : 'group_limited_greedy',
      norm_topk_prob: false,
    };
  }
  return {
    ...json,
    scoring_func: 'sigmoid',
    topk_method: 'noaux_tc',
    norm_topk_prob: moe.router.normalize,
    num_nextn_predict_layers: config.mtp?.depth ?? 0,
  };
}

function weightRules(config: ModelConfig, layout: HuggingFaceLayout, version: Version): WeightRule[] {
  const a = config.attention as LatentAttentionSpec;
  const moe = config.moe as MoEConfig;
  const n = a.qkNopeHeadDim;
  const r = a.qkRopeHeadDim;
  const qRows = layout.ropeInterleave ? { rows: { block: n + r, start: n, width: r } } : {};
  const kvRows = layout.ropeInterleave
    ? { rows: { block: a.kvLoraRank + r, start: a.kvLoraRank, width: r } }
    : {};
  const rules: WeightRule[] = outerRules(config);
  layerPlan(config).decoder.forEach((isMoE, i) => {
    const { ours, hf } = blockPaths(i);
    const att = `${ours}.attention`;
    const self = `${hf}.self_attn`;
    rules.push(...normRules(i));
    if (a.qLoraRank === null)
      rules.push({ kind: 'linear', ours: `${att}.wq`, hf: `${self}.q_proj.weight`, ...qRows });
    else {
      rules.push(
        { kind: 'linear', ours: `${att}.wqA`, hf: `${self}.q_a_proj.weight` },
        { kind: 'same', ours: `${att}.qNorm.weight`, hf: `${self}.q_a_layernorm.weight` },
        { kind: 'linear', ours: `${att}.wqB`, hf: `${self}.q_b_proj.weight`, ...qRows },
      );
    }
    rules.push(
      { kind: 'linear', ours: `${att}.wkvA`, hf: `${self}.kv_a_proj_with_mqa.weight`, ...kvRows },
      { kind: 'same', ours: `${att}.kvNorm.weight`, hf: `${self}.kv_a_layernorm.weight` },
      { kind: 'linear', ours: `${att}.wkvB`, hf: `${self}.kv_b_proj.weight` },
      { kind: 'linear', ours: `${att}.wo`, hf: `${self}.o_proj.weight` },
    );
    if (!isMoE) {
      rules.push(...gatedMLPRules(`${ours}.ffn`, `${hf}.mlp`));
      return;
    }
    rules.push({ kind: 'linear', ours: `${ours}.ffn.router.weight`, hf: `${hf}.mlp.gate.weight` });
    if (version === 3) {
      rules.push({
        kind: 'same',
        ours: `${ours}.ffn.router.expertBias`,
        hf: `${hf}.mlp.gate.e_score_correction_bias`,
      });
    }
    rules.push(
      ...expertRules(`${ours}.ffn.experts`, `${hf}.mlp.experts`, moe.numExperts, {
        gate: 'gate_proj',
        up: 'up_proj',
        down: 'down_proj',
      }),
    );
    if (moe.shared !== null) rules.push(...gatedMLPRules(`${ours}.ffn.shared`, `${hf}.mlp.shared_experts`));
  });
  return rules;
}

/** DeepSeek-V3 checkpoints store the multi-token-prediction modules as extra layers after the main stack. */
function isMTPLayer(name: string, config: ModelConfig): boolean {
  const match = /^model\.layers\.(\d+)\./.exec(name);
  if (match === null || config.mtp === null) return false;
  const layer = Number(match[1]);
  return layer >= config.decoder.layers && layer < config.decoder.layers + config.mtp.depth;
}

function family(version: Version): Family {
  return {
    architecture: version === 2 ? 'DeepseekV2ForCausalLM' : 'DeepseekV3ForCausalLM',
    modelType: version === 2 ? 'deepseek_v2' : 'deepseek_v3',
    read: (reader) => read(reader, version),
    misfit: (config) => misfit(config, version),
    write: (config) => write(config, version),
    weightRules: (config, layout) => weightRules(config, layout, version),
    skips: (name, config) => decoderSkips(name, config) || isMTPLayer(name, config),
  };
}

/**
 * DeepSeek-V2 (and V2-Lite): softmax scores, `topk_method` `greedy` or `group_limited_greedy` (a group scores its
 * best expert), weights times `routed_scaling_factor`.
 */
export const deepseekV2Family: Family = family(2);

/**
 * DeepSeek-V3: sigmoid scores, top-K of score + `e_score_correction_bias` inside the `topk_group` best of `n_group`
 * groups (a group scores its top-2 sum), weights renormalised (`norm_topk_prob`) times `routed_scaling_factor`;
 * `num_nextn_predict_layers` MTP modules, stored as layers after the main stack and skipped on load.
 * transformers fills the other groups' selection scores with 0 where our router uses -∞: both pick the same
 * experts whenever the kept groups hold K experts with score + bias > 0.
 */
export const deepseekV3Family: Family = family(3);

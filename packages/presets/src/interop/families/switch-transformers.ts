// SwitchTransformersForConditionalGeneration (google/switch-base-8 ... switch-c-2048): a T5 encoder-decoder whose
// sparse layers route each token to one expert `mlp.experts.expert_{e}.wi/wo` by `mlp.router.classifier`; layer i
// of a stack is sparse when i % sparse_step == 1 (every layer when the step is 1). T5 relative position buckets
// live in each stack's first self-attention; unscaled attention; a tied head reads h · d_model^-½.
import { layerPlan, type ModelConfig, type MoEConfig, type StackConfig } from '../../config.js';
import { activationToHF, readActivation } from '../activations.js';
import type { ConfigReader } from '../config-reader.js';
import { type Family, firstMisfit } from '../family.js';
import { placementFromMask } from '../placement-from-mask.js';
import type { WeightRule } from '../weight-rule.js';

/** transformers' rule: layer i is sparse when `i % step == 1`, or always when `step == 1`; `step 0` means none. */
function sparseMask(layers: number, step: number): boolean[] {
  return Array.from({ length: layers }, (_, i) => step > 0 && (step === 1 || i % step === 1));
}

/** The step a stack of `layers` layers with `sparse` sparse ones gets from transformers' config class. */
function stepFromCount(layers: number, sparse: number): number {
  return sparse > 0 ? Math.floor(layers / sparse) : 0;
}

/** Reads one stack: `num_sparse_*_layers` and the stored `*_sparse_step` (the step transformers uses) must agree. */
function readStack(reader: ConfigReader, side: 'encoder' | 'decoder', layers: number): StackConfig {
  const count = reader.int(`num_sparse_${side}_layers`, 3, 0);
  const stepKey = `${side}_sparse_step`;
  const derived = stepFromCount(layers, count);
  const step = reader.int(stepKey, derived, 0);
  if (step !== derived) {
    throw reader.error(
      stepKey,
      `is ${step} but num_sparse_${side}_layers (${count}) of ${layers} layers gives ${derived}; transformers versions differ on which wins`,
    );
  }
  return { layers, moeLayers: placementFromMask(sparseMask(layers, step)) };
}

/** The step reproducing `mask`, or null. */
function stepOf(mask: readonly boolean[]): number | null {
  for (let step = 0; step <= Math.max(mask.length, 1); step++) {
    const sparse = sparseMask(mask.length, step);
    const count = sparse.filter(Boolean).length;
    if (sparse.every((s, i) => s === mask[i]) && stepFromCount(mask.length, count) === step) return step;
  }
  return null;
}

/** Where stack `side`'s block i keeps its feed-forward (after the cross-attention in the decoder). */
function ffnLayer(side: 'encoder' | 'decoder'): number {
  return side === 'encoder' ? 1 : 2;
}

function stackRules(config: ModelConfig, side: 'encoder' | 'decoder', mask: boolean[]): WeightRule[] {
  const moe = config.moe;
  const rules: WeightRule[] = [
    {
      kind: 'same',
      ours: `${side}.relativeBias.weight`,
      hf: `${side}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`,
    },
    { kind: 'same', ours: `${side}.norm.weight`, hf: `${side}.final_layer_norm.weight` },
  ];
  const attention = (ours: string, hf: string): WeightRule[] =>
    (['q', 'k', 'v', 'o'] as const).map((w) => ({
      kind: 'linear' as const,
      ours: `${ours}.w${w}`,
      hf: `${hf}.${w}.weight`,
    }));
  mask.forEach((isMoE, i) => {
    const ours = `${side}.blocks.${i}`;
    const hf = `${side}.block.${i}.layer`;
    const f = ffnLayer(side);
    rules.push(
      { kind: 'same', ours: `${ours}.attentionNorm.weight`, hf: `${hf}.0.layer_norm.weight` },
      ...attention(`${ours}.attention`, `${hf}.0.SelfAttention`),
      { kind: 'same', ours: `${ours}.ffnNorm.weight`, hf: `${hf}.${f}.layer_norm.weight` },
    );
    if (side === 'decoder') {
      rules.push(
        { kind: 'same', ours: `${ours}.crossNorm.weight`, hf: `${hf}.1.layer_norm.weight` },
        ...attention(`${ours}.crossAttention`, `${hf}.1.EncDecAttention`),
      );
    }
    if (!isMoE || moe === null) {
      rules.push(
        { kind: 'linear', ours: `${ours}.ffn.w1`, hf: `${hf}.${f}.mlp.wi.weight` },
        { kind: 'linear', ours: `${ours}.ffn.w2`, hf: `${hf}.${f}.mlp.wo.weight` },
      );
      return;
    }
    const experts = (w: string) =>
      Array.from({ length: moe.numExperts }, (_, e) => `${hf}.${f}.mlp.experts.expert_${e}.${w}.weight`);
    rules.push(
      { kind: 'linear', ours: `${ours}.ffn.router.weight`, hf: `${hf}.${f}.mlp.router.classifier.weight` },
      { kind: 'experts', ours: `${ours}.ffn.experts.w1`, hf: experts('wi') },
      { kind: 'experts', ours: `${ours}.ffn.experts.w2`, hf: experts('wo') },
    );
  });
  return rules;
}

/**
 * Switch Transformers: `d_model`, `d_kv`, `d_ff`, `num_heads`, `num_layers`/`num_decoder_layers`, sparse layer
 * counts and steps, `num_experts`, `router_jitter_noise`, T5 relative buckets, `layer_norm_epsilon`,
 * `dense_act_fn`, `tie_word_embeddings`. `expert_capacity` is read but not applied (see `importHuggingFaceConfig`).
 */
export const switchTransformersFamily: Family = {
  architecture: 'SwitchTransformersForConditionalGeneration',
  modelType: 'switch_transformers',
  read(reader: ConfigReader) {
    const dModel = reader.int('d_model');
    const heads = reader.int('num_heads');
    const encoderLayers = reader.int('num_layers');
    const decoderLayers = reader.int('num_decoder_layers', encoderLayers);
    const activation = readActivation(reader, 'dense_act_fn', 'relu');
    const ffn = { dHidden: reader.int('d_ff'), activation, gated: false, bias: false };
    const numExperts = reader.int('num_experts');
    reader.int('num_selected_experts', 1);
    reader.unsupported('num_selected_experts', (v) => v === 1, "transformers' Switch router is top-1");
    reader.int('expert_capacity', 64);
    reader.bool('batch_prioritized_routing', false);
    // transformers' SwitchTransformers never reads these three: the feed-forward is always `dense_act_fn`, ungated,
    // and the router is always the top-1 token-choice router (its padding flag only feeds the balance loss).
    reader.skip('feed_forward_proj', 'is_gated_act', 'router_type', 'router_ignore_padding_tokens');
    reader.choice('router_dtype', ['float32', 'float16', 'bfloat16'], 'float32');
    const moe: MoEConfig = {
      numExperts,
      topK: 1,
      expert: ffn,
      shared: null,
      router: {
        kind: 'switch',
        scoring: 'softmax',
        normalize: false,
        scale: 1,
        jitter: reader.number('router_jitter_noise', 0.01, true),
        bias: reader.bool('router_bias', false),
        selectionBias: false,
        groupLimit: null,
      },
      capacity: null,
      extraDenseFFN: false,
    };
    if (moe.router.jitter >= 1)
      throw reader.error('router_jitter_noise', `must be below 1, got ${moe.router.jitter}`);
    return {
      layout: { ropeInterleave: false },
      structure: {
        dModel,
        embedding: { vocabSize: reader.int('vocab_size'), tied: reader.bool('tie_word_embeddings', true) },
        position: {
          kind: 'relative-bias',
          numBuckets: reader.int('relative_attention_num_buckets', 32),
          maxDistance: reader.int('relative_attention_max_distance', 128),
          perLayer: false,
        },
        norm: { kind: 'rms', bias: false, eps: reader.number('layer_norm_epsilon', 1e-6) },
        attention: {
          kind: 'mha',
          heads,
          kvHeads: heads,
          headDim: reader.int('d_kv', 64),
          qkvBias: false,
          outBias: false,
          qkNorm: 'none',
        },
        ffn,
        moe,
        encoder: readStack(reader, 'encoder', encoderLayers),
        decoder: readStack(reader, 'decoder', decoderLayers),
        mtp: null,
      },
    };
  },
  misfit(config: ModelConfig) {
    const a = config.attention;
    const p = config.position;
    const moe = config.moe;
    const plan = layerPlan(config);
    return firstMisfit([
      [config.encoder !== null, 'a decoder-only model (Switch Transformers is an encoder-decoder)'],
      [
        p.kind === 'relative-bias' && !p.perLayer,
        'positions other than one T5 relative bias table per stack',
      ],
      [config.norm.kind === 'rms', `norm.kind '${config.norm.kind}' (T5's RMS layer norm only)`],
      [a.kind === 'mha' && a.kvHeads === a.heads, 'grouped key/value heads'],
      [a.kind === 'mha' && !a.qkvBias && !a.outBias && a.qkNorm === 'none', 'attention biases or q/k norms'],
      [!config.ffn.gated && !config.ffn.bias, 'a gated or biased ffn (Switch has ungated wi/wo)'],
      [moe !== null, 'a dense model (moe is null: that is T5)'],
      [
        moe === null ||
          (moe.expert.dHidden === config.ffn.dHidden &&
            moe.expert.activation === config.ffn.activation &&
            !moe.expert.gated &&
            !moe.expert.bias),
        'experts unlike the dense ffn (one d_ff and dense_act_fn)',
      ],
      [
        moe === null || moe.router.kind === 'switch',
        `moe.router.kind '${moe?.router.kind}' (top-1 switch only)`,
      ],
      [moe === null || !moe.router.bias, 'moe.router.bias'],
      [moe === null || moe.shared === null, 'shared experts'],
      [moe === null || !moe.extraDenseFFN, 'moe.extraDenseFFN (ST-MoE)'],
      [
        plan.encoder !== null && stepOf(plan.encoder) !== null,
        'an encoder MoE placement sparse_step cannot express',
      ],
      [stepOf(plan.decoder) !== null, 'a decoder MoE placement sparse_step cannot express'],
    ]);
  },
  write(config: ModelConfig) {
    const moe = config.moe as MoEConfig;
    const p = config.position as Extract<ModelConfig['position'], { kind: 'relative-bias' }>;
    const plan = layerPlan(config);
    const encoder = plan.encoder as boolean[];
    const a = config.attention;
    return {
      d_model: config.dModel,
      d_kv: a.kind === 'mha' ? a.headDim : 0,
      d_ff: config.ffn.dHidden,
      num_heads: a.heads,
      num_layers: encoder.length,
      num_decoder_layers: plan.decoder.length,
      num_sparse_encoder_layers: encoder.filter(Boolean).length,
      num_sparse_decoder_layers: plan.decoder.filter(Boolean).length,
      encoder_sparse_step: stepOf(encoder),
      decoder_sparse_step: stepOf(plan.decoder),
      num_experts: moe.numExperts,
      expert_capacity: 64,
      router_bias: false,
      router_jitter_noise: moe.router.jitter,
      router_dtype: 'float32',
      relative_attention_num_buckets: p.numBuckets,
      relative_attention_max_distance: p.maxDistance,
      layer_norm_epsilon: config.norm.eps,
      dense_act_fn: activationToHF(config.ffn.activation),
      tie_word_embeddings: config.embedding.tied,
      vocab_size: config.embedding.vocabSize,
      // T5's convention (the pad id), which transformers needs to shift labels and to generate.
      decoder_start_token_id: 0,
    };
  },
  weightRules(config: ModelConfig) {
    const plan = layerPlan(config);
    const rules: WeightRule[] = [{ kind: 'same', ours: 'embedding.weight', hf: 'shared.weight' }];
    rules.push(...stackRules(config, 'encoder', plan.encoder as boolean[]));
    rules.push(...stackRules(config, 'decoder', plan.decoder));
    if (!config.embedding.tied) rules.push({ kind: 'linear', ours: 'head.weight', hf: 'lm_head.weight' });
    return rules;
  },
  skips(name: string, config: ModelConfig) {
    // Copies of the shared embedding (and of the tied head) that some checkpoints store.
    return (
      name === 'encoder.embed_tokens.weight' ||
      name === 'decoder.embed_tokens.weight' ||
      (config.embedding.tied && name === 'lm_head.weight')
    );
  },
};

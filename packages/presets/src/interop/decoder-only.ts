// What the decoder-only architectures (Mixtral, Qwen2-MoE, OLMoE, DeepSeek-V2/V3) share: the LLaMA-style keys
// of config.json and the `model.layers.{i}` tensor layout around the attention and feed-forward modules.
import type { ActivationName } from '@switchyard/nn';
import type { FFNConfig, ModelConfig, MultiHeadAttentionSpec, RouterConfig } from '../config.js';
import { activationToHF, readActivation } from './activations.js';
import type { ConfigReader, HuggingFaceConfig } from './config-reader.js';
import type { WeightRule } from './weight-rule.js';

/** The keys every decoder-only architecture has. */
export interface DecoderKeys {
  dModel: number;
  vocabSize: number;
  tied: boolean;
  layers: number;
  heads: number;
  normEps: number;
  ropeBase: number;
  activation: ActivationName;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True for a rotary config without scaling: `{ rope_type: 'default' }` (or the older `type`). */
function isDefaultRope(value: unknown): boolean {
  return isRecord(value) && (value.rope_type ?? value.type ?? 'default') === 'default';
}

const NO_ROPE_SCALING =
  "Switchyard's rotary embedding has no frequency scaling (YaRN, linear, dynamic NTK), so positions would be encoded differently";

/**
 * The rotary base: `rope_theta`, or `rope_parameters.rope_theta` (transformers 5), else `fallback`. A scaled
 * rotary (`rope_scaling` or a non-default `rope_parameters.rope_type`) is refused.
 */
export function readRotaryBase(reader: ConfigReader, fallback: number): number {
  reader.unsupported('rope_scaling', (v) => v === null || isDefaultRope(v), NO_ROPE_SCALING);
  reader.unsupported('rope_parameters', (v) => v === null || isDefaultRope(v), NO_ROPE_SCALING);
  const params = reader.raw('rope_parameters');
  if (reader.has('rope_theta') || !isRecord(params) || params.rope_theta === undefined) {
    return reader.number('rope_theta', fallback);
  }
  const theta = params.rope_theta;
  if (typeof theta !== 'number' || !Number.isFinite(theta) || theta <= 0) {
    throw reader.error(
      'rope_parameters.rope_theta',
      `must be a positive number, got ${JSON.stringify(theta)}`,
    );
  }
  return theta;
}

/**
 * Refuses sliding-window attention (`sliding_window` non-null, or layer types other than full attention); with
 * `enabled` false (Qwen2's `use_sliding_window: false`) the window size is dropped unread.
 */
export function refuseSlidingWindow(reader: ConfigReader, enabled = true): void {
  const why = 'Switchyard attends over the whole causal context, never a sliding window';
  if (enabled) reader.unsupported('sliding_window', (v) => v === null, why);
  else reader.skip('sliding_window');
  // Which layers use the window (Qwen2): meaningless without one.
  reader.skip('max_window_layers');
  reader.unsupported('layer_types', (v) => Array.isArray(v) && v.every((t) => t === 'full_attention'), why);
}

/**
 * The parts of a decoder-only structure the shared keys decide: width, vocabulary and tying, rotary positions,
 * RMSNorm, no encoder; and no multi-token prediction (DeepSeek-V3 overrides `mtp`).
 */
export function decoderBase(keys: DecoderKeys) {
  return {
    dModel: keys.dModel,
    embedding: { vocabSize: keys.vocabSize, tied: keys.tied },
    position: { kind: 'rotary', base: keys.ropeBase },
    norm: { kind: 'rms', bias: false, eps: keys.normEps },
    encoder: null,
    mtp: null,
  } as const satisfies Partial<ModelConfig>;
}

/** The plain softmax top-K router of Mixtral, Qwen2-MoE and OLMoE: no bias, scaling, jitter or group limit. */
export function softmaxTopKRouter(normalize: boolean): RouterConfig {
  return {
    kind: 'top-k',
    scoring: 'softmax',
    normalize,
    scale: 1,
    jitter: 0,
    bias: false,
    selectionBias: false,
    groupLimit: null,
  };
}

/** Reads the shared keys; `defaults` are the architecture's own defaults in transformers. */
export function readDecoderKeys(
  reader: ConfigReader,
  defaults: { normEps: number; ropeTheta: number },
): DecoderKeys {
  return {
    dModel: reader.int('hidden_size'),
    vocabSize: reader.int('vocab_size'),
    tied: reader.bool('tie_word_embeddings', false),
    layers: reader.int('num_hidden_layers'),
    heads: reader.int('num_attention_heads'),
    normEps: reader.number('rms_norm_eps', defaults.normEps),
    ropeBase: readRotaryBase(reader, defaults.ropeTheta),
    activation: readActivation(reader, 'hidden_act', 'silu'),
  };
}

/** Grouped-query attention heads: `num_key_value_heads` dividing the heads, `head_dim` (default D / H). */
export function readHeads(reader: ConfigReader, keys: DecoderKeys): { kvHeads: number; headDim: number } {
  const kvHeads = reader.int('num_key_value_heads', keys.heads);
  if (keys.heads % kvHeads !== 0) {
    throw reader.error(
      'num_key_value_heads',
      `must divide num_attention_heads (${keys.heads}), got ${kvHeads}`,
    );
  }
  const fallback = keys.dModel % keys.heads === 0 ? keys.dModel / keys.heads : undefined;
  return { kvHeads, headDim: reader.int('head_dim', fallback) };
}

/** A SwiGLU-style feed-forward of width `dHidden` with the model's activation. */
export function gatedFFN(dHidden: number, activation: ActivationName): FFNConfig {
  return { dHidden, activation, gated: true, bias: false };
}

/** The shared keys of `config`, written back. */
export function writeDecoderKeys(config: ModelConfig): HuggingFaceConfig {
  const position = config.position;
  return {
    hidden_size: config.dModel,
    vocab_size: config.embedding.vocabSize,
    tie_word_embeddings: config.embedding.tied,
    num_hidden_layers: config.decoder.layers,
    num_attention_heads: config.attention.heads,
    rms_norm_eps: config.norm.eps,
    rope_theta: position.kind === 'rotary' ? position.base : 10000,
    hidden_act: activationToHF((config.moe?.expert ?? config.ffn).activation),
  };
}

/** What a config needs beyond `decoderMisfits` for `softmaxTopKRouter` (Mixtral, Qwen2-MoE, OLMoE) to express it. */
export function plainRouterMisfits(config: ModelConfig): (readonly [boolean, string])[] {
  const r = config.moe?.router;
  return [
    [r === undefined || r.scoring === 'softmax', "moe.router.scoring 'sigmoid'"],
    [r === undefined || r.scale === 1, 'moe.router.scale'],
    [r === undefined || r.groupLimit === null, 'moe.router.groupLimit'],
    [r === undefined || !r.selectionBias, 'moe.router.selectionBias'],
  ];
}

/**
 * The checks every decoder-only architecture makes: no encoder, rotary positions, RMSNorm, gated feed-forwards
 * without biases sharing one activation, a dropless token-choice MoE without router biases or jitter.
 */
export function decoderMisfits(config: ModelConfig): (readonly [boolean, string])[] {
  const moe = config.moe;
  const act = moe?.expert.activation;
  return [
    [config.encoder === null, 'an encoder-decoder (encoder is set)'],
    [config.position.kind === 'rotary', `position.kind '${config.position.kind}' (rotary only)`],
    [config.norm.kind === 'rms', `norm.kind '${config.norm.kind}' (RMSNorm only)`],
    [moe !== null, 'a dense model (moe is null)'],
    [moe === null || (moe.expert.gated && !moe.expert.bias), 'moe.expert must be gated and without biases'],
    [
      config.ffn.gated && !config.ffn.bias && config.ffn.activation === act,
      'ffn must be gated, without biases, with the experts’ activation (one hidden_act)',
    ],
    [moe === null || moe.router.kind === 'top-k', `moe.router.kind '${moe?.router.kind}' (top-k only)`],
    [moe === null || moe.router.jitter === 0, 'moe.router.jitter (no router jitter)'],
    [moe === null || !moe.router.bias, 'moe.router.bias (routers have no bias)'],
    [moe === null || moe.capacity === null, 'moe.capacity (the architecture is dropless)'],
    [moe === null || !moe.extraDenseFFN, 'moe.extraDenseFFN (ST-MoE only)'],
  ];
}

/** Our path of block `i` and its checkpoint prefix. */
export function blockPaths(i: number): { ours: string; hf: string } {
  return { ours: `decoder.blocks.${i}`, hf: `model.layers.${i}` };
}

/** Embedding, final norm and (untied) head. */
export function outerRules(config: ModelConfig): WeightRule[] {
  const rules: WeightRule[] = [
    { kind: 'same', ours: 'embedding.weight', hf: 'model.embed_tokens.weight' },
    { kind: 'same', ours: 'decoder.norm.weight', hf: 'model.norm.weight' },
  ];
  if (!config.embedding.tied) rules.push({ kind: 'linear', ours: 'head.weight', hf: 'lm_head.weight' });
  return rules;
}

/** The two pre-norms of a block. */
export function normRules(i: number): WeightRule[] {
  const { ours, hf } = blockPaths(i);
  return [
    { kind: 'same', ours: `${ours}.attentionNorm.weight`, hf: `${hf}.input_layernorm.weight` },
    { kind: 'same', ours: `${ours}.ffnNorm.weight`, hf: `${hf}.post_attention_layernorm.weight` },
  ];
}

/** Multi-head attention `self_attn.{q,k,v,o}_proj` with its optional biases and q/k norms. */
export function attentionRules(i: number, a: MultiHeadAttentionSpec): WeightRule[] {
  const ours = `${blockPaths(i).ours}.attention`;
  const hf = `${blockPaths(i).hf}.self_attn`;
  const rules: WeightRule[] = [];
  for (const [w, b, name] of [
    ['wq', 'bq', 'q_proj'],
    ['wk', 'bk', 'k_proj'],
    ['wv', 'bv', 'v_proj'],
  ] as const) {
    rules.push({ kind: 'linear', ours: `${ours}.${w}`, hf: `${hf}.${name}.weight` });
    if (a.qkvBias) rules.push({ kind: 'same', ours: `${ours}.${b}`, hf: `${hf}.${name}.bias` });
  }
  rules.push({ kind: 'linear', ours: `${ours}.wo`, hf: `${hf}.o_proj.weight` });
  if (a.outBias) rules.push({ kind: 'same', ours: `${ours}.bo`, hf: `${hf}.o_proj.bias` });
  if (a.qkNorm !== 'none') {
    rules.push({ kind: 'same', ours: `${ours}.qNorm.weight`, hf: `${hf}.q_norm.weight` });
    rules.push({ kind: 'same', ours: `${ours}.kNorm.weight`, hf: `${hf}.k_norm.weight` });
  }
  return rules;
}

/** A gated MLP `{gate,up,down}_proj` (dense layers, shared experts) onto our w1/w3/w2. */
export function gatedMLPRules(ours: string, hf: string): WeightRule[] {
  return [
    { kind: 'linear', ours: `${ours}.w1`, hf: `${hf}.gate_proj.weight` },
    { kind: 'linear', ours: `${ours}.w3`, hf: `${hf}.up_proj.weight` },
    { kind: 'linear', ours: `${ours}.w2`, hf: `${hf}.down_proj.weight` },
  ];
}

/** Routed experts stored one module per expert: `{prefix}.{e}.{gate}`/`{up}`/`{down}` onto stacked w1/w3/w2. */
export function expertRules(
  ours: string,
  prefix: string,
  numExperts: number,
  names: { gate: string; up: string; down: string },
): WeightRule[] {
  const each = (name: string) =>
    Array.from({ length: numExperts }, (_, e) => `${prefix}.${e}.${name}.weight`);
  return [
    { kind: 'experts', ours: `${ours}.w1`, hf: each(names.gate) },
    { kind: 'experts', ours: `${ours}.w3`, hf: each(names.up) },
    { kind: 'experts', ours: `${ours}.w2`, hf: each(names.down) },
  ];
}

/**
 * Checkpoint tensors a decoder-only import skips: rotary frequencies old checkpoints store per layer
 * (`rotary_emb.inv_freq`, derived rather than loaded) and the stored copy of a tied head (`lm_head.weight`).
 */
export function decoderSkips(name: string, config: ModelConfig): boolean {
  return name.endsWith('.rotary_emb.inv_freq') || (config.embedding.tied && name === 'lm_head.weight');
}

// Shape letters: B batch, S query positions, T key positions, D model width, H query heads, K key/value
// heads (KVH), E head width (Dh), X = H·E.
import {
  fmtShape,
  type Generator,
  logicalAnd,
  reshape,
  SwitchyardError,
  type Tensor,
  tidy,
  transpose,
  zeros,
} from '@switchyard/tensor';
import {
  checkBool,
  checkChoice,
  checkFeatures,
  checkGenerator,
  checkInitializer,
  checkInt,
  checkOptions,
  checkPositionOffsets,
  checkPositive,
  checkRate,
  initial,
} from './checks.js';
import { type Initializer, initializers } from './init.js';
import type { KVCache } from './kv-cache.js';
import { causalMask } from './masks.js';
import { project } from './mlp.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';
import { RelativePositionBias } from './relative-position-bias.js';
import { RMSNorm } from './rms-norm.js';
import { RotaryEmbedding } from './rotary-embedding.js';
import { attentionMask, scaledDotProductAttention } from './scaled-dot-product-attention.js';

export interface MultiHeadAttentionConfig {
  /** Model width D. */
  dModel: number;
  /** Query heads H. */
  heads: number;
  /** Key/value heads KVH; must divide `heads`. Default `heads` (MHA); 1 is multi-query attention. */
  kvHeads?: number;
  /** Per-head width Dh. Default dModel / heads (which must then be an integer). */
  headDim?: number;
  /** Biases bq, bk, bv [*], bo [D] (initialised to zero). Default false. */
  bias?: boolean;
  /** The output bias bo alone, overriding `bias` for it (Qwen: q/k/v biases, none on the output). Default `bias`. */
  outBias?: boolean;
  /**
   * RMSNorm on the projected queries and keys, before rotary and the scores (qk-norm): `'per-head'` normalises
   * each head's Dh values with one [Dh] scale shared by the heads (Qwen3, Gemma 3); `'full'` normalises the
   * whole projection, [H·Dh] for queries and [KVH·Dh] for keys (OLMoE, OLMo 2). Default `'none'`.
   */
  qkNorm?: 'none' | 'per-head' | 'full';
  /** Epsilon of the qk-norms. Default 1e-6. */
  qkNormEps?: number;
  /** Each query attends only to keys at or before its position (self-attention only). Default false. */
  causal?: boolean;
  /** Rotary position embedding of queries and keys (self-attention only). */
  rotary?: { base?: number };
  /** Learned T5 relative position bias added to the scores (self-attention only); may be shared. */
  relativeBias?: RelativePositionBias;
  /** Multiplies q·k. Default 1/sqrt(headDim); T5 uses 1 (the scale is folded into its initialisation). */
  scale?: number;
  /** Attention dropout on the weights in training mode. Default 0. */
  dropout?: number;
  /** Initialiser of wq, wk, wv, wo. Default `initializers.kaimingUniform()`. */
  init?: Initializer;
  /** Draws the initial weights and the dropout masks. */
  generator: Generator;
}

export interface MultiHeadAttentionForwardOptions {
  /** Bool [S, T], [B, S, T] or [B|1, H|1, S|1, T], true = may attend; combined with `causal` and `keyMask`. */
  mask?: Tensor;
  /** Bool [B, T] key mask (e.g. `paddingMask`), true = a real key. */
  keyMask?: Tensor;
  /** Past keys/values of this layer: the new ones are appended and attention runs over all of them. */
  cache?: KVCache;
  /**
   * [B] integers added to each row's rotary positions (self-attention only; default 0): row b's token s sits
   * at position `cache.length + s + positionOffsets[b]`. A left-padded batch passes minus each row's padding,
   * so every row's first real token sits at position 0, as it would alone. Positions enter only through
   * rotary: the relative bias depends on key - query distances, which a per-row shift leaves unchanged.
   */
  positionOffsets?: readonly number[];
  /**
   * Cross-attention: keys and values come from `context` [B, T, D] instead of x. With a cache, the context's
   * keys and values are computed on the first call and reused afterwards (pass the context on every call; once
   * the cache is filled it is not read again).
   */
  context?: Tensor;
}

/**
 * Multi-head attention (Vaswani et al. 2017) with grouped-query attention (Ainslie et al. 2023), optional
 * causal masking, rotary embeddings (Su et al. 2021), T5 relative position bias (Raffel et al. 2020),
 * KV caching for incremental decoding, and cross-attention:
 *
 *   q = x wq, k = c wk, v = c wv (c = context or x), heads split, qk-norm and rotary on q and k,
 *   out = softmax(scale · q kᵀ + bias, masked) v, heads merged, y = out wo.
 *
 * Head layout: column block h·Dh..(h+1)·Dh of wq is query head h, which reads key/value head
 * floor(h / (H / KVH)). Fully masked query rows output zero before `wo` (see `scaledDotProductAttention`).
 *
 * Shapes: x [B, S, D] (context [B, T, D]) -> [B, S, D], with wq [D, H·Dh], wk and wv [D, KVH·Dh],
 * wo [H·Dh, D], and with `qkNorm` the RMSNorm scales qNorm and kNorm ([Dh] per head, or [H·Dh] and [KVH·Dh]
 * in full). Differentiable in x, context and every weight.
 *
 * @example
 * ```ts
 * const attn = new MultiHeadAttention({ dModel: 64, heads: 8, kvHeads: 2, causal: true, rotary: {}, generator });
 * const y = attn.forward(x); // x [B, S, 64] -> [B, S, 64]
 * ```
 */
export class MultiHeadAttention extends Module {
  readonly dModel: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly causal: boolean;
  readonly scale: number;
  readonly dropout: number;
  /** [D, H·Dh]. */
  readonly wq: Parameter;
  /** [D, KVH·Dh]. */
  readonly wk: Parameter;
  /** [D, KVH·Dh]. */
  readonly wv: Parameter;
  /** [H·Dh, D]. */
  readonly wo: Parameter;
  readonly bq: Parameter | null;
  readonly bk: Parameter | null;
  readonly bv: Parameter | null;
  readonly bo: Parameter | null;
  /** qk-norm of the queries ([Dh] per head or [H·Dh] in full), or null. */
  readonly qNorm: RMSNorm | null;
  /** qk-norm of the keys ([Dh] per head or [KVH·Dh] in full), or null. */
  readonly kNorm: RMSNorm | null;
  readonly qkNorm: 'none' | 'per-head' | 'full';
  readonly rotary: RotaryEmbedding | null;
  readonly relativeBias: RelativePositionBias | null;
  readonly #generator: Generator;

  constructor(config: MultiHeadAttentionConfig) {
    super();
    const op = 'MultiHeadAttention';
    const c = checkOptions(op, config, true);
    this.dModel = checkInt(op, 'dModel', c.dModel);
    this.heads = checkInt(op, 'heads', c.heads);
    this.kvHeads = checkInt(op, 'kvHeads', c.kvHeads ?? this.heads);
    if (this.heads % this.kvHeads !== 0) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        op,
        `kvHeads (${this.kvHeads}) must divide heads (${this.heads})`,
      );
    }
    if (c.headDim === undefined && this.dModel % this.heads !== 0) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        op,
        `headDim defaults to dModel / heads but ${this.dModel} is not divisible by ${this.heads}; set headDim`,
      );
    }
    this.headDim = checkInt(op, 'headDim', c.headDim ?? this.dModel / this.heads);
    this.causal = checkBool(op, 'causal', c.causal ?? false);
    this.scale = checkPositive(op, 'scale', c.scale ?? 1 / Math.sqrt(this.headDim));
    this.dropout = checkRate(op, 'dropout', c.dropout ?? 0);
    const useBias = checkBool(op, 'bias', c.bias ?? false);
    const useOutBias = checkBool(op, 'outBias', c.outBias ?? useBias);
    this.qkNorm = checkChoice(op, 'qkNorm', c.qkNorm, ['none', 'per-head', 'full'], 'none');
    const qkNormEps = checkPositive(op, 'qkNormEps', c.qkNormEps, 1e-6);
    this.#generator = checkGenerator(op, 'generator', c.generator);
    if (c.rotary !== undefined && (c.rotary === null || typeof c.rotary !== 'object')) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        op,
        `rotary must be an object such as { base: 10000 }, got ${String(c.rotary)}`,
      );
    }
    if (c.rotary && this.headDim % 2 !== 0) {
      throw new SwitchyardError('INVALID_CONFIG', op, `rotary needs an even headDim, got ${this.headDim}`);
    }
    this.rotary = c.rotary ? new RotaryEmbedding(this.headDim, c.rotary) : null;
    if (c.relativeBias !== undefined && !(c.relativeBias instanceof RelativePositionBias)) {
      throw new SwitchyardError('INVALID_CONFIG', op, 'relativeBias must be a RelativePositionBias');
    }
    if (c.relativeBias && c.relativeBias.heads !== this.heads) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        op,
        `relativeBias has ${c.relativeBias.heads} heads but the attention has ${this.heads}`,
      );
    }
    this.relativeBias = c.relativeBias ?? null;
    const init = checkInitializer(op, 'init', c.init ?? initializers.kaimingUniform());
    const d = this.dModel;
    const qWidth = this.heads * this.headDim;
    const kvWidth = this.kvHeads * this.headDim;
    const g = this.#generator;
    this.wq = new Parameter(initial(op, 'wq', init, [d, qWidth], g));
    this.wk = new Parameter(initial(op, 'wk', init, [d, kvWidth], g));
    this.wv = new Parameter(initial(op, 'wv', init, [d, kvWidth], g));
    this.wo = new Parameter(initial(op, 'wo', init, [qWidth, d], g));
    this.bq = useBias ? new Parameter(zeros([qWidth])) : null;
    this.bk = useBias ? new Parameter(zeros([kvWidth])) : null;
    this.bv = useBias ? new Parameter(zeros([kvWidth])) : null;
    this.bo = useOutBias ? new Parameter(zeros([d])) : null;
    const full = this.qkNorm === 'full';
    this.qNorm =
      this.qkNorm === 'none' ? null : new RMSNorm(full ? qWidth : this.headDim, { eps: qkNormEps });
    this.kNorm =
      this.qkNorm === 'none' ? null : new RMSNorm(full ? kvWidth : this.headDim, { eps: qkNormEps });
  }

  /** Projects `source` with `w` and `b`, applies the qk-norm `norm` (null: none) and splits `heads` heads. */
  #heads(source: Tensor, w: Tensor, b: Tensor | null, norm: RMSNorm | null, heads: number): Tensor {
    const [batch, len] = source.shape as [number, number, number];
    let proj = project(source, w, b);
    if (norm && this.qkNorm === 'full') proj = norm.forward(proj);
    const split = reshape(proj, [batch, len, heads, this.headDim]);
    return norm && this.qkNorm === 'per-head' ? norm.forward(split) : split;
  }

  /** x [B, S, D] -> [B, S, D]. */
  forward(x: Tensor, options: MultiHeadAttentionForwardOptions = {}): Tensor {
    const op = 'MultiHeadAttention';
    checkFeatures(op, x, this.dModel, 3);
    if (x.rank !== 3) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        op,
        `x must be [B, S, ${this.dModel}], got ${fmtShape(x.shape)}`,
      );
    }
    const [b, s] = x.shape as [number, number, number];
    const { cache, context } = options;
    const cross = context !== undefined;
    if (context !== undefined) {
      checkFeatures(op, context, this.dModel, 3, 'context');
      if (context.rank !== 3 || context.shape[0] !== b) {
        throw new SwitchyardError(
          'SHAPE_MISMATCH',
          op,
          `context must be [${b}, T, ${this.dModel}] for x ${fmtShape(x.shape)}, got ${fmtShape(context.shape)}`,
        );
      }
      if (this.causal || this.rotary || this.relativeBias) {
        throw new SwitchyardError(
          'INVALID_ARGUMENT',
          op,
          'causal masking, rotary embeddings and relative bias apply to self-attention only: this module cannot take a context',
        );
      }
    }
    if (cache !== undefined && cache.length > 0 && cache.keys?.shape[0] !== b) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        op,
        `the cache holds batch ${cache.keys?.shape[0]} but x is ${fmtShape(x.shape)}`,
      );
    }
    const shifts = checkPositionOffsets(op, options.positionOffsets, b);
    return tidy(() => {
      const q_BSHE = this.#heads(x, this.wq, this.bq, this.qNorm, this.heads);
      const start = cross ? 0 : (cache?.length ?? 0);
      const offset = shifts ? shifts.map((o) => start + o) : start;
      let q = q_BSHE;
      let k_BKTE: Tensor;
      let v_BKTE: Tensor;
      if (cross && cache && cache.length > 0) {
        k_BKTE = cache.keys as Tensor;
        v_BKTE = cache.values as Tensor;
      } else {
        const source = context ?? x;
        const t = source.shape[1] as number;
        let k_BTKE = this.#heads(source, this.wk, this.bk, this.kNorm, this.kvHeads);
        const v_BTKE = reshape(project(source, this.wv, this.bv), [b, t, this.kvHeads, this.headDim]);
        if (this.rotary) {
          q = this.rotary.rotate(q_BSHE, offset);
          k_BTKE = this.rotary.rotate(k_BTKE, offset);
        }
        k_BKTE = transpose(k_BTKE, [0, 2, 1, 3]);
        v_BKTE = transpose(v_BTKE, [0, 2, 1, 3]);
        if (cache) ({ keys: k_BKTE, values: v_BKTE } = cache.append(k_BKTE, v_BKTE));
      }
      const t = k_BKTE.shape[2] as number;
      let mask = options.mask ? attentionMask({ mask: options.mask }, b, this.heads, s, t) : null;
      if (this.causal) {
        const causal = causalMask(s, t, t - s);
        mask = mask ? logicalAnd(mask, causal) : causal;
      }
      const out_BHSE = scaledDotProductAttention(transpose(q, [0, 2, 1, 3]), k_BKTE, v_BKTE, {
        ...(mask ? { mask } : {}),
        ...(options.keyMask ? { keyMask: options.keyMask } : {}),
        ...(this.relativeBias ? { bias: this.relativeBias.forward(s, t, t - s) } : {}),
        scale: this.scale,
        ...(this.training && this.dropout > 0 ? { dropout: this.dropout, generator: this.#generator } : {}),
      });
      const merged_BSX = reshape(transpose(out_BHSE, [0, 2, 1, 3]), [b, s, this.heads * this.headDim]);
      return project(merged_BSX, this.wo, this.bo);
    });
  }
}

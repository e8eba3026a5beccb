// Shape letters: B batch, S query positions, T key positions, D model width, H heads, N no-position (nope)
// head width, R rotary head width, Q = N + R query/key head width, V value head width, L latent ranks.
import {
  broadcastTo,
  concat,
  fmtShape,
  type Generator,
  logicalAnd,
  matmul,
  reshape,
  SwitchyardError,
  slice,
  type Tensor,
  tidy,
  transpose,
} from '@switchyard/tensor';
import {
  checkBool,
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
import { LatentKVCache } from './latent-kv-cache.js';
import { causalMask } from './masks.js';
import { project } from './mlp.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';
import { RMSNorm } from './rms-norm.js';
import { RotaryEmbedding } from './rotary-embedding.js';
import { attentionMask, scaledDotProductAttention } from './scaled-dot-product-attention.js';

export interface MultiHeadLatentAttentionConfig {
  /** Model width D. */
  dModel: number;
  /** Heads H. */
  heads: number;
  /** Rank of the query latent (DeepSeek-V2/V3: 1536), or null for a plain query projection (V2-Lite). */
  qLoraRank: number | null;
  /** Rank of the key/value latent c_KV (DeepSeek-V2/V3: 512). */
  kvLoraRank: number;
  /** Per-head width of the query/key part without positions (128). */
  qkNopeHeadDim: number;
  /** Per-head width of the rotary part (64); the rotary key is shared by every head. Even. */
  qkRopeHeadDim: number;
  /** Per-head value width (128). */
  vHeadDim: number;
  /** Rotary embedding of the rotary parts (rotate-half convention). Default base 10000. */
  rotary?: { base?: number };
  /** Each query attends only to keys at or before its position. Default false. */
  causal?: boolean;
  /** Epsilon of the RMSNorms on the latents. Default 1e-6. */
  normEps?: number;
  /** Multiplies q·k. Default 1/sqrt(qkNopeHeadDim + qkRopeHeadDim). */
  scale?: number;
  /** Attention dropout on the weights in training mode. Default 0. */
  dropout?: number;
  /** Initialiser of every projection. Default `initializers.kaimingUniform()`. */
  init?: Initializer;
  /** Draws the initial weights and the dropout masks. */
  generator: Generator;
}

export interface MultiHeadLatentAttentionForwardOptions {
  /** Bool [S, T], [B, S, T] or [B|1, H|1, S|1, T], true = may attend; combined with `causal` and `keyMask`. */
  mask?: Tensor;
  /** Bool [B, T] key mask (e.g. `paddingMask`), true = a real key. */
  keyMask?: Tensor;
  /**
   * Past positions of this layer. A `LatentKVCache` holds what DeepSeek caches at inference, the normalised
   * latent c_KV [L] and the rotary key [R] per position, and attends over it as its `mode` says (absorbed or
   * expanded). A `KVCache` holds expanded keys [B, H, T, N + R] and values [B, H, T, V]: same outputs, H·(N+R+V)
   * instead of L + R values per position.
   */
  cache?: KVCache | LatentKVCache;
  /**
   * [B] integers added to each row's rotary positions (default 0): row b's token s sits at position
   * `cache.length + s + positionOffsets[b]`. A left-padded batch passes minus each row's padding, so every
   * row's first real token sits at position 0, as it would alone.
   */
  positionOffsets?: readonly number[];
}

/**
 * Multi-head latent attention (DeepSeek-AI 2024, DeepSeek-V2 §2.1; also DeepSeek-V3): keys and values are
 * rebuilt per head from a low-rank latent of each token, and positions enter through a small rotary part
 * whose key is shared by all heads:
 *
 *   c_Q = RMSNorm(x W_DQ)                       [L_q]   (or q = x W_Q directly when qLoraRank is null)
 *   [q_nope, q_rope] = c_Q W_UQ                 per head [N], [R];  q_rope = RoPE(q_rope)
 *   [c_KV, k_rope] = x W_DKV                    [L_kv], [R];        k_rope = RoPE(k_rope), shared by the heads
 *   [k_nope, v] = RMSNorm(c_KV) W_UKV            per head [N], [V]
 *   q = [q_nope, q_rope], k = [k_nope, k_rope],  out = softmax(scale · q kᵀ, masked) v,  y = out W_O.
 *
 * Weights are input-major (`y = x @ w`) and named after Hugging Face's DeepSeek modules: `wq` [D, H·(N+R)]
 * (q_proj), or `wqA` [D, L_q] (q_a_proj) + `qNorm` [L_q] + `wqB` [L_q, H·(N+R)] (q_b_proj); `wkvA`
 * [D, L_kv + R] (kv_a_proj_with_mqa) + `kvNorm` [L_kv] + `wkvB` [L_kv, H·(N+V)] (kv_b_proj); `wo` [H·V, D].
 * Column block h of `wqB` (and of `wkvB`) is head h, nope part first. Rotary uses the rotate-half convention;
 * DeepSeek's released checkpoints pair interleaved columns, so loading them permutes the rotary columns of
 * `wqB`/`wq` and `wkvA` (each head's R columns [0, 2, 4, ..., 1, 3, 5, ...]). The default scale 1/sqrt(N + R)
 * leaves out DeepSeek's YaRN long-context factor.
 *
 * Decoding: with a `LatentKVCache` only c_KV and the rotated k_rope are cached. In its `'absorbed'` mode the
 * per-head key up-projection W_UK (the nope columns of `wkvB`) is folded into the query, q̃ = q_nope W_UKᵀ [L],
 * so q_nope · k_nope = q̃ · c_KV, and the value up-projection W_UV after attention, out = (softmax(·) c_KV) W_UV:
 * attention then runs over the cached latents like multi-query attention with one [L + R] key/value head.
 *
 * Shapes: x [B, S, D] -> [B, S, D]. Differentiable in x and every weight.
 *
 * @example
 * ```ts
 * const mla = new MultiHeadLatentAttention({
 *   dModel: 64, heads: 4, qLoraRank: 32, kvLoraRank: 32, qkNopeHeadDim: 16, qkRopeHeadDim: 8, vHeadDim: 16,
 *   causal: true, generator,
 * });
 * const y = mla.forward(x); // x [B, S, 64] -> [B, S, 64]
 * ```
 */
export class MultiHeadLatentAttention extends Module {
  readonly dModel: number;
  readonly heads: number;
  readonly qLoraRank: number | null;
  readonly kvLoraRank: number;
  readonly qkNopeHeadDim: number;
  readonly qkRopeHeadDim: number;
  readonly vHeadDim: number;
  readonly causal: boolean;
  readonly scale: number;
  readonly dropout: number;
  /** [D, H·(N+R)] when qLoraRank is null, else null. */
  readonly wq: Parameter | null;
  /** [D, L_q] query down-projection, or null. */
  readonly wqA: Parameter | null;
  /** RMSNorm [L_q] on the query latent, or null. */
  readonly qNorm: RMSNorm | null;
  /** [L_q, H·(N+R)] query up-projection, or null. */
  readonly wqB: Parameter | null;
  /** [D, L_kv + R] key/value latent and the shared rotary key. */
  readonly wkvA: Parameter;
  /** RMSNorm [L_kv] on the key/value latent. */
  readonly kvNorm: RMSNorm;
  /** [L_kv, H·(N+V)] per-head no-position keys and values. */
  readonly wkvB: Parameter;
  /** [H·V, D]. */
  readonly wo: Parameter;
  readonly rotary: RotaryEmbedding;
  readonly #generator: Generator;

  constructor(config: MultiHeadLatentAttentionConfig) {
    super();
    const op = 'MultiHeadLatentAttention';
    const c = checkOptions(op, config, true, 'config');
    this.dModel = checkInt(op, 'dModel', c.dModel);
    this.heads = checkInt(op, 'heads', c.heads);
    this.qLoraRank = c.qLoraRank === null ? null : checkInt(op, 'qLoraRank', c.qLoraRank);
    this.kvLoraRank = checkInt(op, 'kvLoraRank', c.kvLoraRank);
    this.qkNopeHeadDim = checkInt(op, 'qkNopeHeadDim', c.qkNopeHeadDim);
    this.qkRopeHeadDim = checkInt(op, 'qkRopeHeadDim', c.qkRopeHeadDim);
    if (this.qkRopeHeadDim % 2 !== 0) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        op,
        `qkRopeHeadDim must be even (rotary pairs), got ${this.qkRopeHeadDim}`,
      );
    }
    this.vHeadDim = checkInt(op, 'vHeadDim', c.vHeadDim);
    this.causal = checkBool(op, 'causal', c.causal ?? false);
    const qk = this.qkNopeHeadDim + this.qkRopeHeadDim;
    this.scale = checkPositive(op, 'scale', c.scale, 1 / Math.sqrt(qk));
    this.dropout = checkRate(op, 'dropout', c.dropout ?? 0);
    const eps = checkPositive(op, 'normEps', c.normEps, 1e-6);
    if (c.rotary !== undefined && (c.rotary === null || typeof c.rotary !== 'object')) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        op,
        `rotary must be an object such as { base: 10000 }, got ${String(c.rotary)}`,
      );
    }
    this.rotary = new RotaryEmbedding(this.qkRopeHeadDim, c.rotary ?? {});
    this.#generator = checkGenerator(op, 'generator', c.generator);
    const init = checkInitializer(op, 'init', c.init, initializers.kaimingUniform());
    const g = this.#generator;
    const [d, h, r] = [this.dModel, this.heads, this.qLoraRank];
    if (r === null) {
      this.wq = new Parameter(initial(op, 'wq', init, [d, h * qk], g));
      this.wqA = null;
      this.qNorm = null;
      this.wqB = null;
    } else {
      this.wq = null;
      this.wqA = new Parameter(initial(op, 'wqA', init, [d, r], g));
      this.qNorm = new RMSNorm(r, { eps });
      this.wqB = new Parameter(initial(op, 'wqB', init, [r, h * qk], g));
    }
    this.wkvA = new Parameter(initial(op, 'wkvA', init, [d, this.kvLoraRank + this.qkRopeHeadDim], g));
    this.kvNorm = new RMSNorm(this.kvLoraRank, { eps });
    this.wkvB = new Parameter(
      initial(op, 'wkvB', init, [this.kvLoraRank, h * (this.qkNopeHeadDim + this.vHeadDim)], g),
    );
    this.wo = new Parameter(initial(op, 'wo', init, [h * this.vHeadDim, d], g));
  }

  /** x [B, S, D] -> [B, S, D]. */
  forward(x: Tensor, options: MultiHeadLatentAttentionForwardOptions = {}): Tensor {
    const op = 'MultiHeadLatentAttention';
    checkFeatures(op, x, this.dModel, 3);
    if (x.rank !== 3) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        op,
        `x must be [B, S, ${this.dModel}], got ${fmtShape(x.shape)}`,
      );
    }
    const [b, s] = x.shape as [number, number, number];
    const { cache } = options;
    const cachedBatch = cache instanceof LatentKVCache ? cache.latent?.shape[0] : cache?.keys?.shape[0];
    if (cache !== undefined && cache.length > 0 && cachedBatch !== b) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        op,
        `the cache holds batch ${cachedBatch} but x is ${fmtShape(x.shape)}`,
      );
    }
    const shifts = checkPositionOffsets(op, options.positionOffsets, b);
    const [h, n, rope, v, l] = [
      this.heads,
      this.qkNopeHeadDim,
      this.qkRopeHeadDim,
      this.vHeadDim,
      this.kvLoraRank,
    ];
    return tidy(() => {
      const start = cache?.length ?? 0;
      const offset = shifts ? shifts.map((o) => start + o) : start;
      // Queries: through the query latent (or directly), split per head into the nope and rotary parts.
      const q_BSX =
        this.wq !== null
          ? project(x, this.wq, null)
          : project(
              (this.qNorm as RMSNorm).forward(project(x, this.wqA as Tensor, null)),
              this.wqB as Tensor,
              null,
            );
      const q_BSHQ = reshape(q_BSX, [b, s, h, n + rope]);
      const qNope_BSHN = slice(q_BSHQ, [0, 0, 0, 0], [b, s, h, n]);
      const qRope_BSHR = this.rotary.rotate(slice(q_BSHQ, [0, 0, 0, n], [b, s, h, rope]), offset);
      // Keys and values: a latent per token (normalised) and one shared rotary key.
      const kv_BSL = project(x, this.wkvA, null);
      let latent_BTL = this.kvNorm.forward(slice(kv_BSL, [0, 0, 0], [b, s, l]));
      let kRope_BTR = reshape(
        this.rotary.rotate(reshape(slice(kv_BSL, [0, 0, l], [b, s, rope]), [b, s, 1, rope]), offset),
        [b, s, rope],
      );
      if (cache instanceof LatentKVCache) {
        ({ latent: latent_BTL, ropeKey: kRope_BTR } = cache.append(latent_BTL, kRope_BTR));
      }
      // The mask for T keys: the caller's, causal (the newest query aligned with the newest key), key padding.
      const attend = (q: Tensor, k: Tensor, val: Tensor) => {
        const t = k.shape[2] as number;
        let mask = options.mask ? attentionMask({ mask: options.mask }, b, h, s, t) : null;
        if (this.causal) {
          const causal = causalMask(s, t, t - s);
          mask = mask ? logicalAnd(mask, causal) : causal;
        }
        return scaledDotProductAttention(q, k, val, {
          ...(mask ? { mask } : {}),
          ...(options.keyMask ? { keyMask: options.keyMask } : {}),
          scale: this.scale,
          ...(this.training && this.dropout > 0 ? { dropout: this.dropout, generator: this.#generator } : {}),
        });
      };
      const t = latent_BTL.shape[1] as number;
      let out_BHSV: Tensor;
      if (cache instanceof LatentKVCache && cache.mode === 'absorbed') {
        // W_UKV [L, H, N + V]: fold W_UK into the queries, attend over [c_KV, k_rope], then apply W_UV.
        const wkv_LHW = reshape(this.wkvB, [l, h, n + v]);
        const wUK_HNL = transpose(slice(wkv_LHW, [0, 0, 0], [l, h, n]), [1, 2, 0]);
        const wUV_HLV = transpose(slice(wkv_LHW, [0, 0, n], [l, h, v]), [1, 0, 2]);
        const qLatent_BHSL = matmul(transpose(qNope_BSHN, [0, 2, 1, 3]), wUK_HNL);
        const q_BHSK = concat([qLatent_BHSL, transpose(qRope_BSHR, [0, 2, 1, 3])], -1);
        const k_B1TK = reshape(concat([latent_BTL, kRope_BTR], -1), [b, 1, t, l + rope]);
        const context_BHSL = attend(q_BHSK, k_B1TK, reshape(latent_BTL, [b, 1, t, l]));
        out_BHSV = matmul(context_BHSL, wUV_HLV);
      } else {
        const kv_BTHW = reshape(project(latent_BTL, this.wkvB, null), [b, t, h, n + v]);
        const kNope_BTHN = slice(kv_BTHW, [0, 0, 0, 0], [b, t, h, n]);
        const v_BTHV = slice(kv_BTHW, [0, 0, 0, n], [b, t, h, v]);
        const kRope_BTHR = broadcastTo(reshape(kRope_BTR, [b, t, 1, rope]), [b, t, h, rope]);
        let k_BHTQ = transpose(concat([kNope_BTHN, kRope_BTHR], -1), [0, 2, 1, 3]);
        let v_BHTV = transpose(v_BTHV, [0, 2, 1, 3]);
        if (cache && !(cache instanceof LatentKVCache)) {
          ({ keys: k_BHTQ, values: v_BHTV } = cache.append(k_BHTQ, v_BHTV));
        }
        const q_BHSQ = transpose(concat([qNope_BSHN, qRope_BSHR], -1), [0, 2, 1, 3]);
        out_BHSV = attend(q_BHSQ, k_BHTQ, v_BHTV);
      }
      const merged_BSX = reshape(transpose(out_BHSV, [0, 2, 1, 3]), [b, s, h * v]);
      return project(merged_BSX, this.wo, null);
    });
  }
}

import {
  add,
  concat,
  fmtShape,
  fromHost,
  mul,
  SwitchyardError,
  slice,
  sub,
  type Tensor,
  tidy,
} from '@switchyard/tensor';
import { checkFeatures, checkInt, checkOptions, checkPositive } from './checks.js';
import { Module } from './module.js';

export interface RotaryEmbeddingOptions {
  /** Base of the geometric frequency ladder θ_i = base^(-2i/Dh). Default 10000 (RoFormer, LLaMA). */
  base?: number;
}

/**
 * Rotary position embedding (Su et al. 2021, RoFormer) in the rotate-half convention of LLaMA and Hugging
 * Face: the head vector is split into halves (x1, x2) and, at absolute position p, each pair
 * (x1_i, x2_i) is rotated by the angle p·θ_i with θ_i = base^(-2i/Dh):
 *
 *   y1 = x1 cos(pθ) - x2 sin(pθ),   y2 = x2 cos(pθ) + x1 sin(pθ).
 *
 * Rotating queries and keys this way makes their dot product depend only on the relative position. The
 * angles are computed in float64 on the host and rounded once to f32. Has no parameters.
 *
 * Shapes: x [B, S, H, Dh] -> [B, S, H, Dh] (Dh even); token s sits at position `offset + s`, where
 * `offset` is the number of tokens already in the KV cache when decoding. Differentiable in x.
 *
 * @example
 * ```ts
 * const rope = new RotaryEmbedding(64);
 * const { q, k } = rope.forward(q_BSHD, k_BSKD, cache.length);
 * ```
 */
export class RotaryEmbedding extends Module {
  readonly headDim: number;
  readonly base: number;
  /** θ_i for i < Dh/2, float64 on the host (not state: derived from the config). */
  readonly #invFreq: Float64Array;

  constructor(headDim: number, options: RotaryEmbeddingOptions = {}) {
    super();
    const opts = checkOptions('RotaryEmbedding', options, false);
    this.headDim = checkInt('RotaryEmbedding', 'headDim', headDim);
    if (headDim % 2 !== 0) {
      throw new SwitchyardError('INVALID_CONFIG', 'RotaryEmbedding', `headDim must be even, got ${headDim}`);
    }
    this.base = checkPositive('RotaryEmbedding', 'base', opts.base ?? 10000);
    const half = headDim / 2;
    this.#invFreq = Float64Array.from({ length: half }, (_, i) => this.base ** ((-2 * i) / headDim));
  }

  /**
   * cos and sin of p·θ_i for positions offset..offset+S-1, each [S, 1, Dh/2] (broadcast over heads); with
   * one offset per row (`offset` an array of B integers), row b's positions start at offset[b] and the
   * tables are [B, S, 1, Dh/2].
   */
  tables(length: number, offset: number | readonly number[] = 0): { cos: Tensor; sin: Tensor } {
    const half = this.headDim / 2;
    const starts = typeof offset === 'number' ? [offset] : offset;
    const cos = new Float32Array(starts.length * length * half);
    const sin = new Float32Array(starts.length * length * half);
    starts.forEach((start, b) => {
      for (let s = 0; s < length; s++) {
        const row = (b * length + s) * half;
        for (let i = 0; i < half; i++) {
          const angle = (start + s) * (this.#invFreq[i] as number);
          cos[row + i] = Math.cos(angle);
          sin[row + i] = Math.sin(angle);
        }
      }
    });
    const shape = typeof offset === 'number' ? [length, 1, half] : [starts.length, length, 1, half];
    return { cos: fromHost(cos, shape, 'f32'), sin: fromHost(sin, shape, 'f32') };
  }

  /**
   * Rotates x [B, S, H, Dh] at positions offset..offset+S-1, or, with one offset per row (B integers, which
   * may be negative), row b at positions offset[b]..offset[b]+S-1: a left-padded batch passes
   * `cacheLength - padding[b]` so each row's first real token sits at position 0, as it would alone (its pad
   * positions come out negative; they are masked anyway).
   */
  rotate(x: Tensor, offset: number | readonly number[] = 0): Tensor {
    checkFeatures('RotaryEmbedding', x, this.headDim, 4);
    if (x.rank !== 4) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        'RotaryEmbedding',
        `x must be [B, S, H, ${this.headDim}], got ${fmtShape(x.shape)}`,
      );
    }
    const [b, s, h] = x.shape as [number, number, number, number];
    checkOffset(offset, b);
    const half = this.headDim / 2;
    return tidy(() => {
      const { cos, sin } = this.tables(s, offset);
      const x1 = slice(x, [0, 0, 0, 0], [b, s, h, half]);
      const x2 = slice(x, [0, 0, 0, half], [b, s, h, half]);
      const y1 = sub(mul(x1, cos), mul(x2, sin));
      const y2 = add(mul(x2, cos), mul(x1, sin));
      return concat([y1, y2], -1);
    });
  }

  /** Rotates queries [B, S, H, Dh] and keys [B, S, KVH, Dh] at positions offset..offset+S-1 (see `rotate`). */
  forward(q: Tensor, k: Tensor, offset: number | readonly number[] = 0): { q: Tensor; k: Tensor } {
    return { q: this.rotate(q, offset), k: this.rotate(k, offset) };
  }
}

/** A scalar offset is a non-negative integer; per-row offsets are B integers. */
function checkOffset(offset: number | readonly number[], batch: number): void {
  if (typeof offset === 'number') {
    if (!Number.isInteger(offset) || offset < 0) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        'RotaryEmbedding',
        `offset must be a non-negative integer, got ${offset}`,
      );
    }
    return;
  }
  if (!Array.isArray(offset) || offset.length !== batch || !offset.every((o) => Number.isInteger(o))) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'RotaryEmbedding',
      `per-row offsets must be ${batch} integers (one per row of x), got ${String(offset)}`,
    );
  }
}

import { fmtShape, SwitchyardError, type Tensor } from '@switchyard/tensor';
import { checkTensorArg } from './checks.js';
import { GrowingPair } from './growing-pair.js';

/**
 * The past keys and values of one attention layer, for incremental decoding: each call of the layer's
 * forward appends the new tokens' keys and values along the sequence axis and attends over everything held.
 * Keys are stored after the rotary embedding, so cached positions are never re-rotated. For cross-attention
 * the cache holds the context's keys and values, computed on the first call and reused afterwards.
 *
 * The cache owns its tensors (they survive `tidy` scopes) until `reset()` or `dispose()`. Decode under
 * `noGrad` unless you mean to differentiate through the cache.
 *
 * Shapes: keys [B, KVH, T, Dh] and values [B, KVH, T, Dv], T = `length`.
 *
 * @example
 * ```ts
 * const cache = new KVCache();
 * noGrad(() => {
 *   attn.forward(prompt_BSD, { cache });       // prefill: cache.length = S
 *   attn.forward(nextToken_B1D, { cache });    // one step: cache.length = S + 1
 * });
 * cache.dispose();
 * ```
 */
export class KVCache {
  readonly #pair = new GrowingPair('KVCache.append', 2, ['keys', 'values']);

  /** Number of positions held (T). */
  get length(): number {
    return this.#pair.length;
  }

  /** Keys [B, KVH, T, Dh], or null when empty. */
  get keys(): Tensor | null {
    return this.#pair.first;
  }

  /** Values [B, KVH, T, Dv], or null when empty. */
  get values(): Tensor | null {
    return this.#pair.second;
  }

  /**
   * Appends keys [B, KVH, S, Dh] and values [B, KVH, S, Dv] after the positions held and returns the whole
   * cache ([B, KVH, T + S, ...]). The returned tensors belong to the cache: do not dispose them.
   */
  append(keys: Tensor, values: Tensor): { keys: Tensor; values: Tensor } {
    checkTensorArg('KVCache.append', keys, 'keys');
    checkTensorArg('KVCache.append', values, 'values');
    const [b, h, s] = keys.shape;
    if (
      keys.rank !== 4 ||
      values.rank !== 4 ||
      values.shape[0] !== b ||
      values.shape[1] !== h ||
      values.shape[2] !== s
    ) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        'KVCache.append',
        `needs keys [B, KVH, S, Dh] and values [B, KVH, S, Dv], got ${fmtShape(keys.shape)} and ${fmtShape(values.shape)}`,
      );
    }
    const [k, v] = this.#pair.append(keys, values);
    return { keys: k, values: v };
  }

  /** Empties the cache (disposing what it held). */
  reset(): void {
    this.#pair.reset();
  }

  dispose(): void {
    this.reset();
  }

  [Symbol.dispose](): void {
    this.reset();
  }
}

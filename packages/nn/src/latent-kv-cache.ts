// Shape letters: B batch, S new positions, T positions held, L key/value latent rank, R rotary head width.
import { fmtShape, SwitchyardError, type Tensor } from '@switchyard/tensor';
import { checkChoice, checkOptions, checkTensorArg } from './checks.js';
import { GrowingPair } from './growing-pair.js';

/**
 * How `MultiHeadLatentAttention` attends over a `LatentKVCache`:
 *
 * - `'absorbed'` (DeepSeek-V2 §2.1.2): the key up-projection is folded into the queries and the value
 *   up-projection applied after attention, so attention runs directly over the cached latents, like
 *   multi-query attention with head width L + R. Each step costs O(T·H·(L + R)) instead of re-expanding every
 *   cached latent (O(T·L·H·(N + V))). Equal to the expanded form up to float rounding.
 * - `'expanded'`: the cached latents are expanded to per-head keys and values at every step with the same
 *   operations as the forward without a cache, so decoding reproduces it up to the matmul kernel's rounding.
 */
export type LatentAttentionMode = 'absorbed' | 'expanded';

/**
 * The compressed key/value cache of multi-head latent attention (DeepSeek-V2/V3): per position it holds the
 * normalised key/value latent c_KV [L] and the rotated rotary key [R] shared by the heads, L + R values per
 * token and layer instead of the H·(N + R + V) of expanded keys and values (DeepSeek-V3: 576 instead of
 * 40 960). Pass it to `MultiHeadLatentAttention.forward` as `cache`; `mode` says how attention reads it.
 *
 * The cache owns its tensors (they survive `tidy` scopes) until `reset()` or `dispose()`. Decode under
 * `noGrad` unless you mean to differentiate through the cache.
 *
 * Shapes: latent [B, T, L] and ropeKey [B, T, R], T = `length`.
 *
 * @example
 * ```ts
 * const cache = new LatentKVCache();           // absorbed attention over the latents
 * noGrad(() => {
 *   mla.forward(prompt_BSD, { cache });        // prefill: cache.length = S
 *   mla.forward(nextToken_B1D, { cache });     // one step: cache.length = S + 1
 * });
 * cache.dispose();
 * ```
 */
export class LatentKVCache {
  readonly mode: LatentAttentionMode;
  readonly #pair = new GrowingPair('LatentKVCache.append', 1, ['latent', 'ropeKey']);

  constructor(options: { mode?: LatentAttentionMode } = {}) {
    const opts = checkOptions('LatentKVCache', options, false);
    this.mode = checkChoice('LatentKVCache', 'mode', opts.mode, ['absorbed', 'expanded'], 'absorbed');
  }

  /** Number of positions held (T). */
  get length(): number {
    return this.#pair.length;
  }

  /** Normalised key/value latents [B, T, L], or null when empty. */
  get latent(): Tensor | null {
    return this.#pair.first;
  }

  /** Rotated rotary keys [B, T, R], or null when empty. */
  get ropeKey(): Tensor | null {
    return this.#pair.second;
  }

  /**
   * Appends latents [B, S, L] and rotary keys [B, S, R] after the positions held and returns the whole cache
   * ([B, T + S, ...]). The returned tensors belong to the cache: do not dispose them.
   */
  append(latent: Tensor, ropeKey: Tensor): { latent: Tensor; ropeKey: Tensor } {
    const op = 'LatentKVCache.append';
    checkTensorArg(op, latent, 'latent');
    checkTensorArg(op, ropeKey, 'ropeKey');
    if (
      latent.rank !== 3 ||
      ropeKey.rank !== 3 ||
      latent.shape[0] !== ropeKey.shape[0] ||
      latent.shape[1] !== ropeKey.shape[1]
    ) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        op,
        `needs latent [B, S, L] and ropeKey [B, S, R], got ${fmtShape(latent.shape)} and ${fmtShape(ropeKey.shape)}`,
      );
    }
    const [l, r] = this.#pair.append(latent, ropeKey);
    return { latent: l, ropeKey: r };
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

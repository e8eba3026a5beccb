// Shape letters: D model width, F expert hidden width, E experts.
import type { MoELayer } from '@switchyard/moe';
import type { TransformerLM } from '@switchyard/presets';
import { SwitchyardError } from '@switchyard/tensor';
import { ExpertCache, type ExpertCacheStats } from './expert-cache.js';
import { type ExpertLayerInfo, type ExpertStore, findLayer } from './expert-store.js';
import { HostExpertStore } from './host-expert-store.js';
import { layerInfo, moeBlocks, stackedExperts } from './moe-blocks.js';

const OP = 'offloadExperts';

export interface OffloadOptions {
  /**
   * Where the experts live off the device. Default: a `HostExpertStore` copied from the model, which the
   * offload then owns (closes on `dispose`); a store you pass stays yours to close.
   */
  store?: ExpertStore;
  /** Device bytes the expert cache may hold (at least the largest expert). */
  budgetBytes: number;
  /**
   * Prefetch from the routers (default true): the next MoE layer's likely experts (its router applied to the
   * current layer's hidden state) start loading while the current layer computes. Each layer's active
   * experts are always requested together, so their uploads overlap.
   */
  prefetch?: boolean;
  /**
   * Free the model's own device copy of the expert weights (default true), so only the cache's budget of
   * experts is ever on the device. The model's `forward` cannot run its MoE layers afterwards; `generate`
   * with this offload can.
   */
  release?: boolean;
}

/**
 * A model's experts kept off the device and brought in on demand: the store, the LRU `ExpertCache` under
 * the byte budget, and each MoE layer's place in the store. Pass it to `generate` as `offload`.
 */
export class ExpertOffload {
  readonly model: TransformerLM;
  readonly store: ExpertStore;
  readonly cache: ExpertCache;
  readonly prefetch: boolean;
  readonly #layers: Map<MoELayer, ExpertLayerInfo>;
  readonly #ownsStore: boolean;

  /** Made by `offloadExperts`, which checks the store against the model. */
  constructor(parts: {
    model: TransformerLM;
    store: ExpertStore;
    ownsStore: boolean;
    cache: ExpertCache;
    prefetch: boolean;
    layers: Map<MoELayer, ExpertLayerInfo>;
  }) {
    this.model = parts.model;
    this.store = parts.store;
    this.#ownsStore = parts.ownsStore;
    this.cache = parts.cache;
    this.prefetch = parts.prefetch;
    this.#layers = parts.layers;
  }

  /** Where an MoE layer of the model finds its experts in the store, or undefined for another layer. */
  layerOf(moe: MoELayer): ExpertLayerInfo | undefined {
    return this.#layers.get(moe);
  }

  /** The cache's counters: hit rate, bytes moved, evictions, peak bytes. */
  stats(): ExpertCacheStats {
    return this.cache.stats();
  }

  /** Frees the experts on the device, and closes the store if the offload made it. */
  async dispose(): Promise<void> {
    await this.cache.clear();
    if (this.#ownsStore) await this.store.close();
  }
}

/**
 * Keeps the experts of `model` off the device: every MoE layer's experts are read from `store` (by default
 * a host-memory copy of the model's own) into an LRU cache of at most `budgetBytes` on the device, so a model
 * whose experts do not fit in device memory still generates. With `release` (default) the model's own device
 * copy of the experts is freed. The store must hold every MoE layer of the model with matching sizes.
 *
 * Generation with and without offloading computes the same tokens (each expert's rows go through the same
 * grouped matmul). Cache statistics (hit rate, bytes moved) come from `offload.stats()` and with each
 * `generate` result.
 *
 * @example
 * ```ts
 * const offload = await offloadExperts(model, { budgetBytes: 2 ** 20 }); // 1 MiB of experts on the device
 * const { tokens, experts } = await generate(model, [[1, 2, 3]], { maxNewTokens: 8, offload });
 * experts?.hitRate; experts?.bytesMoved;
 * ```
 */
export async function offloadExperts(model: TransformerLM, options: OffloadOptions): Promise<ExpertOffload> {
  if (options === null || typeof options !== 'object') {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      OP,
      'options must be { budgetBytes, store?, prefetch?, release? }',
    );
  }
  const blocks = moeBlocks(model);
  if (blocks.length === 0)
    throw new SwitchyardError('INVALID_ARGUMENT', OP, 'the model has no MoE layers to offload');
  const experts = blocks.map((entry) => stackedExperts(entry, OP));
  const store = options.store ?? (await HostExpertStore.fromModel(model));
  const layers = new Map<MoELayer, ExpertLayerInfo>();
  blocks.forEach((entry, i) => {
    const held = findLayer(store, entry.stack, entry.layer, OP);
    const own = layerInfo(entry, experts[i]!);
    const fields = ['numExperts', 'dModel', 'dHidden', 'gated', 'dtype'] as const;
    const differ = fields.filter((f) => held[f] !== own[f]);
    if (differ.length > 0) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        OP,
        `${entry.stack} block ${entry.layer}: the store's experts differ from the model's in ${differ.map((f) => `${f} (${held[f]} vs ${own[f]})`).join(', ')}`,
      );
    }
    layers.set(entry.moe, held);
  });
  const cache = new ExpertCache(store, { budgetBytes: options.budgetBytes });
  if (options.release ?? true) {
    for (const e of experts) for (const w of [e.w1, e.w2, e.w3]) w?.dispose();
  }
  return new ExpertOffload({
    model,
    store,
    ownsStore: options.store === undefined,
    cache,
    prefetch: options.prefetch ?? true,
    layers,
  });
}

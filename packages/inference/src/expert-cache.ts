// Shape letters: D model width, F expert hidden width.
import { fromHost, keep, SwitchyardError, type Tensor } from '@switchyard/tensor';
import {
  checkHostExpert,
  type ExpertLayerInfo,
  type ExpertStore,
  expertBytes,
  expertKey,
} from './expert-store.js';

/** One expert on the device, shaped for `groupedMatmul` with one group: w1 [1, D, F], w2 [1, F, D], w3. */
export interface DeviceExpert {
  readonly w1: Tensor;
  readonly w2: Tensor;
  readonly w3: Tensor | null;
}

/** What the cache did, counted since it was made (or since `resetStats`). */
export interface ExpertCacheStats {
  /** Experts the forward asked for. */
  requests: number;
  /** Requests found on the device, including those a prefetch brought. */
  hits: number;
  /** Of the hits, those a prefetch brought (or was bringing) before the first request. */
  prefetchHits: number;
  /** Requests that had to load from the store. */
  misses: number;
  /** hits / requests (0 when nothing was requested). */
  hitRate: number;
  /** Speculative loads started by `prefetch` (the next MoE layer's likely experts). */
  prefetches: number;
  /** Prefetched experts evicted before any request used them. */
  wastedPrefetches: number;
  /** Experts evicted to make room. */
  evictions: number;
  /** Bytes uploaded from the store to the device (every load, prefetches included). */
  bytesMoved: number;
  /** Bytes of experts on the device (or being uploaded) now. */
  residentBytes: number;
  /** The most bytes ever resident at once: never above the budget. */
  peakBytes: number;
  /** The device byte budget. */
  budgetBytes: number;
}

interface Entry {
  readonly key: string;
  readonly bytes: number;
  /** Settles when the expert is on the device (never rejects: a failure is kept in `error`). */
  ready: Promise<void>;
  weights: DeviceExpert | null;
  error: unknown;
  pins: number;
  /** Loaded by a prefetch and not requested since. */
  prefetched: boolean;
  /** Loaded by `fetch` for a request about to come (which counts as a miss). */
  demanded: boolean;
}

function zeroStats(budgetBytes: number): ExpertCacheStats {
  return {
    requests: 0,
    hits: 0,
    prefetchHits: 0,
    misses: 0,
    hitRate: 0,
    prefetches: 0,
    wastedPrefetches: 0,
    evictions: 0,
    bytesMoved: 0,
    residentBytes: 0,
    peakBytes: 0,
    budgetBytes,
  };
}

/**
 * A least-recently-used cache of experts on the device under a byte budget, filled from an `ExpertStore`
 * on demand. `acquire` returns an expert's device weights (loading it, and evicting the least recently used
 * experts that are neither in use nor protected, when it is not resident); `prefetch` starts loads ahead of
 * use without ever evicting protected experts, and skips what does not fit. The budget only has to hold the
 * largest single expert: with less room than a layer's active experts, they take turns.
 *
 * @example
 * ```ts
 * const cache = new ExpertCache(store, { budgetBytes: 8 * 2 ** 20 });
 * const w = await cache.acquire(info, 3);   // expert 3 of the layer, on the device
 * // ... compute with w.w1, w.w2, w.w3 ...
 * cache.release(info, 3);
 * cache.stats(); // { requests: 1, misses: 1, bytesMoved: ..., ... }
 * ```
 */
export class ExpertCache {
  readonly store: ExpertStore;
  readonly budgetBytes: number;
  /** Entries in least- to most-recently used order. */
  readonly #entries = new Map<string, Entry>();
  #stats: ExpertCacheStats;
  #resident = 0;

  constructor(store: ExpertStore, options: { budgetBytes: number }) {
    const op = 'ExpertCache';
    if (store === null || typeof store !== 'object' || typeof store.read !== 'function') {
      throw new SwitchyardError('INVALID_ARGUMENT', op, 'store must be an ExpertStore');
    }
    const budget = options?.budgetBytes;
    if (typeof budget !== 'number' || !Number.isFinite(budget) || budget <= 0) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        op,
        `budgetBytes must be a positive number, got ${String(budget)}`,
      );
    }
    const largest = Math.max(0, ...store.layers.map(expertBytes));
    if (largest > budget) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        op,
        `budgetBytes ${budget} cannot hold one expert: the largest takes ${largest} bytes`,
      );
    }
    this.store = store;
    this.budgetBytes = budget;
    this.#stats = zeroStats(budget);
  }

  /** Whether an expert is on the device (or being uploaded) now. */
  has(info: ExpertLayerInfo, expert: number): boolean {
    return this.#entries.has(expertKey(info.stack, info.layer, expert));
  }

  /**
   * The device weights of expert `expert` of a layer, pinned until `release`: resident experts are hits,
   * others load from the store (evicting unpinned experts, protected ones last, and waiting for uploads in
   * flight when nothing else can go). `protect` lists keys (`expertKey`) that eviction spares while it can.
   */
  async acquire(
    info: ExpertLayerInfo,
    expert: number,
    protect: ReadonlySet<string> = new Set(),
  ): Promise<DeviceExpert> {
    const key = expertKey(info.stack, info.layer, expert);
    this.#stats.requests++;
    let entry = this.#entries.get(key);
    if (entry?.demanded) {
      this.#stats.misses++;
      entry.demanded = false;
      this.#touch(entry);
    } else if (entry) {
      this.#stats.hits++;
      if (entry.prefetched) this.#stats.prefetchHits++;
      entry.prefetched = false;
      this.#touch(entry);
    } else {
      this.#stats.misses++;
      entry = await this.#reserve(info, expert, protect);
    }
    entry.pins++;
    await entry.ready;
    if (entry.error !== null) {
      entry.pins--;
      this.#drop(entry);
      throw entry.error;
    }
    return entry.weights as DeviceExpert;
  }

  /** Unpins an expert `acquire` returned; it stays resident until evicted. */
  release(info: ExpertLayerInfo, expert: number): void {
    const entry = this.#entries.get(expertKey(info.stack, info.layer, expert));
    if (!entry || entry.pins === 0) {
      throw new SwitchyardError(
        'INTERNAL',
        'ExpertCache.release',
        `expert ${expert} of ${info.stack} block ${info.layer} is not acquired`,
      );
    }
    entry.pins--;
  }

  /**
   * Speculatively starts loading experts of a layer that are not resident (the next layer's likely experts),
   * in order, while they fit without evicting a protected or pinned expert; the rest are skipped. A later
   * request finds them as hits (`prefetchHits`). Returns how many loads it started.
   */
  prefetch(
    info: ExpertLayerInfo,
    experts: readonly number[],
    protect: ReadonlySet<string> = new Set(),
  ): number {
    return this.#start(info, experts, protect, 'prefetch');
  }

  /**
   * Starts loading experts of a layer that are about to be requested, in order, while they fit as `prefetch`
   * does, so their uploads overlap; each request of one counts as a miss, as it was not resident. Returns how
   * many loads it started.
   */
  fetch(info: ExpertLayerInfo, experts: readonly number[], protect: ReadonlySet<string> = new Set()): number {
    return this.#start(info, experts, protect, 'demand');
  }

  #start(
    info: ExpertLayerInfo,
    experts: readonly number[],
    protect: ReadonlySet<string>,
    why: 'prefetch' | 'demand',
  ): number {
    let started = 0;
    for (const expert of experts) {
      if (this.#entries.has(expertKey(info.stack, info.layer, expert))) continue;
      if (!this.#evictFor(expertBytes(info), protect, false)) break;
      const entry = this.#load(info, expert, why === 'prefetch');
      entry.demanded = why === 'demand';
      started++;
    }
    return started;
  }

  /** A snapshot of the counters. */
  stats(): ExpertCacheStats {
    const s = this.#stats;
    return { ...s, hitRate: s.requests === 0 ? 0 : s.hits / s.requests, residentBytes: this.#resident };
  }

  /** Zeroes the counters (the resident experts stay; the peak restarts from what is resident). */
  resetStats(): void {
    this.#stats = zeroStats(this.budgetBytes);
    this.#stats.peakBytes = this.#resident;
  }

  /** Frees every resident expert (waiting for uploads in flight). */
  async clear(): Promise<void> {
    await Promise.all([...this.#entries.values()].map((e) => e.ready));
    for (const entry of [...this.#entries.values()]) this.#drop(entry);
  }

  #touch(entry: Entry): void {
    this.#entries.delete(entry.key);
    this.#entries.set(entry.key, entry);
  }

  #drop(entry: Entry): void {
    if (this.#entries.get(entry.key) !== entry) return;
    this.#entries.delete(entry.key);
    this.#resident -= entry.bytes;
    for (const t of [entry.weights?.w1, entry.weights?.w2, entry.weights?.w3]) t?.dispose();
    entry.weights = null;
  }

  /**
   * Evicts ready, unpinned experts in LRU order (unprotected ones; with `force`, protected ones after them)
   * until `bytes` more fit. Returns whether they fit.
   */
  #evictFor(bytes: number, protect: ReadonlySet<string>, force: boolean): boolean {
    const fits = () => this.#resident + bytes <= this.budgetBytes;
    const rounds = force ? [false, true] : [false];
    for (const includeProtected of rounds) {
      for (const entry of [...this.#entries.values()]) {
        if (fits()) return true;
        const idle = entry.weights !== null && entry.pins === 0;
        if (!idle || (protect.has(entry.key) && !includeProtected)) continue;
        if (entry.prefetched) this.#stats.wastedPrefetches++;
        this.#stats.evictions++;
        this.#drop(entry);
      }
    }
    return fits();
  }

  /**
   * The entry of an expert that is not resident: evicts until it fits, waiting for uploads in flight to become
   * evictable when nothing else can go, then starts the upload in the same synchronous step as the last check
   * (so no other caller can take the room in between). A prefetch of the same expert started meanwhile is reused.
   */
  async #reserve(info: ExpertLayerInfo, expert: number, protect: ReadonlySet<string>): Promise<Entry> {
    const key = expertKey(info.stack, info.layer, expert);
    for (;;) {
      const existing = this.#entries.get(key);
      if (existing) return existing;
      if (this.#evictFor(expertBytes(info), protect, true)) return this.#load(info, expert, false);
      const inFlight = [...this.#entries.values()].filter((e) => e.weights === null && e.error === null);
      if (inFlight.length === 0) {
        throw new SwitchyardError(
          'INTERNAL',
          'ExpertCache',
          `cannot free ${expertBytes(info)} bytes: every resident expert is in use (budget ${this.budgetBytes})`,
        );
      }
      await Promise.race(inFlight.map((e) => e.ready));
    }
  }

  /** Reserves an entry and starts its upload. */
  #load(info: ExpertLayerInfo, expert: number, prefetched: boolean): Entry {
    const key = expertKey(info.stack, info.layer, expert);
    const bytes = expertBytes(info);
    const entry: Entry = {
      key,
      bytes,
      ready: Promise.resolve(),
      weights: null,
      error: null,
      pins: 0,
      prefetched,
      demanded: false,
    };
    this.#entries.set(key, entry);
    this.#resident += bytes;
    this.#stats.peakBytes = Math.max(this.#stats.peakBytes, this.#resident);
    if (prefetched) this.#stats.prefetches++;
    entry.ready = (async () => {
      try {
        const w = checkHostExpert(info, await this.store.read(info.stack, info.layer, expert), 'ExpertCache');
        const [d, f] = [info.dModel, info.dHidden];
        entry.weights = {
          w1: keep(fromHost(w.w1, [1, d, f], info.dtype)),
          w2: keep(fromHost(w.w2, [1, f, d], info.dtype)),
          w3: w.w3 ? keep(fromHost(w.w3, [1, d, f], info.dtype)) : null,
        };
        this.#stats.bytesMoved += bytes;
      } catch (err) {
        entry.error = err ?? new SwitchyardError('INTERNAL', 'ExpertCache', `loading ${key} failed`);
        if (entry.pins === 0) this.#drop(entry);
      }
    })();
    return entry;
  }
}

// ExpertCache on its own: LRU eviction under the byte budget, protected experts, demand fetches versus
// speculative prefetches, store failures surfacing at the request.
import { liveTensorCount } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import {
  ExpertCache,
  type ExpertLayerInfo,
  type ExpertStore,
  expertBytes,
  expertKey,
  type HostExpert,
} from '../src/index.js';
import { expectRejects } from './helpers.js';

const INFO: ExpertLayerInfo = {
  stack: 'decoder',
  layer: 0,
  numExperts: 6,
  dModel: 2,
  dHidden: 3,
  gated: false,
  dtype: 'f32',
};
const ONE = expertBytes(INFO);

/** A store that counts its reads and can be told to fail one expert. */
class CountingStore implements ExpertStore {
  readonly layers = [INFO];
  reads: number[] = [];
  failing = new Set<number>();

  async read(_stack: string, _layer: number, expert: number): Promise<HostExpert> {
    this.reads.push(expert);
    if (this.failing.has(expert)) throw new Error(`disk error reading expert ${expert}`);
    const w = Float32Array.from({ length: 6 }, (_, i) => expert + i / 10);
    return { w1: w, w2: w, w3: null };
  }

  async close(): Promise<void> {}
}

async function use(cache: ExpertCache, expert: number, protect?: ReadonlySet<string>): Promise<number> {
  const w = await cache.acquire(INFO, expert, protect);
  const first = w.w1.dataSync()[0]!;
  cache.release(INFO, expert);
  return first;
}

describe('ExpertCache', () => {
  it('keeps the most recently used experts within the budget and evicts the least recently used', async () => {
    const before = liveTensorCount();
    const store = new CountingStore();
    const cache = new ExpertCache(store, { budgetBytes: 2 * ONE });
    expect(await use(cache, 0)).toBe(0);
    expect(await use(cache, 1)).toBe(1);
    expect(await use(cache, 0)).toBe(0);
    expect(await use(cache, 2)).toBe(2); // evicts 1, the least recently used
    expect(cache.has(INFO, 0) && cache.has(INFO, 2) && !cache.has(INFO, 1)).toBe(true);
    expect(store.reads).toEqual([0, 1, 2]);
    const s = cache.stats();
    expect(s).toMatchObject({
      requests: 4,
      hits: 1,
      misses: 3,
      evictions: 1,
      bytesMoved: 3 * ONE,
      residentBytes: 2 * ONE,
    });
    expect(s.peakBytes).toBe(2 * ONE);
    expect(s.hitRate).toBeCloseTo(0.25);
    await cache.clear();
    expect(liveTensorCount()).toBe(before);
  });

  it('prefetches count as hits when used and as waste when evicted unused; prefetch never evicts protected experts', async () => {
    const store = new CountingStore();
    const cache = new ExpertCache(store, { budgetBytes: 3 * ONE });
    await use(cache, 0);
    const protect = new Set([expertKey('decoder', 0, 0)]);
    expect(cache.prefetch(INFO, [1, 2, 3], protect)).toBe(2); // room for two; 0 is protected
    expect(cache.has(INFO, 0)).toBe(true);
    expect(await use(cache, 1)).toBe(1);
    expect(await use(cache, 4)).toBe(4); // evicts 0 (unprotected now, least recent) before 2
    expect(await use(cache, 5)).toBe(5); // evicts 2, prefetched and never used
    const s = cache.stats();
    expect(s).toMatchObject({ prefetches: 2, prefetchHits: 1, wastedPrefetches: 1, hits: 1, misses: 3 });
    expect(cache.fetch(INFO, [0], new Set())).toBe(1);
    expect(await use(cache, 0)).toBe(0);
    expect(cache.stats().misses).toBe(4); // a demand fetch is still a miss
    cache.resetStats();
    expect(cache.stats()).toMatchObject({ requests: 0, residentBytes: 3 * ONE, peakBytes: 3 * ONE });
    await cache.clear();
  });

  it('takes turns when the budget holds one expert, and surfaces store failures at the request', async () => {
    const store = new CountingStore();
    const cache = new ExpertCache(store, { budgetBytes: ONE });
    for (const e of [0, 1, 2, 1]) expect(await use(cache, e)).toBe(e);
    expect(cache.stats()).toMatchObject({ misses: 4, evictions: 3, peakBytes: ONE });
    store.failing.add(3);
    // No room: 1 fills the budget and is protected.
    expect(cache.prefetch(INFO, [3], new Set([expertKey('decoder', 0, 1)]))).toBe(0);
    expect(cache.prefetch(INFO, [3])).toBe(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(cache.has(INFO, 3)).toBe(false); // the failed prefetch was dropped, silently
    let message = '';
    await cache.acquire(INFO, 3).catch((err: Error) => {
      message = err.message;
    });
    expect(message).toBe('disk error reading expert 3');
    expect(cache.stats().residentBytes).toBe(0);
    expect(() => cache.release(INFO, 0)).toThrow(/is not acquired/);
    await expectRejects(
      Promise.resolve().then(() => new ExpertCache(store, { budgetBytes: ONE - 1 })),
      'INVALID_ARGUMENT',
      /cannot hold one expert/,
    );
    await expectRejects(
      Promise.resolve().then(() => new ExpertCache(store, { budgetBytes: 0 })),
      'INVALID_ARGUMENT',
      /positive number/,
    );
  });
});

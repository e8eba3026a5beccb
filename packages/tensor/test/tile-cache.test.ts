// Tuned matmul tiles persist: the ready-made caches (memory, Web Storage, a JSON file for Node) keep string
// entries and survive bad input without crashing, and a WebGPU backend given a file cache writes its tuned
// tile under the adapter's identity and, in a later session, reads it back instead of tuning again.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TILE_CANDIDATES } from '../src/backends/webgpu/kernels/linalg.js';
import { clearTunedTiles, tileCacheKey, tileName } from '../src/backends/webgpu/kernels/matmul-tuner.js';
import { getBackend, setBackend } from '../src/engine.js';
import {
  fileTileCache,
  localStorageTileCache,
  matmul,
  memoryTileCache,
  type TileCache,
} from '../src/index.js';
import { Generator } from '../src/random.js';
import { webgpuForTests } from '../src/testing/webgpu-for-tests.js';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-tiles-'));

describe('tile caches', () => {
  it('memoryTileCache keeps what it is given', () => {
    const cache = memoryTileCache();
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', '64x64/4x4/k16');
    expect(cache.get('a')).toBe('64x64/4x4/k16');
  });

  it('localStorageTileCache reads and writes the storage and ignores a storage that refuses', () => {
    const items = new Map<string, string>();
    const storage = {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: (k: string, v: string) => void items.set(k, v),
    };
    const cache = localStorageTileCache(storage);
    expect(cache.get('k')).toBeUndefined();
    cache.set('k', 'v');
    expect(items.get('k')).toBe('v');
    expect(cache.get('k')).toBe('v');
    const refusing = localStorageTileCache({
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
    });
    expect(() => refusing.set('k', 'v')).not.toThrow();
    expect(refusing.get('k')).toBeUndefined();
    expect(() => localStorageTileCache()).toThrow(
      '[localStorageTileCache] this environment has no localStorage',
    );
  });

  it('fileTileCache round-trips through the file and merges with entries written meanwhile', async () => {
    const path = join(dir, 'nested', 'tiles.json');
    const first = await fileTileCache(path);
    expect(first.get('a')).toBeUndefined();
    first.set('a', '1');
    const second = await fileTileCache(path);
    expect(second.get('a')).toBe('1');
    second.set('b', '2');
    first.set('c', '3'); // first never saw b, but keeps it in the file
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ a: '1', b: '2', c: '3' });
  });

  it('fileTileCache starts empty on a malformed file and ignores entries that are not strings', async () => {
    const path = join(dir, 'bad.json');
    for (const text of ['{ not json', '[1, 2]', 'null', '"a string"']) {
      writeFileSync(path, text);
      expect((await fileTileCache(path)).get('0')).toBeUndefined();
    }
    writeFileSync(path, '{"good": "64x64/4x4/k16", "number": 3, "nested": {"a": "b"}, "__proto__": "x"}');
    const cache = await fileTileCache(path);
    expect(cache.get('good')).toBe('64x64/4x4/k16');
    expect(cache.get('number')).toBeUndefined();
    expect(cache.get('nested')).toBeUndefined();
    expect(cache.get('__proto__')).toBe('x'); // plain data, not a prototype
    cache.set('more', 'v');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ good: '64x64/4x4/k16', more: 'v' });
  });

  it('fileTileCache keeps entries in memory when the file cannot be written', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, '');
    const cache = await fileTileCache(join(blocker, 'tiles.json')); // a directory that is a file
    expect(() => cache.set('k', 'v')).not.toThrow();
    expect(cache.get('k')).toBe('v');
  });
});

/** A file cache that can be reopened (a new session) and counts the tuner's reads and writes. */
const path = join(dir, 'backend-tiles.json');
let session = await fileTileCache(path);
const calls = { get: 0, set: 0 };
const counting: TileCache = {
  get(key) {
    calls.get++;
    return session.get(key);
  },
  set(key, value) {
    calls.set++;
    session.set(key, value);
  },
};
const gpu = await webgpuForTests('tile cache WebGPU tests', { tuneMatmul: true, tileCache: counting });

describe.runIf(gpu !== null)(
  `a WebGPU backend with a file tile cache (${gpu?.describe() ?? 'unavailable'})`,
  () => {
    afterAll(() => {
      clearTunedTiles();
      gpu?.destroy();
    });

    it('writes the tuned tile under the adapter identity, then reads it back instead of tuning', async () => {
      if (!gpu) return;
      clearTunedTiles();
      const previous = getBackend();
      setBackend(gpu);
      try {
        const product = async (m: number, n: number, k: number) => {
          const g = new Generator(m);
          const y = matmul(g.uniform([m, k]), g.uniform([k, n]));
          await y.data();
          y.dispose();
        };
        // 2·64·64·64 flops: above the tuning threshold, tiny for SwiftShader.
        await product(64, 64, 64);
        await gpu.whenTuned();
        const key = tileCacheKey({ adapter: gpu.info.identity, candidates: TILE_CANDIDATES }, 64, 64, 64);
        const stored = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
        expect(Object.keys(stored)).toEqual([key]);
        expect(TILE_CANDIDATES.map(tileName)).toContain(stored[key]);
        expect(calls.set).toBe(1);
        // A new session: nothing tuned in memory, the cache reopened from the file.
        clearTunedTiles();
        session = await fileTileCache(path);
        const gets = calls.get;
        await product(60, 50, 40); // the same shape class
        await gpu.whenTuned();
        expect(calls.get).toBe(gets + 1);
        expect(calls.set).toBe(1);
      } finally {
        setBackend(previous);
      }
    });
  },
);

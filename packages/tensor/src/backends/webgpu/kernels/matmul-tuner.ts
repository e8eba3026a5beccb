import { META_SLOTS } from '../runtime.js';
import { memoryTileCache, type TileCache } from '../tile-cache.js';
import { type TileConfig, workgroupBytes } from './linalg.js';

/**
 * Picks the matmul tile configuration per (adapter, shape class) by timing a small candidate set on the
 * device, once, in the background: a kernel call never waits for it. Until a class is tuned (and always for
 * shapes below `TUNE_MIN_FLOPS`, where launch overhead dominates) the caller's default tile is used. Tuning runs on
 * its own buffers, uniforms, pipelines and command buffers, inside error scopes, so it never touches the
 * runtime's pool, batch or error state. Winners are written to a `TileCache` (by default one in memory,
 * shared by this process) and read back from it, so a cache that persists (a file, localStorage) spares
 * later sessions the tuning.
 */
export const TUNE_MIN_FLOPS = 2 ** 18;
/** Tuning times the class on its first shape, each side clamped to this. */
const TUNE_MAX_SIDE = 1024;
const REPS = 3;
/** The format of cache entries: keys `version|candidates|adapter|class`, values `tileName`s. */
const CACHE_VERSION = 'switchyard.matmulTile.v1';

/** A tile's name, as caches store it: `bm x bn / rm x rn / k tk`, then `/vec4` for vec4 tiles. */
export const tileName = (c: TileConfig): string =>
  `${c.bm}x${c.bn}/${c.rm}x${c.rn}/k${c.tk}${c.vec4 ? '/vec4' : ''}`;

/** The cache of the setups that name none. */
let processCache = memoryTileCache();
/** Winners tuned in this process or read from a cache, by cache key. */
const tuned = new Map<string, TileConfig>();
const pending = new Map<string, Promise<TileConfig>>();
/** The keys already looked up in each cache: a miss is not asked again. */
let looked = new WeakMap<TileCache, Set<string>>();

const bucket = (x: number): number => (x <= 32 ? 0 : x <= 128 ? 1 : x <= 512 ? 2 : 3);

/** The shape class of an M x K by K x N product: each side bucketed at 32, 128 and 512. */
export function shapeClass(m: number, n: number, k: number): string {
  return `${bucket(m)}${bucket(n)}${bucket(k)}`;
}

export interface TunerSetup {
  device: GPUDevice;
  /** The adapter's identity (`GpuDeviceInfo.identity`): winners are kept per adapter. */
  adapter: string;
  candidates: readonly TileConfig[];
  /** What a failed tuning run settles on. */
  fallback: TileConfig;
  /** WGSL of the plain (untransposed, unbatched) matmul: meta slots m, n, k at 0..2, batch rank at 3. */
  code(c: TileConfig): string;
  /** Where winners are kept and looked up. Default: an in-memory cache shared by this process. */
  cache?: TileCache;
}

const candidateSets = new WeakMap<readonly TileConfig[], string>();

/** 32-bit FNV-1a of the candidates' names, in hex: entries tuned over another candidate set never match. */
function candidateSet(candidates: readonly TileConfig[]): string {
  let id = candidateSets.get(candidates);
  if (id === undefined) {
    let h = 0x811c9dc5;
    for (const ch of candidates.map(tileName).join(',')) {
      h = Math.imul(h ^ (ch.codePointAt(0) as number), 0x01000193);
    }
    id = (h >>> 0).toString(16).padStart(8, '0');
    candidateSets.set(candidates, id);
  }
  return id;
}

/** The cache key of the class of (m, n, k) on the setup's adapter and candidate set. */
export function tileCacheKey(
  s: Pick<TunerSetup, 'adapter' | 'candidates'>,
  m: number,
  n: number,
  k: number,
): string {
  return `${CACHE_VERSION}|${candidateSet(s.candidates)}|${s.adapter}|${shapeClass(m, n, k)}`;
}

/** Whether the device runs the tile: its threads and its workgroup memory within the limits. */
function fits(device: GPUDevice, c: TileConfig): boolean {
  const limits = device.limits;
  return (
    (c.bm / c.rm) * (c.bn / c.rn) <= limits.maxComputeInvocationsPerWorkgroup &&
    workgroupBytes(c) <= limits.maxComputeWorkgroupStorageSize
  );
}

/** The cache's entry for `key` when it names a candidate the device runs (anything else is ignored). */
function cached(s: TunerSetup, key: string): TileConfig | undefined {
  const cache = s.cache ?? processCache;
  let keys = looked.get(cache);
  if (!keys) looked.set(cache, (keys = new Set()));
  if (keys.has(key)) return undefined;
  keys.add(key);
  let value: string | undefined;
  try {
    value = cache.get(key);
  } catch {
    return undefined;
  }
  return s.candidates.find((c) => tileName(c) === value && fits(s.device, c));
}

/** The tuned configuration of a class (from this process or the setup's cache), or undefined. */
export function tunedTile(s: TunerSetup, m: number, n: number, k: number): TileConfig | undefined {
  const key = tileCacheKey(s, m, n, k);
  let tile = tuned.get(key);
  if (!tile) {
    tile = cached(s, key);
    if (tile) tuned.set(key, tile);
  }
  return tile;
}

/** Forgets every tuned class and empties the default cache (tests). */
export function clearTunedTiles(): void {
  tuned.clear();
  processCache = memoryTileCache();
  looked = new WeakMap();
}

/** Resolves when the tuning runs started so far have finished (tests). */
export async function whenTuned(): Promise<void> {
  await Promise.all(pending.values());
}

/**
 * Starts tuning the class of (m, n, k) unless it is tuned, cached or being tuned; resolves to the winner,
 * which is written to the cache. Failures (a lost device, a candidate the adapter rejects) fall back to the
 * candidates that ran, or the heuristic, which is used in this process but not cached.
 */
export function tuneTile(s: TunerSetup, m: number, n: number, k: number): Promise<TileConfig> {
  const done = tunedTile(s, m, n, k);
  if (done) return Promise.resolve(done);
  const key = tileCacheKey(s, m, n, k);
  let p = pending.get(key);
  if (!p) {
    const [tm, tn, tk] = [m, n, k].map((x) => Math.max(1, Math.min(x, TUNE_MAX_SIDE))) as [
      number,
      number,
      number,
    ];
    p = timeCandidates(s, tm, tn, tk)
      .then(
        (c) => {
          try {
            (s.cache ?? processCache).set(key, tileName(c));
          } catch {
            // A cache that cannot store: the winner still serves this process.
          }
          return c;
        },
        () => s.fallback,
      )
      .then((c) => {
        tuned.set(key, c);
        pending.delete(key);
        return c;
      });
    pending.set(key, p);
  }
  return p;
}

const STORAGE = 0x0080 | 0x0004 | 0x0008;
const UNIFORM = 0x0040 | 0x0008;

async function timeCandidates(s: TunerSetup, m: number, n: number, k: number): Promise<TileConfig> {
  const { device } = s;
  const buffers: GPUBuffer[] = [];
  const buffer = (words: number, usage: number) => {
    const b = device.createBuffer({ size: Math.max(16, words * 4), usage });
    buffers.push(b);
    return b;
  };
  let best: { c: TileConfig; ms: number } | undefined;
  try {
    const a = buffer(m * k, STORAGE);
    const b = buffer(k * n, STORAGE);
    const y = buffer(m * n, STORAGE);
    const meta = new Uint32Array(META_SLOTS);
    meta.set([m, n, k, 0]);
    for (const c of s.candidates.filter((c) => fits(device, c))) {
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ code: s.code(c) });
      const pipeline = device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      const uniforms = buffer(META_SLOTS, UNIFORM);
      device.queue.writeBuffer(uniforms, 0, meta);
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [uniforms, a, b, y].map((buf, binding) => ({ binding, resource: { buffer: buf } })),
      });
      const run = async (reps: number) => {
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        for (let r = 0; r < reps; r++) pass.dispatchWorkgroups(Math.ceil(n / c.bn), Math.ceil(m / c.bm), 1);
        pass.end();
        const t0 = performance.now();
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
        return (performance.now() - t0) / reps;
      };
      const warm = run(1);
      const error = await device.popErrorScope();
      await warm;
      if (error) continue;
      const ms = Math.min(await run(REPS), await run(REPS));
      if (!best || ms < best.ms) best = { c, ms };
    }
  } finally {
    for (const b of buffers) b.destroy();
  }
  if (!best) throw new Error('no tile configuration ran');
  return best.c;
}

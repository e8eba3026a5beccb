// The WebGPU matmul, groupedMatmul and groupedMatmulGradW kernels against the CPU kernels, on SwiftShader
// (or whatever adapter Dawn finds). Shapes stay small: SwiftShader runs well under a GFLOP/s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupedMatmulGradWKernel, groupedMatmulKernel, matmulKernel } from '../src/backends/cpu/matmul.js';
import { type GpuDeviceInfo, requestGpuDevice } from '../src/backends/webgpu/device.js';
import {
  DEFAULT_TILE,
  linalgKernels,
  matmulCode,
  SOFTWARE_TILE,
  TILE_CANDIDATES,
  type TileConfig,
  workgroupBytes,
} from '../src/backends/webgpu/kernels/linalg.js';
import {
  clearTunedTiles,
  shapeClass,
  type TunerSetup,
  tileCacheKey,
  tileName,
  tunedTile,
  tuneTile,
} from '../src/backends/webgpu/kernels/matmul-tuner.js';
import { GpuRuntime } from '../src/backends/webgpu/runtime.js';
import { memoryTileCache, type TileCache } from '../src/backends/webgpu/tile-cache.js';
import { broadcastShapes, sizeOf } from '../src/shape.js';

let info: GpuDeviceInfo;
let rt: GpuRuntime;
let kernels: Kernels;

beforeAll(async () => {
  process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
  info = await requestGpuDevice();
  rt = new GpuRuntime(info.device);
  kernels = linalgKernels(rt, { tune: false });
}, 60_000);

afterAll(() => {
  rt?.trim();
  info?.destroy();
});

/** What the kernels hand the tuner, for an adapter of the given identity. */
function tunerSetup(adapter: string, cache?: TileCache): TunerSetup {
  return {
    device: rt.device,
    adapter,
    candidates: TILE_CANDIDATES,
    fallback: DEFAULT_TILE,
    code: (c) => matmulCode(c, false, false),
    ...(cache ? { cache } : {}),
  };
}

/** The runtime seen through a proxy that reports `adapter` and records the last dispatch's grid and WGSL. */
function gridProxy(adapter: string): {
  proxy: GpuRuntime;
  grid: () => readonly (number | undefined)[];
  code: () => string;
} {
  let grid: readonly (number | undefined)[] = [];
  let code = '';
  const proxy = new Proxy(rt, {
    get(target, prop) {
      if (prop === 'adapter') return adapter;
      if (prop === 'pipeline') {
        return (wgsl: string) => {
          code = wgsl;
          return target.pipeline(wgsl);
        };
      }
      if (prop === 'dispatch') {
        return (d: Parameters<GpuRuntime['dispatch']>[0]) => {
          grid = d.workgroups;
          target.dispatch(d);
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { proxy, grid: () => grid, code: () => code };
}

/** Deterministic values in [-1, 1) from a 32-bit LCG. */
function lcg(seed: number, n: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

async function readF32(buffer: GPUBuffer, n: number): Promise<Float32Array> {
  const out = n === 0 ? new Float32Array(0) : new Float32Array(await rt.read(buffer, n * 4));
  rt.free(buffer);
  return out;
}

/** Largest |gpu - cpu| relative to (1 + |cpu|); f32 sums of K terms in a different order. */
function maxErr(gpu: Float32Array, cpu: ArrayLike<number>): number {
  expect(gpu.length).toBe(cpu.length);
  let worst = 0;
  for (let i = 0; i < gpu.length; i++) {
    const c = cpu[i] as number;
    const err = Math.abs((gpu[i] as number) - c) / (1 + Math.abs(c));
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  return worst;
}

const TOL = 1e-5;

type Kernels = ReturnType<typeof linalgKernels>;

async function checkMatmul(
  aShape: number[],
  bShape: number[],
  transA: boolean,
  transB: boolean,
  seed: number,
  table: Kernels = kernels,
): Promise<void> {
  const m = aShape.at(transA ? -1 : -2) as number;
  const k = aShape.at(transA ? -2 : -1) as number;
  const n = bShape.at(transB ? -2 : -1) as number;
  expect(bShape.at(transB ? -1 : -2)).toBe(k);
  const batch = broadcastShapes('matmul', aShape.slice(0, -2), bShape.slice(0, -2));
  const out = { shape: [...batch, m, n], dtype: 'f32' as const };
  const av = lcg(seed, sizeOf(aShape));
  const bv = lcg(seed + 1, sizeOf(bShape));
  const cpu = matmulKernel(
    [
      { data: av, shape: aShape, dtype: 'f32' },
      { data: bv, shape: bShape, dtype: 'f32' },
    ],
    { transA, transB },
    out,
  );
  const ab = rt.upload(av);
  const bb = rt.upload(bv);
  const y = table.matmul(
    [
      { data: ab, shape: aShape, dtype: 'f32' },
      { data: bb, shape: bShape, dtype: 'f32' },
    ],
    { transA, transB },
    out,
  );
  const gpu = await readF32(y, sizeOf(out.shape));
  rt.free(ab);
  rt.free(bb);
  expect(maxErr(gpu, cpu)).toBeLessThan(TOL);
}

/** [..., M, K] (or [..., K, M]) for the given transpose flag. */
const mat = (batch: number[], rows: number, cols: number, trans: boolean): number[] =>
  trans ? [...batch, cols, rows] : [...batch, rows, cols];

describe('webgpu matmul', () => {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const tag = `transA=${transA} transB=${transB}`;
      it(`${tag}: odd sizes`, async () => {
        const sizes: [number, number, number][] = [
          [1, 1, 1],
          [3, 17, 5],
          [17, 3, 65],
          [65, 130, 17],
          [130, 65, 3],
          [1, 130, 65],
        ];
        for (const [i, [m, k, n]] of sizes.entries()) {
          await checkMatmul(mat([], m, k, transA), mat([], k, n, transB), transA, transB, 10 * i + 1);
        }
      });
      it(`${tag}: broadcast batch axes`, async () => {
        await checkMatmul(mat([2, 1, 3], 4, 5, transA), mat([3], 5, 6, transB), transA, transB, 101);
        await checkMatmul(mat([3], 17, 9, transA), mat([2, 1, 1], 9, 66, transB), transA, transB, 103);
        await checkMatmul(
          mat([2, 1, 2, 1], 3, 2, transA),
          mat([1, 3, 1, 2], 2, 4, transB),
          transA,
          transB,
          105,
        );
      });
    }
  }

  it('K = 0 gives zeros', async () => {
    for (const [transA, transB] of [
      [false, false],
      [true, true],
    ] as const) {
      await checkMatmul(mat([2], 3, 0, transA), mat([2], 0, 70, transB), transA, transB, 201);
    }
  });

  it('M = 0 and N = 0 give empty outputs', async () => {
    await checkMatmul([0, 4], [4, 3], false, false, 301);
    await checkMatmul([2, 3, 4], [4, 0], false, false, 303);
    await checkMatmul([0, 3, 4], [4, 5], false, false, 305);
  });

  it('many batch entries, size-1 axes dropped and contiguous batch axes merged', async () => {
    await checkMatmul([40, 3, 2], [1, 2, 3], false, false, 401);
    await checkMatmul([2, 1, 2, 1, 2, 1, 2, 3, 4], [2, 2, 1, 2, 1, 2, 4, 3], false, false, 403);
    // 7 batch axes, none of size 1: contiguous in both operands, they merge into one.
    await checkMatmul([2, 2, 2, 2, 2, 2, 2, 3, 4], [2, 2, 2, 2, 2, 2, 2, 4, 5], false, false, 405);
    // Broadcast alternating with real axes: 8 axes that cannot merge.
    const [ab, bb] = [rt.alloc(4 * 64), rt.alloc(4 * 64)];
    expect(() =>
      kernels.matmul(
        [
          { data: ab, shape: [2, 1, 2, 1, 2, 1, 2, 1, 2, 2], dtype: 'f32' },
          { data: bb, shape: [1, 2, 1, 2, 1, 2, 1, 2, 2, 2], dtype: 'f32' },
        ],
        { transA: false, transB: false },
        { shape: [2, 2, 2, 2, 2, 2, 2, 2, 2, 2], dtype: 'f32' },
      ),
    ).toThrow(/at most 6 batch axes/);
    rt.free(ab);
    rt.free(bb);
  });

  it('larger tiles with a remainder', async () => {
    await checkMatmul([130, 70], [70, 129], false, false, 501);
  });
});

async function checkGrouped(
  rows: number,
  k: number,
  n: number,
  offsets: number[],
  transW: boolean,
  seed: number,
  table: Kernels = kernels,
): Promise<void> {
  const e = offsets.length - 1;
  const wShape = transW ? [e, n, k] : [e, k, n];
  const xv = lcg(seed, rows * k);
  const wv = lcg(seed + 1, sizeOf(wShape));
  const ov = Int32Array.from(offsets);
  const out = { shape: [rows, n], dtype: 'f32' as const };
  const cpu = groupedMatmulKernel(
    [
      { data: xv, shape: [rows, k], dtype: 'f32' },
      { data: wv, shape: wShape, dtype: 'f32' },
      { data: ov, shape: [e + 1], dtype: 'i32' },
    ],
    { transW },
    out,
  );
  const bufs = [rt.upload(xv), rt.upload(wv), rt.upload(ov)] as const;
  const y = table.groupedMatmul(
    [
      { data: bufs[0], shape: [rows, k], dtype: 'f32' },
      { data: bufs[1], shape: wShape, dtype: 'f32' },
      { data: bufs[2], shape: [e + 1], dtype: 'i32' },
    ],
    { transW },
    out,
  );
  const gpu = await readF32(y, rows * n);
  for (const b of bufs) rt.free(b);
  expect(maxErr(gpu, cpu)).toBeLessThan(TOL);
}

async function checkGradW(
  rows: number,
  k: number,
  n: number,
  offsets: number[],
  seed: number,
  table: Kernels = kernels,
): Promise<void> {
  const e = offsets.length - 1;
  const xv = lcg(seed, rows * k);
  const dyv = lcg(seed + 1, rows * n);
  const ov = Int32Array.from(offsets);
  const out = { shape: [e, k, n], dtype: 'f32' as const };
  const cpu = groupedMatmulGradWKernel(
    [
      { data: xv, shape: [rows, k], dtype: 'f32' },
      { data: dyv, shape: [rows, n], dtype: 'f32' },
      { data: ov, shape: [e + 1], dtype: 'i32' },
    ],
    {},
    out,
  );
  const bufs = [rt.upload(xv), rt.upload(dyv), rt.upload(ov)] as const;
  const dw = table.groupedMatmulGradW(
    [
      { data: bufs[0], shape: [rows, k], dtype: 'f32' },
      { data: bufs[1], shape: [rows, n], dtype: 'f32' },
      { data: bufs[2], shape: [e + 1], dtype: 'i32' },
    ],
    {},
    out,
  );
  const gpu = await readF32(dw, e * k * n);
  for (const b of bufs) rt.free(b);
  expect(maxErr(gpu, cpu)).toBeLessThan(TOL);
}

describe('webgpu groupedMatmul', () => {
  for (const transW of [false, true]) {
    it(`transW=${transW}: an empty segment and rows past offsets[E]`, async () => {
      await checkGrouped(7, 3, 4, [0, 2, 2, 5], transW, 601);
      await checkGrouped(150, 17, 5, [0, 40, 40, 100, 130], transW, 603);
    });
    it(`transW=${transW}: segments straddling tiles, leading empties, many small experts`, async () => {
      await checkGrouped(130, 33, 70, [0, 0, 63, 64, 65, 129, 130], transW, 605);
      await checkGrouped(70, 5, 3, [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 70], transW, 607);
      await checkGrouped(1, 1, 1, [0, 1], transW, 609);
    });
    it(`transW=${transW}: K = 0, R = 0, E = 0, all empty`, async () => {
      await checkGrouped(4, 0, 3, [0, 1, 4], transW, 611);
      await checkGrouped(0, 3, 2, [0, 0, 0], transW, 613);
      await checkGrouped(3, 2, 2, [0], transW, 615);
      await checkGrouped(3, 2, 2, [0, 0, 0], transW, 617);
    });
  }

  it('malformed offsets are clamped (no out-of-bounds reads)', async () => {
    // Clamped like the CPU kernel's segment(); for these the clamped segments are still ordered.
    await checkGrouped(10, 3, 4, [-5, 4, 2, 99], false, 621);
    await checkGrouped(10, 3, 4, [0, 20, 30], true, 623);
  });
});

describe('webgpu groupedMatmulGradW', () => {
  it('segments with an empty one and rows past offsets[E]', async () => {
    await checkGradW(7, 3, 4, [0, 2, 2, 5], 701);
    await checkGradW(150, 17, 66, [0, 40, 40, 100, 130], 703);
    await checkGradW(40, 70, 5, [0, 0, 33, 40], 705);
  });

  it('R = 0, one row, and malformed offsets', async () => {
    await checkGradW(0, 3, 2, [0, 0, 0], 711);
    await checkGradW(1, 1, 1, [0, 1], 713);
    await checkGradW(10, 3, 4, [-5, 4, 2, 99], 715);
  });
});

describe('webgpu linalg grids past the workgroup-count limit', () => {
  /** The kernels on a runtime whose device reports a per-dimension workgroup limit of 2, so grids split. */
  let dispatches = 0;
  function limited(): Kernels {
    const device = { limits: { maxComputeWorkgroupsPerDimension: 2 } };
    const proxy = new Proxy(rt, {
      get(target, prop) {
        if (prop === 'device') return device;
        if (prop === 'dispatch') {
          return (d: Parameters<GpuRuntime['dispatch']>[0]) => {
            dispatches++;
            expect(Math.max(...d.workgroups.map((g) => g ?? 1))).toBeLessThanOrEqual(2);
            target.dispatch(d);
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
      },
    });
    return linalgKernels(proxy, { tile: DEFAULT_TILE });
  }

  it('matmul, groupedMatmul and groupedMatmulGradW split into several dispatches', async () => {
    const table = limited();
    await checkMatmul([5, 130, 3], [1, 3, 150], false, false, 801, table);
    await checkMatmul([5, 3, 130], [5, 150, 3], true, true, 803, table);
    await checkGrouped(200, 5, 130, [0, 10, 10, 150, 190], false, 805, table);
    await checkGradW(60, 130, 140, [0, 10, 10, 30, 50, 55], 807, table);
    // Grids (x, y, z) of (3, 3, 5), (3, 3, 5), (3, 4, 1) and (3, 3, 5) in pieces of at most 2 a side.
    expect(dispatches).toBe(12 + 12 + 4 + 12);
  });
});

describe('webgpu matmul tile candidates', () => {
  for (const tile of TILE_CANDIDATES) {
    const table = () => linalgKernels(rt, { tile });
    it(`${tileName(tile)}: odd shapes, transposes and broadcast batches`, async () => {
      const sizes: [number, number, number][] = [
        [1, 1, 1],
        [3, 17, 5],
        [17, 3, 65],
        [129, 19, 67],
        [67, 33, 130],
      ];
      for (const [transA, transB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        for (const [i, [m, k, n]] of sizes.entries()) {
          await checkMatmul(mat([], m, k, transA), mat([], k, n, transB), transA, transB, 900 + i, table());
        }
        await checkMatmul(mat([2, 1, 3], 5, 9, transA), mat([3], 9, 7, transB), transA, transB, 950, table());
      }
    });
    it(`${tileName(tile)}: groupedMatmul and groupedMatmulGradW with straddling and empty segments`, async () => {
      for (const transW of [false, true]) {
        await checkGrouped(150, 17, 70, [0, 0, 40, 40, 129, 140], transW, 960, table());
        await checkGrouped(7, 3, 4, [0, 2, 2, 5], transW, 962, table());
      }
      await checkGradW(150, 17, 66, [0, 40, 40, 100, 130], 964, table());
      await checkGradW(40, 130, 5, [0, 0, 33, 40], 966, table());
    });
  }

  it('the WGSL of every candidate keeps its accumulators in registers and fits the default limits', () => {
    for (const tile of TILE_CANDIDATES) {
      const code = matmulCode(tile, false, true);
      const [i, j] = [tile.rm - 1, tile.rn - 1];
      expect(code).toContain(`@workgroup_size(${tile.bn / tile.rn}, ${tile.bm / tile.rm})`);
      expect(code).toContain(
        tile.vec4
          ? `acc${i}_${j >> 2} += a${i >> 2}[${i & 3}] * b${j >> 2};`
          : `acc${i}_${j} += a${i} * b${j};`,
      );
      expect((tile.bn / tile.rn) * (tile.bm / tile.rm)).toBeLessThanOrEqual(256);
      expect(workgroupBytes(tile)).toBeLessThanOrEqual(16384);
      if (tile.vec4)
        expect(code).toContain(`var<workgroup> As: array<vec4<f32>, ${(tile.tk * tile.bm) / 4}>;`);
    }
    expect(TILE_CANDIDATES.filter((t) => t.vec4).length).toBeGreaterThan(0);
  });

  it('shape classes bucket each side at 32, 128 and 512', () => {
    expect(shapeClass(10, 200, 2000)).toBe('023');
    expect(shapeClass(33, 128, 512)).toBe('112');
  });

  it('tiny shapes, and a table with tuning off, use the default tile and start no tuning', async () => {
    clearTunedTiles();
    const { proxy, grid } = gridProxy(rt.adapter);
    await checkMatmul([70, 5], [5, 66], false, false, 980, linalgKernels(proxy));
    expect(grid()).toEqual([2, 2, 1]);
    await checkMatmul([130, 70], [70, 129], false, false, 981, linalgKernels(proxy, { tune: false }));
    expect(grid()).toEqual([3, 3, 1]);
    expect(tunedTile(tunerSetup(rt.adapter), 130, 129, 70)).toBeUndefined();
  });

  it('defaultTile serves untuned shapes: the direct tile reads storage without workgroup memory', async () => {
    const { proxy, grid, code } = gridProxy(rt.adapter);
    const table = linalgKernels(proxy, { tune: false, defaultTile: SOFTWARE_TILE });
    await checkMatmul([130, 70], [70, 129], false, false, 982, table);
    expect(grid()).toEqual([3, 3, 1]);
    expect(code()).not.toContain('var<workgroup>');
    expect(code()).toContain(
      `@workgroup_size(${SOFTWARE_TILE.bn / SOFTWARE_TILE.rn}, ${SOFTWARE_TILE.bm / SOFTWARE_TILE.rm})`,
    );
    await checkMatmul([130, 70], [70, 129], false, false, 983, linalgKernels(proxy, { tune: false }));
    expect(code()).toContain('var<workgroup>');
  });

  it('the tuner times the candidates once per (adapter, shape class) and the kernels then use the winner', async () => {
    clearTunedTiles();
    const setup = tunerSetup('test adapter');
    expect(tunedTile(setup, 100, 90, 80)).toBeUndefined();
    const first = tuneTile(setup, 100, 90, 80);
    expect(tuneTile(setup, 101, 91, 81)).toBe(first); // same class: the same pending run
    const winner = await first;
    expect(TILE_CANDIDATES).toContain(winner);
    expect(tunedTile(setup, 120, 70, 100)).toBe(winner);
    expect(tunedTile(tunerSetup('other adapter'), 120, 70, 100)).toBeUndefined();
    // The runtime never saw the tuner's buffers.
    expect(rt.inUseBuffers).toBe(0);
    // A table on a runtime of that adapter picks the tuned tile (its dispatch grid shows which).
    const { proxy, grid } = gridProxy('test adapter');
    await checkMatmul([100, 80], [80, 90], false, false, 970, linalgKernels(proxy));
    expect(grid()).toEqual([Math.ceil(90 / winner.bn), Math.ceil(100 / winner.bm), 1]);
    clearTunedTiles();
  });

  it('the tuner writes its winner to the given cache, under the version, candidate set, adapter and class', async () => {
    clearTunedTiles();
    const cache = memoryTileCache();
    const winner = await tuneTile(tunerSetup('cached adapter', cache), 100, 90, 80);
    const key = tileCacheKey({ adapter: 'cached adapter', candidates: TILE_CANDIDATES }, 100, 90, 80);
    expect(key).toMatch(/^switchyard\.matmulTile\.v1\|[0-9a-f]{8}\|cached adapter\|111$/);
    expect(cache.get(key)).toBe(tileName(winner));
    // Another candidate set has another key: its entries are never read for this one.
    const other = tileCacheKey(
      { adapter: 'cached adapter', candidates: TILE_CANDIDATES.slice(1) },
      100,
      90,
      80,
    );
    expect(other).not.toBe(key);
    clearTunedTiles();
  });

  it('kernels use a cached tile without tuning, and ignore entries that are not current candidates', async () => {
    const smallest = TILE_CANDIDATES[0] as TileConfig;
    const key = tileCacheKey({ adapter: 'test adapter', candidates: TILE_CANDIDATES }, 100, 90, 80);
    const run = async (cache: TileCache) => {
      clearTunedTiles();
      const { proxy, grid } = gridProxy('test adapter');
      const kernels = linalgKernels(proxy, { tune: false, tileCache: cache });
      await checkMatmul([100, 80], [80, 90], false, false, 971, kernels);
      return grid();
    };
    const good = memoryTileCache();
    good.set(key, tileName(smallest));
    expect(await run(good)).toEqual([Math.ceil(90 / smallest.bn), Math.ceil(100 / smallest.bm), 1]);
    const defaultGrid = [Math.ceil(90 / DEFAULT_TILE.bn), Math.ceil(100 / DEFAULT_TILE.bm), 1];
    for (const value of ['garbage', '', '8x8/1x1/k8', `${tileName(smallest)} `]) {
      const bad = memoryTileCache();
      bad.set(key, value);
      expect(await run(bad), value).toEqual(defaultGrid);
    }
    const stale = memoryTileCache();
    stale.set(key.replace('.v1|', '.v0|'), tileName(smallest));
    const fewer = TILE_CANDIDATES.slice(0, 2);
    stale.set(tileCacheKey({ adapter: 'test adapter', candidates: fewer }, 100, 90, 80), tileName(smallest));
    expect(await run(stale)).toEqual(defaultGrid);
    const throwing: TileCache = {
      get: () => {
        throw new Error('unreadable');
      },
      set: () => {
        throw new Error('read-only');
      },
    };
    expect(await run(throwing)).toEqual(defaultGrid);
    clearTunedTiles();
  });
});

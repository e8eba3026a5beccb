// The WebAssembly GEMM, plain SIMD128 and relaxed SIMD, against the JavaScript reference: odd shapes, every
// transpose, batches that reuse packed operands, products large enough to go by chunks, and strided C.
import v8 from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { philoxFill } from '../../philox.js';
import { type GemmBatch, gemmBatch, jsGemmBatch } from './gemm-batch.js';
import { gemmModuleBytes } from './gemm-module.js';
import { compileWasmGemm, type WasmGemm } from './wasm-gemm.js';

// Node 20 has relaxed SIMD behind a flag; turning it on before anything compiles lets this file test that
// variant as well. Newer engines have it on already.
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

function uniform(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  philoxFill(out, 'uniform', seed, 0, 0, -1, 1);
  return out;
}

interface Problem {
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  /** Stored A and B matrices each product uses (repeats reuse packed panels); B defaults to the first. */
  aIndex?: number[];
  bIndex?: number[];
  /** Extra floats after each row of C, which must stay untouched. */
  cPad?: number;
}

/**
 * A batch over fresh operands; C holds NaN, which the products must overwrite and the padding must keep. The
 * JavaScript reference gets a copy of it.
 */
function batchOf({ m, n, k, transA, transB, aIndex = [0], bIndex, cPad = 0 }: Problem): GemmBatch {
  bIndex ??= aIndex.map(() => 0);
  const ldc = n + cPad;
  const c = new Float32Array(aIndex.length * m * ldc).fill(Number.NaN);
  return {
    m,
    n,
    k,
    a: uniform(m * k * (Math.max(...aIndex) + 1), m * 1000 + k),
    aOffsets: aIndex.map((i) => i * m * k),
    aRowStride: transA ? 1 : k,
    aColStride: transA ? m : 1,
    b: uniform(k * n * (Math.max(...bIndex) + 1), n * 1000 + k + 7),
    bOffsets: bIndex.map((i) => i * k * n),
    bRowStride: transB ? 1 : n,
    bColStride: transB ? k : 1,
    c,
    cOffsets: aIndex.map((_, t) => t * m * ldc),
    ldc,
  };
}

/** The wasm product equals the JavaScript one, NaN padding included. */
function expectMatchesReference(gemm: WasmGemm, problem: Problem): void {
  const batch = batchOf(problem);
  const reference = { ...batch, c: batch.c.slice() };
  gemm.run(batch);
  jsGemmBatch(reference);
  expect(batch.c).toAllClose(reference.c, { rtol: 1e-5, atol: 1e-6 * problem.k });
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 1],
  [7, 1, 3],
  [2, 3, 5],
  [4, 8, 12],
  [5, 7, 11],
  [6, 10, 3],
  [9, 17, 33],
  [13, 17, 19],
  [31, 37, 41],
  [64, 64, 64],
  [97, 89, 101],
  [1, 300, 257],
  [257, 1, 300],
  // B read in place (fewer than 256 rows, at most 512 columns) across K blocks, and packed just past the limits.
  [31, 512, 600],
  [20, 513, 600],
  [256, 40, 70],
];
const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

const variants: [string, WasmGemm | null][] = [
  ['plain SIMD128', compileWasmGemm({ relaxed: false })],
  ['relaxed SIMD', compileWasmGemm({ relaxed: true })],
];

describe.each(variants)('wasm GEMM, %s', (_name, gemm) => {
  it
    .skipIf(!gemm)
    .each(SHAPES.flatMap(([m, n, k]) => TRANSPOSES.map(([ta, tb]) => [m, n, k, ta, tb] as const)))(
    '[%i, %i] x k %i (transA %s, transB %s) matches the JavaScript GEMM',
    (m, n, k, transA, transB) => {
      expectMatchesReference(gemm as WasmGemm, { m, n, k, transA, transB });
    },
  );

  it.skipIf(!gemm)('runs a batch of distinct operands', () => {
    expectMatchesReference(gemm as WasmGemm, { m: 11, n: 13, k: 9, aIndex: [0, 1, 2], bIndex: [0, 1, 2] });
  });

  it.skipIf(!gemm)('reuses packed operands across a broadcast batch, and only while they repeat', () => {
    expectMatchesReference(gemm as WasmGemm, {
      m: 11,
      n: 13,
      k: 9,
      aIndex: [0, 0, 1, 0],
      bIndex: [2, 1, 1, 0],
    });
    expectMatchesReference(gemm as WasmGemm, {
      m: 5,
      n: 19,
      k: 6,
      transA: true,
      transB: true,
      aIndex: [1, 1, 1],
      bIndex: [0, 1, 0],
    });
  });

  it.skipIf(!gemm)('writes C rows with a leading dimension and leaves the gaps (NaN) untouched', () => {
    expectMatchesReference(gemm as WasmGemm, { m: 10, n: 9, k: 7, cPad: 3, aIndex: [0, 1], transB: true });
  });

  it.skipIf(!gemm)('splits products too large for one packing into column and row chunks', () => {
    expectMatchesReference(gemm as WasmGemm, { m: 3, n: 4000, k: 1100, transB: true });
    expectMatchesReference(gemm as WasmGemm, { m: 3800, n: 9, k: 1100, transA: true });
  });
});

describe('gemmBatch', () => {
  it('writes zeros when k is 0 and does nothing when m is 0', () => {
    const zeroK = batchOf({ m: 3, n: 4, k: 0, cPad: 1 });
    gemmBatch(zeroK);
    expect(Array.from(zeroK.c)).toEqual([
      0,
      0,
      0,
      0,
      Number.NaN,
      0,
      0,
      0,
      0,
      Number.NaN,
      0,
      0,
      0,
      0,
      Number.NaN,
    ]);
    expect(() => gemmBatch(batchOf({ m: 0, n: 4, k: 5 }))).not.toThrow();
  });

  it.each([
    [3, 2, 4],
    [512, 1, 1],
    [12, 40, 30],
  ])('computes [%i, %i] x k %i, on whichever path it picks, like the JavaScript GEMM', (m, n, k) => {
    const batch = batchOf({ m, n, k, transA: true, aIndex: [0, 1] });
    const reference = { ...batch, c: batch.c.slice() };
    gemmBatch(batch);
    jsGemmBatch(reference);
    expect(batch.c).toAllClose(reference.c, { rtol: 1e-5, atol: 1e-6 * k });
  });
});

describe('compileWasmGemm', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it('emits modules small enough to compile synchronously on a browser main thread (4 KiB)', () => {
    for (const relaxed of [false, true]) {
      expect(gemmModuleBytes({ mr: 4, nr: 8, relaxed }).length).toBeLessThan(4096);
    }
    expect(WebAssembly.validate(gemmModuleBytes({ mr: 4, nr: 8, relaxed: false }))).toBe(true);
  });

  it('gives null where the engine rejects the module, so the JavaScript GEMM runs', () => {
    vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
    expect(compileWasmGemm({ relaxed: false })).toBeNull();
  });

  it('gives null without WebAssembly', () => {
    vi.stubGlobal('WebAssembly', undefined);
    expect(compileWasmGemm({ relaxed: false })).toBeNull();
  });
});

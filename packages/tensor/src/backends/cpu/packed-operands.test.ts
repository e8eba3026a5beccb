// Packed B operands kept between products: kept from the second use on, right on every use, forgotten when
// their array is recycled, dropped when scratch grows over them, when the budget is spent or when most of
// the region is dead, and cleared by the backend's destroy().
import { afterEach, describe, expect, it } from 'vitest';
import { setBackend } from '../../engine.js';
import { tensor } from '../../ops/creation.js';
import { matmul } from '../../ops/linalg.js';
import { philoxFill } from '../../philox.js';
import { createCpuBackend } from './cpu-backend.js';
import { type GemmBatch, gemmBatch, jsGemmBatch } from './gemm-batch.js';
import { stackedBatch } from './gemm-fixtures.js';
import { clearRecycled, outputF32, recycle } from './host-pool.js';
import { clearKept, keptBytes, setKeptBudget } from './packed-operands.js';
import { wasmGemm } from './wasm-gemm.js';
import { keptGeneration, wasmHeap } from './wasm-memory.js';

const hasWasm = wasmGemm() !== null;

function fill(array: Float32Array, seed: number): Float32Array {
  philoxFill(array, 'uniform', seed, 0, 0, -1, 1);
  return array;
}

/** Stacked products whose B is a kernel input storage, as the matmul and groupedMatmul kernels mark it. */
const grouped = (a: Float32Array, b: Float32Array, m: number, n: number, k: number, transB = false) =>
  stackedBatch(a, b, m, n, k, transB, true);

/** Runs the batch on the GEMM gemmBatch picks and checks it against the JavaScript GEMM. */
function expectRight(batch: GemmBatch): void {
  const reference = { ...batch, c: new Float32Array(batch.c.length) };
  gemmBatch(batch);
  jsGemmBatch(reference);
  expect(batch.c).toAllClose(reference.c, { rtol: 1e-5, atol: 1e-6 * batch.k });
}

afterEach(() => {
  setKeptBudget(256 << 20);
  clearRecycled();
});

describe.skipIf(!hasWasm)('kept packed operands', () => {
  const [m, n, k] = [24, 136, 130];

  it('keeps B from its second product on, in place or packed, and stays right on every product', () => {
    for (const rows of [m, 300]) {
      clearKept();
      const a = fill(new Float32Array(3 * rows * k), 1);
      const b = fill(new Float32Array(3 * k * n), 2);
      expectRight(grouped(a, b, rows, n, k));
      expect(keptBytes()).toBe(0);
      expectRight(grouped(a, b, rows, n, k));
      // 3 experts of 17 panels of 8 columns by k.
      expect(keptBytes()).toBe(3 * 17 * 8 * k * 4);
      expectRight(grouped(a, b, rows, n, k));
      expectRight(grouped(a, b, rows, n, k, true));
      expectRight(grouped(a, b, rows, n, k, true));
      expect(keptBytes()).toBe(2 * 3 * 17 * 8 * k * 4);
    }
  });

  it('keeps nothing for operands not marked as storages, nor below 64 KiB', () => {
    clearKept();
    const a = fill(new Float32Array(m * 64), 3);
    const small = fill(new Float32Array(64 * 64), 4);
    for (let i = 0; i < 3; i++) expectRight(grouped(a, small, m, 64, 64));
    const b = fill(new Float32Array(k * n), 5);
    const a2 = fill(new Float32Array(m * k), 6);
    for (let i = 0; i < 3; i++) expectRight({ ...grouped(a2, b, m, n, k), bStored: false });
    expect(keptBytes()).toBe(0);
  });

  it('forgets an array when it is recycled, so new values in the same array are packed again', () => {
    clearKept();
    // [128, 2048] is 1 MiB: the host pool takes it back and hands the same array to the next output.
    const [cols, depth] = [2048, 128];
    const a = fill(new Float32Array(m * depth), 7);
    const b = fill(outputF32(depth * cols), 8);
    expectRight(grouped(a, b, m, cols, depth));
    expectRight(grouped(a, b, m, cols, depth));
    expect(keptBytes()).toBe(depth * cols * 4);
    recycle(b);
    expect(keptBytes()).toBe(depth * cols * 4);
    const again = outputF32(depth * cols);
    expect(again).toBe(b);
    fill(again, 9);
    for (let i = 0; i < 3; i++) expectRight(grouped(a, again, m, cols, depth));
  });

  it('drops the kept region when scratch grows over it, and packs again', () => {
    clearKept();
    const a = fill(new Float32Array(m * k), 10);
    const b = fill(new Float32Array(k * n), 11);
    expectRight(grouped(a, b, m, n, k));
    expectRight(grouped(a, b, m, n, k));
    const generation = keptGeneration();
    const scratch = wasmHeap(1 << 16).length;
    wasmHeap(scratch + (1 << 16));
    expect(keptGeneration()).toBe(generation + 1);
    expect(keptBytes()).toBe(0);
    expectRight(grouped(a, b, m, n, k));
    expect(keptBytes()).toBeGreaterThan(0);
    expectRight(grouped(a, b, m, n, k));
  });

  it('stops keeping when the budget is spent by live operands, and refills once most of it is dead', () => {
    const one = 17 * 8 * k * 4;
    setKeptBudget(2.5 * one);
    const a = fill(new Float32Array(m * k), 12);
    const bs = [13, 14, 15].map((seed) => fill(new Float32Array(k * n), seed));
    for (const b of bs) for (let i = 0; i < 3; i++) expectRight(grouped(a, b, m, n, k));
    expect(keptBytes()).toBe(2 * one);
    recycle(bs[0] as Float32Array);
    recycle(bs[1] as Float32Array);
    const generation = keptGeneration();
    expectRight(grouped(a, bs[2] as Float32Array, m, n, k));
    expect(keptGeneration()).toBe(generation + 1);
    expect(keptBytes()).toBe(one);
    expectRight(grouped(a, bs[2] as Float32Array, m, n, k));
  });

  it('drops the region early once its dead part outgrows its live part and 16 MiB', () => {
    clearKept();
    const side = 1024;
    const a = fill(new Float32Array(8 * side), 16);
    const use = (b: Float32Array) => {
      for (let i = 0; i < 2; i++) gemmBatch(grouped(a, b, 8, side, side));
    };
    const bs = Array.from({ length: 6 }, (_, i) => fill(new Float32Array(side * side), 17 + i));
    for (const b of bs) use(b);
    expect(keptBytes()).toBe(6 * side * side * 4);
    for (const b of bs.slice(0, 4)) recycle(b);
    const generation = keptGeneration();
    use(fill(new Float32Array(side * side), 23));
    expect(keptGeneration()).toBe(generation);
    recycle(bs[4] as Float32Array);
    const last = fill(new Float32Array(side * side), 24);
    use(last);
    expect(keptGeneration()).toBe(generation + 1);
    expect(keptBytes()).toBe(side * side * 4);
    expectRight(grouped(a, last, 8, side, side));
    expectRight(grouped(a, bs[5] as Float32Array, 8, side, side));
  });

  it('is cleared by the CPU backend destroy(), and matmul through the backend reports and uses it', () => {
    clearKept();
    const backend = createCpuBackend();
    setBackend(backend);
    const w = tensor(
      Array.from({ length: k * n }, (_, i) => Math.sin(i)),
      { shape: [k, n] },
    );
    const x = tensor(
      Array.from({ length: m * k }, (_, i) => Math.cos(i)),
      { shape: [m, k] },
    );
    const first = matmul(x, w);
    const second = matmul(x, w);
    const third = matmul(x, w);
    expect(backend.memory().packedBytes).toBe(17 * 8 * k * 4);
    expect(third.dataSync()).toEqual(first.dataSync());
    expect(second.dataSync()).toEqual(first.dataSync());
    backend.destroy?.();
    expect(backend.memory().packedBytes).toBe(0);
    for (const t of [w, x, first, second, third]) t.dispose();
  });
});

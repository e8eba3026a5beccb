// The CPU matmul kernels at sizes that take the WebAssembly GEMM, against the float64 references: broadcast
// batches under every transpose, grouped products with empty segments and rows past the last offset, and the
// grouped weight gradient; outputs recycled with stale values written in full.
import { afterEach, describe, expect, it } from 'vitest';
import type { AnyHostArray, DType } from '../../dtype.js';
import { philoxFill } from '../../philox.js';
import { groupedMatmulGradWRef, groupedMatmulRef, matmulRef } from '../../testing/reference.js';
import type { KernelInput } from '../backend.js';
import { clearRecycled, recycle } from './host-pool.js';
import { groupedMatmulGradWKernel, groupedMatmulKernel, matmulKernel } from './matmul.js';

const TOL = { rtol: 1e-5, atol: 1e-5 };

function input(shape: number[], seed: number): KernelInput<AnyHostArray> & { data: Float32Array } {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  philoxFill(data, 'uniform', seed, 0, 0, -1, 1);
  return { data, shape, dtype: 'f32' as DType };
}

describe('matmulKernel', () => {
  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])(
    'broadcasts [2, 1, 19, 23] @ [3, 23, 17] (transA %s, transB %s) like the reference',
    (transA, transB) => {
      const a = input(transA ? [2, 1, 23, 19] : [2, 1, 19, 23], 1);
      const b = input(transB ? [3, 17, 23] : [3, 23, 17], 2);
      const y = matmulKernel([a, b], { transA, transB }, { shape: [2, 3, 19, 17], dtype: 'f32' });
      const ref = matmulRef(a.data, a.shape, b.data, b.shape, transA, transB);
      expect(ref.shape).toEqual([2, 3, 19, 17]);
      expect(y).toAllClose(ref.values, TOL);
    },
  );
});

describe('grouped kernels', () => {
  const rows = 40;
  const k = 24;
  const n = 18;
  // Segments of 7, 0, 13, 13 and 3 rows; rows 36..39 belong to no expert.
  const offsetsList = [0, 7, 7, 20, 33, 36];
  const offsets: KernelInput<AnyHostArray> = {
    data: Int32Array.from(offsetsList),
    shape: [offsetsList.length],
    dtype: 'i32',
  };
  const x = input([rows, k], 3);

  it.each([false, true])('groupedMatmulKernel (transW %s) matches the reference', (transW) => {
    const w = input(transW ? [5, n, k] : [5, k, n], 4);
    const y = groupedMatmulKernel([x, w, offsets], { transW }, { shape: [rows, n], dtype: 'f32' });
    const ref = groupedMatmulRef(x.data, rows, k, w.data, w.shape, offsetsList, transW);
    expect(y).toAllClose(ref.values, TOL);
    expect(Array.from(y.subarray(36 * n))).toEqual(new Array(4 * n).fill(0));
  });

  it('groupedMatmulGradWKernel matches the reference, zeros for the empty segment', () => {
    const dy = input([rows, n], 5);
    const dw = groupedMatmulGradWKernel([x, dy, offsets], {}, { shape: [5, k, n], dtype: 'f32' });
    const ref = groupedMatmulGradWRef(x.data, k, dy.data, n, offsetsList);
    expect(dw).toAllClose(ref.values, TOL);
    expect(Array.from(dw.subarray(k * n, 2 * k * n))).toEqual(new Array(k * n).fill(0));
  });
});

describe('recycled outputs', () => {
  // The matrix products write into recycled arrays without zeroing them first (overwrittenF32): a NaN-filled
  // array of the output's length (1 MiB and more, so the pool keeps it) goes first in the pool, and every
  // element must be written, zeros included.
  const poisoned = (length: number) => {
    clearRecycled();
    recycle(new Float32Array(length).fill(Number.NaN));
  };
  afterEach(() => clearRecycled());

  it('groupedMatmulKernel zeroes the rows no segment covers, before, between and after the segments', () => {
    const [rows, k, n] = [1024, 8, 256];
    // Rows 0..15 precede the first offset; 300..309 fall between a segment and a later one; 1000.. follow.
    const list = [16, 300, 300, 1000];
    const offsets = { data: Int32Array.from(list), shape: [list.length], dtype: 'i32' as DType };
    const [x, w] = [input([rows, k], 6), input([3, k, n], 7)];
    poisoned(rows * n);
    const y = groupedMatmulKernel([x, w, offsets], { transW: false }, { shape: [rows, n], dtype: 'f32' });
    expect(y).toAllClose(groupedMatmulRef(x.data, rows, k, w.data, w.shape, list, false).values, TOL);
    expect(y.every((v) => !Number.isNaN(v))).toBe(true);
    expect(y.subarray(0, 16 * n).every((v) => v === 0)).toBe(true);
  });

  it('groupedMatmulKernel adds up the rows where malformed offsets make segments overlap', () => {
    const [rows, k, n] = [1024, 8, 256];
    // Clamped segments [16, 300), [300, 300) and [200, 1000): rows 200..299 belong to experts 0 and 2.
    const list = [16, 300, 200, 1000];
    const offsets = { data: Int32Array.from(list), shape: [list.length], dtype: 'i32' as DType };
    const [x, w] = [input([rows, k], 12), input([3, k, n], 13)];
    poisoned(rows * n);
    const y = groupedMatmulKernel([x, w, offsets], { transW: false }, { shape: [rows, n], dtype: 'f32' });
    const first = groupedMatmulRef(x.data, rows, k, w.data, w.shape, [16, 300, 300, 300], false).values;
    const last = groupedMatmulRef(x.data, rows, k, w.data, w.shape, [200, 200, 200, 1000], false).values;
    expect(y).toAllClose(
      first.map((v, i) => v + (last[i] as number)),
      TOL,
    );
  });

  it('groupedMatmulGradWKernel writes zeros for an empty segment', () => {
    const [rows, k, n] = [64, 256, 256];
    const list = [0, 40, 40, 64];
    const offsets = { data: Int32Array.from(list), shape: [list.length], dtype: 'i32' as DType };
    const [x, dy] = [input([rows, k], 8), input([rows, n], 9)];
    poisoned(3 * k * n);
    const dw = groupedMatmulGradWKernel([x, dy, offsets], {}, { shape: [3, k, n], dtype: 'f32' });
    expect(dw).toAllClose(groupedMatmulGradWRef(x.data, k, dy.data, n, list).values, TOL);
    expect(dw.subarray(k * n, 2 * k * n).every((v) => v === 0)).toBe(true);
  });

  it('matmulKernel writes zeros for an empty inner dimension', () => {
    const [m, n] = [512, 512];
    poisoned(m * n);
    const y = matmulKernel(
      [input([m, 0], 10), input([0, n], 11)],
      { transA: false, transB: false },
      { shape: [m, n], dtype: 'f32' },
    );
    expect(y.every((v) => v === 0)).toBe(true);
  });
});

// The CPU matmul kernels at sizes that take the WebAssembly GEMM, against the float64 references: broadcast
// batches under every transpose, grouped products with empty segments and rows past the last offset, and the
// grouped weight gradient.
import { describe, expect, it } from 'vitest';
import type { AnyHostArray, DType } from '../../dtype.js';
import { philoxFill } from '../../philox.js';
import { groupedMatmulGradWRef, groupedMatmulRef, matmulRef } from '../../testing/reference.js';
import type { KernelInput } from '../backend.js';
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

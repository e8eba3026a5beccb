// scatterAddKernel's WebAssembly SIMD path (f32 rows of a multiple of 4 floats, from 1024 source elements)
// against a plain loop: sums in the same order, so equal bit for bit.
import { describe, expect, it } from 'vitest';
import { philoxFill } from '../../philox.js';
import { scatterAddKernel } from './indexing.js';
import { wasmVector } from './wasm-vector.js';

function reference(src: Float32Array, ids: Int32Array, rows: number, width: number): Float32Array {
  const dst = new Float32Array(rows * width);
  ids.forEach((r, i) => {
    for (let j = 0; j < width; j++)
      dst[r * width + j] = (dst[r * width + j] as number) + (src[i * width + j] as number);
  });
  return dst;
}

describe('scatterAddKernel', () => {
  it('has the WebAssembly path on this engine', () => {
    expect(wasmVector()).not.toBeNull();
  });

  it.each([
    [3000, 512, 8],
    [2048, 100, 256],
    [40, 7, 12_000],
    [600, 50, 6],
  ])('%i source rows into %i rows of %i match a plain loop, repeated rows included', (n, rows, width) => {
    const src = new Float32Array(n * width);
    philoxFill(src, 'uniform', 3, 0, 0, -2, 2);
    const ids = Int32Array.from({ length: n }, (_, i) => (i * 7919) % rows);
    const got = scatterAddKernel(
      [
        { data: src, shape: [n, width], dtype: 'f32' },
        { data: ids, shape: [n], dtype: 'i32' },
      ],
      { rows },
      { shape: [rows, width], dtype: 'f32' },
    );
    expect(Array.from(got)).toEqual(Array.from(reference(src, ids, rows, width)));
  });
});

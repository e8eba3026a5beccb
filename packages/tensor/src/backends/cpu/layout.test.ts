// The CPU box copies (slice, pad, concat) with merged dims and block copies, against the generic path: each
// element placed through its full multi-index.
import { describe, expect, it } from 'vitest';
import { type AnyHostArray, type DType, hostArray } from '../../dtype.js';
import { type Shape, sizeOf, stridesOf } from '../../shape.js';
import type { KernelInput } from '../backend.js';
import { concatKernel, padKernel, sliceKernel } from './layout.js';

type In = KernelInput<AnyHostArray>;

function input(shape: Shape, dtype: DType): In {
  const data = hostArray(dtype, sizeOf(shape));
  for (let i = 0; i < data.length; i++)
    data[i] = dtype === 'bool' ? i % 2 : dtype === 'i32' ? i * 3 - 7 : i + 0.25;
  return { data, shape, dtype };
}

/** The multi-index of each flat position of `shape`. */
function indices(shape: Shape): number[][] {
  const strides = stridesOf(shape);
  return Array.from({ length: sizeOf(shape) }, (_, flat) =>
    shape.map((n, d) => Math.floor(flat / (strides[d] as number)) % n),
  );
}

function at(shape: Shape, index: readonly number[]): number {
  const strides = stridesOf(shape);
  return index.reduce((acc, v, d) => acc + v * (strides[d] as number), 0);
}

function expectSame(got: AnyHostArray, want: AnyHostArray): void {
  expect(got.constructor).toBe(want.constructor);
  expect(Array.from(got)).toEqual(Array.from(want));
}

const DTYPES = ['f32', 'i32', 'bool'] as const;

describe('sliceKernel', () => {
  it.each([
    [
      [6, 5],
      [2, 0],
      [3, 5],
    ],
    [
      [6, 5],
      [0, 1],
      [6, 3],
    ],
    [
      [6, 5],
      [1, 4],
      [4, 1],
    ],
    [
      [8, 4, 16],
      [0, 0, 8],
      [8, 4, 8],
    ],
    [
      [3, 100],
      [1, 0],
      [2, 100],
    ],
    [
      [3, 4, 70],
      [0, 1, 0],
      [3, 2, 70],
    ],
    [
      [2, 1, 5],
      [1, 0, 0],
      [1, 1, 5],
    ],
    [[], [], []],
    [
      [4, 3],
      [1, 0],
      [0, 3],
    ],
  ] as [Shape, number[], number[]][])('%j from %j size %j matches the generic path', (shape, begin, size) => {
    for (const dtype of DTYPES) {
      const x = input(shape, dtype);
      const want = hostArray(dtype, sizeOf(size));
      for (const [flat, idx] of indices(size).entries())
        want[flat] = x.data[
          at(
            shape,
            idx.map((v, d) => v + (begin[d] as number)),
          )
        ] as number;
      expectSame(sliceKernel([x], { begin, size }, { shape: size, dtype }), want);
    }
  });
});

describe('padKernel', () => {
  it.each([
    [
      [3, 4],
      [1, 2],
      [6, 7],
    ],
    [
      [3, 4],
      [0, 0],
      [5, 4],
    ],
    [
      [2, 80],
      [1, 0],
      [3, 80],
    ],
    [
      [2, 3, 1],
      [0, 1, 2],
      [2, 5, 4],
    ],
    [
      [0, 3],
      [1, 0],
      [2, 3],
    ],
  ] as [Shape, number[], number[]][])(
    '%j with %j before into %j matches the generic path',
    (shape, before, outShape) => {
      for (const dtype of DTYPES) {
        const x = input(shape, dtype);
        const want = hostArray(dtype, sizeOf(outShape));
        for (const [flat, idx] of indices(shape).entries())
          want[
            at(
              outShape,
              idx.map((v, d) => v + (before[d] as number)),
            )
          ] = x.data[flat] as number;
        expectSame(padKernel([x], { before }, { shape: outShape, dtype }), want);
      }
    },
  );
});

describe('concatKernel', () => {
  it.each([
    [
      [
        [2, 3],
        [4, 3],
        [0, 3],
      ],
      0,
    ],
    [
      [
        [3, 2],
        [3, 5],
        [3, 1],
      ],
      1,
    ],
    [
      [
        [8, 4, 8],
        [8, 4, 8],
      ],
      2,
    ],
    [
      [
        [100, 64],
        [1, 64],
      ],
      0,
    ],
    [
      [
        [2, 1, 3],
        [2, 2, 3],
      ],
      1,
    ],
  ] as [Shape[], number][])('%j along %i matches the generic path', (shapes, axis) => {
    for (const dtype of DTYPES) {
      const xs = shapes.map((s) => input(s, dtype));
      const outShape = (shapes[0] as Shape).map((n, d) =>
        d === axis ? shapes.reduce((acc, s) => acc + (s[d] as number), 0) : n,
      );
      const want = hostArray(dtype, sizeOf(outShape));
      let offset = 0;
      for (const x of xs) {
        for (const [flat, idx] of indices(x.shape).entries())
          want[
            at(
              outShape,
              idx.map((v, d) => (d === axis ? v + offset : v)),
            )
          ] = x.data[flat] as number;
        offset += x.shape[axis] as number;
      }
      expectSame(concatKernel(xs, { axis }, { shape: outShape, dtype }), want);
    }
  });
});

// The CPU reduction kernels' fast paths (contiguous rows, leading and middle axes accumulated row by row,
// softmax lines with one exponential per element, cumsum lines) against the generic path: the reduced axes
// permuted innermost and each output's line reduced on its own. Results must match bit for bit.
import { describe, expect, it } from 'vitest';
import { type AnyHostArray, type DType, hostArray } from '../../dtype.js';
import { philoxFill } from '../../philox.js';
import { type Shape, sizeOf, stridesOf } from '../../shape.js';
import type { KernelInput } from '../backend.js';
import { permute } from './layout.js';
import { cumsumKernel, logSoftmaxKernel, reduceKernel, softmaxKernel } from './reduce.js';
import { wasmVector } from './wasm-vector.js';

type In = KernelInput<AnyHostArray>;
type Fn = 'sum' | 'max' | 'min';

function input(shape: Shape, dtype: DType, seed: number, nans = true): In {
  const n = sizeOf(shape);
  const data = hostArray(dtype, n);
  if (dtype === 'f32') {
    philoxFill(data as Float32Array, 'uniform', seed, 0, 0, -3, 3);
    if (nans) for (let i = 7; i < n; i += 23) data[i] = i % 2 ? Number.NaN : -0;
  } else if (dtype === 'i32') philoxFill(data as Int32Array, 'uniform', seed, 0, 0, -50, 50);
  else for (let i = 0; i < n; i++) data[i] = (i * 5 + seed) % 3 === 0 ? 1 : 0;
  return { data, shape, dtype };
}

/** The generic path: reduced axes moved innermost, then one line per output. */
function reduceGeneric(x: In, fn: Fn, axes: number[], dtype: DType): AnyHostArray {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const data = permute(x.data, x.shape, [...kept, ...axes]);
  const inner = sizeOf(axes.map((a) => x.shape[a] as number));
  const outer = sizeOf(kept.map((a) => x.shape[a] as number));
  const dst = hostArray(dtype, outer);
  for (let o = 0; o < outer; o++) {
    const line = Array.from(data.subarray(o * inner, (o + 1) * inner));
    if (fn === 'sum') dst[o] = line.reduce((acc, v) => acc + v, 0);
    else {
      let acc = line[0] as number;
      for (const v of line.slice(1)) {
        if (Number.isNaN(acc)) break;
        if (Number.isNaN(v) || (fn === 'max' ? v > acc : v < acc)) acc = v;
      }
      dst[o] = acc;
    }
  }
  return dst;
}

/** The flat indices of the line along `axis` through each position whose `axis` coordinate is 0. */
function axisLines(shape: Shape, axis: number): number[][] {
  const strides = stridesOf(shape);
  const stride = strides[axis] as number;
  const n = shape[axis] as number;
  const out: number[][] = [];
  for (let flat = 0; flat < sizeOf(shape); flat++) {
    if (Math.floor(flat / stride) % n !== 0) continue;
    out.push(Array.from({ length: n }, (_, j) => flat + j * stride));
  }
  return out;
}

function expectSame(got: AnyHostArray, want: AnyHostArray): void {
  expect(got.constructor).toBe(want.constructor);
  expect(Array.from(got)).toEqual(Array.from(want));
}

const CASES: [Shape, number[]][] = [
  [[5, 7], [1]],
  [[5, 7], [0]],
  [
    [5, 7],
    [0, 1],
  ],
  [[3, 4, 5], [2]],
  [
    [3, 4, 5],
    [1, 2],
  ],
  [
    [3, 4, 5],
    [0, 1],
  ],
  [[3, 4, 5], [0]],
  [[3, 4, 5], [1]],
  [
    [3, 4, 5],
    [0, 2],
  ],
  [
    [2, 3, 4, 5],
    [1, 2],
  ],
  [
    [2, 3, 4, 5],
    [0, 2],
  ],
  [
    [2, 1, 4, 1],
    [1, 3],
  ],
  [
    [2, 1, 4, 1],
    [0, 1],
  ],
  [[1, 6, 1], [0]],
  [[9], [0]],
  [[], []],
  [[4, 3], []],
  [[0, 3], [0]],
  [[3, 0], [0]],
  [[3, 0, 2], [1]],
];

describe('reduceKernel fast paths', () => {
  it.each(CASES)('%j over axes %j matches the generic path (sum, max, min)', (shape, axes) => {
    const outShape = shape.filter((_, i) => !axes.includes(i));
    for (const dtype of ['f32', 'i32'] as const) {
      const x = input(shape, dtype, 3);
      for (const fn of ['sum', 'max', 'min'] as const) {
        // max and min of an empty line are rejected by the op; the kernels never see them.
        if (fn !== 'sum' && axes.some((a) => shape[a] === 0)) continue;
        const y = reduceKernel([x], { fn, axes }, { shape: outShape, dtype });
        expectSame(y, reduceGeneric(x, fn, axes, dtype));
      }
    }
  });

  it('sums bool into i32 over leading and trailing axes', () => {
    const x = input([3, 4, 5], 'bool', 4);
    for (const axes of [[0], [2], [0, 1], [1]]) {
      const outShape = [3, 4, 5].filter((_, i) => !axes.includes(i));
      const y = reduceKernel([x], { fn: 'sum', axes }, { shape: outShape, dtype: 'i32' });
      expectSame(y, reduceGeneric(x, 'sum', axes, 'i32'));
    }
  });
});

describe('softmax and cumsum lines', () => {
  const SHAPES: [Shape, number][] = [
    [[4, 7], 1],
    [[4, 7], 0],
    [[2, 3, 5], 1],
    [[2, 3, 5], 2],
    [[6], 0],
    [[0, 5], 1],
    [[3, 0], 1],
  ];

  it.each(SHAPES)(
    'softmax and logSoftmax of %j along %i, with masked scores, match the line-by-line definition',
    (shape, axis) => {
      const x = input(shape, 'f32', 5, false);
      (x.data as Float32Array)[0] = Number.NEGATIVE_INFINITY;
      // Masked scores, as causal attention writes them: their exponentials underflow to 0.
      for (let i = 2; i < x.data.length; i += 3) x.data[i] = -1e30;
      const soft = new Float32Array(x.data.length);
      const logSoft = new Float32Array(x.data.length);
      for (const line of axisLines(shape, axis)) {
        const v = line.map((i) => x.data[i] as number);
        let m = Math.max(Number.NEGATIVE_INFINITY, ...v);
        if (!Number.isFinite(m)) m = 0;
        const s = v.reduce((acc, u) => acc + Math.exp(u - m), 0);
        line.forEach((i, j) => {
          soft[i] = Math.exp((v[j] as number) - m) / s;
          logSoft[i] = (v[j] as number) - (m + Math.log(s));
        });
      }
      expectSame(softmaxKernel([x], { axis }), soft);
      expectSame(logSoftmaxKernel([x], { axis }), logSoft);
    },
  );

  // From 1024 elements, rows along the last axis of at least 4 go to the WebAssembly kernel (wasm-vector.ts):
  // the same steps with f32 sums and the polynomial exp, so within a few ulp of the definition.
  it.each([
    [300, 8],
    [40, 256],
    [10, 301],
    [2, 20_001],
  ])('softmax of [%i, %i] along the last axis by the WebAssembly kernel: within 8 ulp', (rows, n) => {
    expect(wasmVector()).not.toBeNull();
    const x = input([rows, n], 'f32', 9, false);
    const data = x.data as Float32Array;
    data.fill(Number.NEGATIVE_INFINITY, 0, n); // a fully masked row gives NaN, as 0 / 0
    data[n + 1] = Number.NaN; // a NaN poisons its row
    data[2 * n + 3] = Number.POSITIVE_INFINITY; // as does +Infinity (Infinity / Infinity)
    for (let i = 3 * n; i < data.length; i += 7) data[i] = -1e30;
    const got = softmaxKernel([x], { axis: 1 });
    for (let r = 0; r < rows; r++) {
      const v = Array.from(data.subarray(r * n, (r + 1) * n));
      let m = Math.max(...v);
      if (!Number.isFinite(m)) m = 0;
      const sum = v.reduce((acc, u) => acc + Math.exp(u - m), 0);
      v.forEach((u, j) => {
        const want = Math.fround(Math.exp(u - m) / sum);
        const g = got[r * n + j] as number;
        if (Number.isNaN(want) || want === 0) expect(g).toBe(want);
        else expect(Math.abs(g - want) / want).toBeLessThan(8 * 2 ** -23);
      });
    }
  });

  it.each(SHAPES)('cumsum of %j along %i, exclusive and reversed, in f32 and i32', (shape, axis) => {
    for (const dtype of ['f32', 'i32'] as const) {
      const x = input(shape, dtype, 6, false);
      for (const exclusive of [false, true]) {
        for (const reverse of [false, true]) {
          const want = hostArray(dtype, x.data.length);
          for (const fwd of axisLines(shape, axis)) {
            const line = reverse ? [...fwd].reverse() : fwd;
            let acc = 0;
            for (const i of line) {
              const v = x.data[i] as number;
              want[i] = exclusive ? acc : acc + v;
              acc += v;
            }
          }
          const y = cumsumKernel([x], { axis, exclusive, reverse }, { shape, dtype });
          expectSame(y, want);
        }
      }
    }
  });
});

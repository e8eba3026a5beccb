// The CPU weightedGather kernel: the WebAssembly paths (source copied whole, or rows staged) give the
// JavaScript loop's bits, out-of-range rows add nothing (not even a NaN weight's NaN), and for K <= 2 the
// result is scatterAdd(mul(rows, w), token) bit for bit: each product rounded to f32, added from +0. The
// gradient kernel gives the bits of the composites it replaced in weightedGather's VJP, its WebAssembly
// weighted scatter those of the JavaScript loop.
import { describe, expect, it } from 'vitest';
import { tensor } from '../../ops/creation.js';
import { clamp, equal, mul, where } from '../../ops/elementwise.js';
import { gather, scatterAdd } from '../../ops/indexing.js';
import { reshape, slice } from '../../ops/layout.js';
import { sum } from '../../ops/reduce.js';
import { weightedGather, weightedGatherGrad } from '../../ops/weighted-gather.js';
import { philoxFill } from '../../philox.js';
import { binaryKernel } from './elementwise.js';
import { gatherKernel, scatterAddKernel } from './indexing.js';
import { type WeightedGatherJob, wasmVector } from './wasm-vector.js';
import {
  weightedGatherGradKernel,
  weightedGatherJs,
  weightedGatherKernel,
  weightedScatterJs,
} from './weighted-gather.js';

function uniform(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  philoxFill(a, 'uniform', seed, 0, 0, 0, 1);
  return a.map((v) => 2 * v - 1);
}

/** Rows in [-2, r + 2): some out of range on both sides. */
function rowIds(n: number, r: number, seed: number): Int32Array {
  const a = new Int32Array(n);
  philoxFill(a, 'int', seed, 0, 0, -2, r + 2);
  return a;
}

/** A kernel call: everything of the WebAssembly job but its output. */
type Job = Omit<WeightedGatherJob, 'dst'>;

function run({ src, rows, width, ids, weights, t, k }: Job): Float32Array {
  const input = (data: Float32Array | Int32Array, shape: number[]) => ({
    data,
    shape,
    dtype: 'f32' as const,
  });
  return weightedGatherKernel(
    [input(src, [rows, width]), { data: ids, shape: [t, k], dtype: 'i32' }, input(weights, [t, k])],
    {},
  ) as Float32Array;
}

function js(job: Job): Float32Array {
  const dst = new Float32Array(job.t * job.width);
  weightedGatherJs({ ...job, dst });
  return dst;
}

/** How many elements differ in their bits (Object.is: -0 and +0 differ, NaN equals NaN). */
function bitMismatches(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let mismatches = 0;
  for (let i = 0; i < expected.length; i++) if (!Object.is(actual[i], expected[i])) mismatches++;
  return mismatches;
}

describe('cpu weightedGather kernel', () => {
  const shapes: [string, number, number, number, number][] = [
    ['source copied whole, width 64', 300, 64, 200, 3],
    ['rows staged, width 37', 300, 37, 100, 4],
    ['wide rows staged in chunks of one token, width 20001', 5, 20001, 3, 2],
    ['narrow rows, width 4', 2000, 4, 800, 6],
  ];
  for (const [name, r, width, t, k] of shapes) {
    it(`WebAssembly equals the JavaScript loop bit for bit: ${name}`, () => {
      expect(wasmVector()).not.toBeNull();
      const src = uniform(r * width, r + width);
      const ids = rowIds(t * k, r, t);
      const w = uniform(t * k, k);
      const job = { src, rows: r, width, ids, weights: w, t, k };
      const expected = js(job);
      const actual = run(job);
      expect(actual.length).toBe(expected.length);
      expect(bitMismatches(actual, expected)).toBe(0);
    });
  }

  it('out-of-range rows add nothing, whatever their weight', () => {
    const [r, width, t, k] = [4, 64, 40, 2];
    const src = uniform(r * width, 1);
    const ids = new Int32Array(t * k).map((_, i) => (i % 2 === 0 ? i % r : i % 4 === 1 ? -1 : r));
    const w = new Float32Array(t * k).map((_, i) => (i % 2 === 0 ? 0.5 : Number.NaN));
    const job = { src, rows: r, width, ids, weights: w, t, k };
    for (const out of [run(job), js(job)]) {
      for (let i = 0; i < t; i++) {
        const row = ids[2 * i] as number;
        for (let j = 0; j < width; j++)
          expect(out[i * width + j]).toBe(Math.fround(0.5 * (src[row * width + j] as number)));
      }
    }
  });

  it('K = 2 equals scatterAdd(mul(gather(src, rows), weights), token) bit for bit (WebAssembly paths)', () => {
    const [r, width, t, k] = [50, 64, 40, 2];
    const src = uniform(r * width, 7);
    src[0] = -0;
    const ids = rowIds(t * k, r, 8);
    const w = uniform(t * k, 9);
    const f32 = (data: Float32Array | Int32Array, shape: number[], dtype: 'f32' | 'i32' = 'f32') => ({
      data,
      shape,
      dtype,
    });
    const a = t * k;
    const rowsOf = gatherKernel(
      [f32(src, [r, width]), f32(ids, [a], 'i32')],
      {},
      { shape: [a, width], dtype: 'f32' },
    );
    const products = binaryKernel(
      [f32(rowsOf as Float32Array, [a, width]), f32(w, [a, 1])],
      { fn: 'mul' },
      { shape: [a, width], dtype: 'f32' },
    );
    const token = new Int32Array(a).map((_, i) => Math.floor(i / k));
    const expected = scatterAddKernel(
      [f32(products as Float32Array, [a, width]), f32(token, [a], 'i32')],
      { rows: t },
      { shape: [t, width], dtype: 'f32' },
    );
    const actual = run({ src, rows: r, width, ids, weights: w, t, k });
    expect(bitMismatches(actual, expected)).toBe(0);
  });

  it('K = 0 and T = 0 give zeros and an empty result', () => {
    const empty = {
      src: uniform(8, 1),
      rows: 2,
      width: 4,
      ids: new Int32Array(0),
      weights: new Float32Array(0),
    };
    expect(Array.from(run({ ...empty, t: 3, k: 0 }))).toEqual(new Array(12).fill(0));
    expect(run({ ...empty, t: 0, k: 3 }).length).toBe(0);
  });
});

describe('cpu weightedGatherGrad kernel', () => {
  const shapes: [string, number, number, number, number][] = [
    ['WebAssembly, width 64', 300, 64, 200, 3],
    ['WebAssembly, chunks of one source row, width 20000', 5, 20000, 3, 2],
    ['JavaScript, width 37', 300, 37, 100, 4],
  ];
  for (const [name, r, width, t, k] of shapes) {
    it(`'src' equals the JavaScript loop bit for bit, out-of-range rows skipped: ${name}`, () => {
      const g = uniform(t * width, r + width);
      g[0] = -0;
      const ids = rowIds(t * k, r, t);
      const w = uniform(t * k, k);
      const expected = new Float32Array(r * width);
      weightedScatterJs({ dst: expected, src: g, ids, weights: w, rows: r, t, k, width });
      const actual = weightedGatherGradKernel(
        [
          { data: new Float32Array(r * width), shape: [r, width], dtype: 'f32' },
          { data: ids, shape: [t, k], dtype: 'i32' },
          { data: w, shape: [t, k], dtype: 'f32' },
          { data: g, shape: [t, width], dtype: 'f32' },
        ],
        { wrt: 'src' },
      );
      expect(bitMismatches(actual, expected)).toBe(0);
      expect(expected.some((v) => v !== 0)).toBe(true);
    });
  }
});

describe('weightedGather gradient', () => {
  it('weightedGatherGrad gives the bits of the composites (scatterAdd of products, sums of gathered products)', () => {
    const [r, width, t, k] = [60, 48, 50, 6];
    const src = tensor(uniform(r * width, 11), { shape: [r, width] });
    const rows = tensor(rowIds(t * k, r, 12), { shape: [t, k], dtype: 'i32' });
    const w = tensor(uniform(t * k, 13), { shape: [t, k] });
    const g = tensor(uniform(t * width, 14), { shape: [t, width] });
    // What the VJP computed before the primitive: invalid rows sent to a sink row R, sliced off, and their
    // weights' gradient masked to 0.
    const safe = clamp(rows, 0, r - 1);
    const valid = equal(safe, rows);
    const g1 = reshape(g, [t, 1, width]);
    const products = mul(g1, reshape(w, [t, k, 1]));
    const srcWant = slice(scatterAdd(products, where(valid, rows, r), r + 1), [0, 0], [r, width]);
    const weightsWant = where(valid, sum(mul(gather(src, safe), g1), -1), 0);
    const srcGot = weightedGatherGrad(src, rows, w, g, 'src');
    const weightsGot = weightedGatherGrad(src, rows, w, g, 'weights');
    expect(bitMismatches(srcGot.dataSync(), srcWant.dataSync())).toBe(0);
    expect(bitMismatches(weightsGot.dataSync(), weightsWant.dataSync())).toBe(0);
    for (const x of [src, rows, w, g, safe, valid, g1, products, srcWant, weightsWant, srcGot, weightsGot]) {
      x.dispose();
    }
  });

  it('a pair whose row is out of range sends nothing to row 0, not even 0 · inf', () => {
    const src = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] }).requireGrad();
    const rows = tensor([7, 0], { shape: [2, 1], dtype: 'i32' });
    const w = tensor([1, 2], { shape: [2, 1] });
    const g = tensor([Infinity, Infinity, Infinity, 1, 1, 1], { shape: [2, 3] });
    sum(mul(weightedGather(src, rows, w), g)).backward();
    expect(Array.from(src.grad?.dataSync() ?? [])).toEqual([2, 2, 2, 0, 0, 0]);
    for (const t of [src, rows, w, g]) t.dispose();
  });
});

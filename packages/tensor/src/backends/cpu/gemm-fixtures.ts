// GEMM test fixtures shared by the kept-operand and thread tests in Node and the thread test in a browser Web
// Worker: batches of stacked products, and one product on one thread against the same split over a pool.
import { philoxFill } from '../../philox.js';
import type { GemmBatch } from './gemm-batch.js';
import { type GemmThreads, withGemmThreads } from './gemm-threads.js';
import type { WasmGemm } from './wasm-gemm.js';
import { wasmHeap } from './wasm-memory.js';

function filled(length: number, seed: number): Float32Array {
  const array = new Float32Array(length);
  philoxFill(array, 'uniform', seed, 0, 0, -1, 1);
  return array;
}

/** Products of the stacked k x n matrices of `b` (or B transposed, `transB`), `m` rows of `a` each. */
export function stackedBatch(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  transB = false,
  bStored = false,
): GemmBatch {
  const experts = b.length / (k * n);
  return {
    m,
    n,
    k,
    a,
    aOffsets: Array.from({ length: experts }, (_, e) => e * m * k),
    aRowStride: k,
    aColStride: 1,
    b,
    bOffsets: Array.from({ length: experts }, (_, e) => e * k * n),
    bRowStride: transB ? 1 : n,
    bColStride: transB ? k : 1,
    bStored,
    c: new Float32Array(experts * m * n),
    cOffsets: Array.from({ length: experts }, (_, e) => e * m * n),
    ldc: n,
  };
}

/** `stackedBatch` of `experts` products with uniform values in [-1, 1) from `seed`. */
export function randomBatch(
  m: number,
  n: number,
  k: number,
  experts: number,
  transB: boolean,
  seed: number,
): GemmBatch {
  return stackedBatch(filled(experts * m * k, seed), filled(experts * k * n, seed + 1), m, n, k, transB);
}

/** What `compareSplit` saw. */
export interface SplitComparison {
  /** C on one thread, then split over the pool. */
  single: Float32Array;
  split: Float32Array;
  /** The number of parts of each call the pool ran (none when every call stayed on the calling thread). */
  posted: number[];
  /** Whether the two are the same bits. */
  same: boolean;
}

/**
 * Runs `batch` on one thread and split over `pool`, the shared memory poisoned with NaN before each so a part
 * nobody computed shows.
 */
export function compareSplit(gemm: WasmGemm, pool: GemmThreads, batch: GemmBatch): SplitComparison {
  const single = { ...batch, c: new Float32Array(batch.c.length) };
  wasmHeap(1 << 20).fill(Number.NaN);
  gemm.run(single);
  const split = { ...batch, c: new Float32Array(batch.c.length) };
  wasmHeap(1 << 20).fill(Number.NaN);
  const posted: number[] = [];
  const run = pool.run;
  pool.run = (fn, parts) => {
    posted.push(parts.length);
    run.call(pool, fn, parts);
  };
  try {
    withGemmThreads(pool, () => gemm.run(split));
  } finally {
    pool.run = run;
  }
  const bits = (c: Float32Array) => new Uint32Array(c.buffer, c.byteOffset, c.length);
  const [a, b] = [bits(single.c), bits(split.c)];
  return { single: single.c, split: split.c, posted, same: a.every((v, i) => v === b[i]) };
}

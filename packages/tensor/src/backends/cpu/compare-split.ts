// A check shared by the GEMM thread tests in Node and in a browser Web Worker: the same product on one thread
// and split over a pool, the shared memory poisoned with NaN before each so a part nobody computed shows.
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

/**
 * `experts` products of m x k rows of A by stacked k x n matrices of B (or B transposed), one after another,
 * with uniform values in [-1, 1) from `seed`.
 */
export function randomBatch(
  m: number,
  n: number,
  k: number,
  experts: number,
  transB: boolean,
  seed: number,
): GemmBatch {
  return {
    m,
    n,
    k,
    a: filled(experts * m * k, seed),
    aOffsets: Array.from({ length: experts }, (_, e) => e * m * k),
    aRowStride: k,
    aColStride: 1,
    b: filled(experts * k * n, seed + 1),
    bOffsets: Array.from({ length: experts }, (_, e) => e * k * n),
    bRowStride: transB ? 1 : n,
    bColStride: transB ? k : 1,
    bStored: false,
    c: new Float32Array(experts * m * n),
    cOffsets: Array.from({ length: experts }, (_, e) => e * m * n),
    ldc: n,
  };
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

/** Runs `batch` on one thread and split over `pool`, the memory filled with NaN before each. */
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

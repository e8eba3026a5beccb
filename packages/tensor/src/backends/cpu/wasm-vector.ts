// Runs the WebAssembly SIMD vector-math module (vector-module.ts) over the shared memory: operands are copied
// in by chunks of at most CHUNK floats, so each chunk is still in cache when the kernel reads it and when its
// result is copied back out.

import {
  UNARY_BLOCK,
  VECTOR_BINARY,
  VECTOR_MODES,
  VECTOR_UNARY,
  type VectorBinaryFn,
  type VectorMode,
  type VectorUnaryFn,
  vectorModuleBytes,
} from './vector-module.js';
import { copyLines, sharedMaxPages, wasmHeap, wasmMemory } from './wasm-memory.js';

/** Below this many elements the copies in and out cost more than the kernels save: callers keep to JavaScript. */
export const WASM_MIN = 1024;

/** Floats of one operand staged at once (64 KiB; whole blocks of the unary kernels). */
const CHUNK = 16384;

type Kernel = (...addresses: number[]) => void;

/** Rows of a binary op: row r reads A from `aOffsets[r]` (stride 1, or 0 for one value) and B likewise. */
export interface BinaryRows {
  fn: VectorBinaryFn;
  /** Output, written row after row from 0. */
  d: Float32Array;
  row: number;
  rows: number;
  a: Float32Array;
  aOffsets: Int32Array;
  aStride: 0 | 1;
  b: Float32Array;
  bOffsets: Int32Array;
  bStride: 0 | 1;
}

/** Largest scatter-add output kept whole in the shared memory (16 MiB): memory never shrinks once grown. */
const SCATTER_MAX_FLOATS = 1 << 22;

/**
 * Largest weightedGather source copied whole into the shared memory (16 MiB, as SCATTER_MAX_FLOATS); larger
 * ones are staged row by row.
 */
const GATHER_WHOLE_MAX_FLOATS = 1 << 22;

/** Narrowest rows weightedGather stages one by one: below this the per-row copies cost more than they save. */
const STAGED_MIN_WIDTH = 32;

/**
 * One weightedGather: `t` output rows of `width` floats into `dst`, each the sum over its `k` terms (ids and
 * weights, `t · k` of each) of weight · the src row of that id, ids outside [0, rows) skipped. Its adjoint,
 * weightedScatter, reads the same fields the other way round: `t` rows of src, each added with its terms'
 * weights into the dst rows (`rows` of them) of their ids.
 */
export interface WeightedGatherJob {
  dst: Float32Array;
  src: Float32Array;
  ids: Int32Array;
  weights: Float32Array;
  rows: number;
  t: number;
  k: number;
  width: number;
}

/** The compiled vector-math module; get it from `wasmVector()`. */
export class WasmVector {
  constructor(private readonly kernels: Record<string, Kernel>) {}

  /** `dst[i] = fn(src[i])` over equal-length arrays. */
  unary(fn: VectorUnaryFn, src: Float32Array, dst: Float32Array): void {
    const heap = wasmHeap(2 * CHUNK);
    const kernel = this.kernels[fn] as Kernel;
    for (let i = 0; i < src.length; i += CHUNK) {
      const len = Math.min(CHUNK, src.length - i);
      heap.set(src.subarray(i, i + len), 0);
      // Whole blocks of vectors (lanes past len are computed from stale floats and not copied out).
      kernel(0, CHUNK * 4, UNARY_BLOCK * Math.ceil(len / (4 * UNARY_BLOCK)));
      dst.set(heap.subarray(CHUNK, CHUNK + len), i);
    }
  }

  /** `dst[i] = silu(gate[i]) · up[i]` over equal-length arrays: the `silu` kernel's value times up, exactly. */
  swiglu(gate: Float32Array, up: Float32Array, dst: Float32Array): void {
    this.#staged('swiglu', [gate, up], dst);
  }

  /** `dst[i] = (g[i] · up[i]) · silu'(gate[i])` over equal-length arrays: the gate's cotangent of swiglu. */
  swigluGrad(gate: Float32Array, up: Float32Array, g: Float32Array, dst: Float32Array): void {
    this.#staged('swigluGrad', [gate, up, g], dst);
  }

  /**
   * Runs an element-wise kernel of `operands.length` inputs (`kernel(in0, in1, ..., dst, n4)`) chunk by chunk:
   * operand j staged at j · CHUNK, the result written over operand 0's chunk.
   */
  #staged(name: string, operands: readonly Float32Array[], dst: Float32Array): void {
    const heap = wasmHeap(operands.length * CHUNK);
    const kernel = this.kernels[name] as Kernel;
    const addresses = operands.map((_, j) => j * CHUNK * 4);
    for (let i = 0; i < dst.length; i += CHUNK) {
      const len = Math.min(CHUNK, dst.length - i);
      operands.forEach((src, j) => {
        heap.set(src.subarray(i, i + len), j * CHUNK);
      });
      // Whole blocks of vectors, as in `unary`.
      kernel(...addresses, 0, UNARY_BLOCK * Math.ceil(len / (4 * UNARY_BLOCK)));
      dst.set(heap.subarray(0, len), i);
    }
  }

  /**
   * `dst[ids[i]] += src[i]` row by row, rows of `width` floats (a multiple of 4), ids outside [0, rows)
   * skipped. False, with nothing written, where dst would not fit the shared memory's budget.
   */
  scatterAdd(dst: Float32Array, src: Float32Array, ids: Int32Array, rows: number, width: number): boolean {
    const total = rows * width;
    if (total > SCATTER_MAX_FLOATS || width % 4 !== 0 || width === 0) return false;
    const perChunk = Math.max(1, Math.floor(CHUNK / width));
    const [idsAt, srcAt] = [total, total + perChunk];
    const heap = wasmHeap(srcAt + perChunk * width);
    const kernel = this.kernels.scatterAdd as Kernel;
    heap.fill(0, 0, total);
    const heapIds = new Int32Array(heap.buffer, idsAt * 4, perChunk);
    for (let i = 0; i < ids.length; i += perChunk) {
      const n = Math.min(perChunk, ids.length - i);
      heapIds.set(ids.subarray(i, i + n));
      heap.set(src.subarray(i * width, (i + n) * width), srcAt);
      kernel(0, srcAt * 4, idsAt * 4, n, rows, width / 4);
    }
    dst.set(heap.subarray(0, total));
    return true;
  }

  /**
   * `dst[ids[t·k + kk]] += weights[t·k + kk] · src[t]` for the `t` source rows of `width` floats (a multiple of
   * 4) and their `k` terms in order, onto `dst` zeroed first (`rows` rows), ids outside [0, rows) skipped: the
   * adjoint of weightedGather, with the JavaScript loop's bits. False, with nothing written, where dst would
   * not fit the shared memory's budget.
   */
  weightedScatter({ dst, src, ids, weights, rows, t, k, width }: WeightedGatherJob): boolean {
    const total = rows * width;
    if (total > SCATTER_MAX_FLOATS || width % 4 !== 0 || width === 0 || k === 0) return false;
    const perChunk = Math.max(1, Math.floor(CHUNK / width));
    const terms = perChunk * k;
    const [idsAt, wAt, srcAt] = [total, total + terms, total + 2 * terms];
    const heap = wasmHeap(srcAt + perChunk * width);
    const kernel = this.kernels.weightedScatter as Kernel;
    heap.fill(0, 0, total);
    const heapIds = new Int32Array(heap.buffer, idsAt * 4, terms);
    for (let t0 = 0; t0 < t; t0 += perChunk) {
      const n = Math.min(perChunk, t - t0);
      heapIds.set(ids.subarray(t0 * k, (t0 + n) * k));
      heap.set(weights.subarray(t0 * k, (t0 + n) * k), wAt);
      heap.set(src.subarray(t0 * width, (t0 + n) * width), srcAt);
      kernel(0, srcAt * 4, idsAt * 4, wAt * 4, n, k, rows, width / 4);
    }
    dst.set(heap.subarray(0, total));
    return true;
  }

  /**
   * `dst[t] = Σ_kk weights[t·k + kk] · src[ids[t·k + kk]]` for `t` output rows of `width` floats, terms in kk
   * order from a zero row, ids outside [0, rows) skipped: the weightedGather kernel, bit for bit. False, with
   * nothing written, where neither staging below applies (rows narrower than STAGED_MIN_WIDTH floats, or not a
   * multiple of 4, in a source too large to copy whole).
   */
  weightedGather(job: WeightedGatherJob): boolean {
    const { t, k, width, rows } = job;
    if (t === 0 || k === 0 || width === 0) return false;
    if (width % 4 === 0 && rows * width <= GATHER_WHOLE_MAX_FLOATS) {
      this.#weightedGatherWhole(job);
      return true;
    }
    if (width < STAGED_MIN_WIDTH) return false;
    this.#weightedGatherStaged(job);
    return true;
  }

  /**
   * The source copied whole into the shared memory once (one block copy), then output rows a chunk at a time:
   * their ids and weights staged, the kernel reading the source rows in place. Fastest where the source
   * fits: one copy in, however many rows are read, and no per-row JavaScript.
   */
  #weightedGatherWhole({ dst, src, ids, weights, rows, t, k, width }: WeightedGatherJob): void {
    const perChunk = Math.max(1, Math.floor(CHUNK / width));
    const terms = perChunk * k;
    const [outAt, idsAt, wAt] = [0, perChunk * width, perChunk * width + terms];
    const srcAt = wAt + terms;
    const heap = wasmHeap(srcAt + rows * width);
    heap.set(src.subarray(0, rows * width), srcAt);
    const heapIds = new Int32Array(heap.buffer, idsAt * 4, terms);
    const kernel = this.kernels.weightedGather as Kernel;
    for (let t0 = 0; t0 < t; t0 += perChunk) {
      const n = Math.min(perChunk, t - t0);
      const a0 = t0 * k;
      heapIds.set(ids.subarray(a0, a0 + n * k));
      heap.set(weights.subarray(a0, a0 + n * k), wAt);
      kernel(outAt * 4, srcAt * 4, idsAt * 4, wAt * 4, n, k, rows, width / 4);
      dst.set(heap.subarray(outAt, outAt + n * width), t0 * width);
    }
  }

  /**
   * Output rows a chunk at a time, each chunk's source rows copied (padded to whole vectors) into the shared
   * memory in term order, so they are still in cache when the kernel reads them: for sources too large to
   * copy whole, or rows of a width that is not a multiple of 4. Out-of-range ids are staged as -1.
   */
  #weightedGatherStaged({ dst, src, ids, weights, rows, t, k, width }: WeightedGatherJob): void {
    const width4 = Math.ceil(width / 4) * 4;
    const perChunk = Math.max(1, Math.floor(CHUNK / (k * width4)));
    const terms = perChunk * k;
    const [outAt, idsAt, wAt] = [0, perChunk * width4, perChunk * width4 + terms];
    const srcAt = wAt + terms;
    const heap = wasmHeap(srcAt + terms * width4);
    const heapIds = new Int32Array(heap.buffer, idsAt * 4, terms);
    const kernel = this.kernels.weightedGather as Kernel;
    for (let t0 = 0; t0 < t; t0 += perChunk) {
      const n = Math.min(perChunk, t - t0);
      const a0 = t0 * k;
      for (let i = 0; i < n * k; i++) {
        const r = ids[a0 + i] as number;
        if (r < 0 || r >= rows) {
          heapIds[i] = -1;
          continue;
        }
        heapIds[i] = i;
        copyLines(heap, srcAt + i * width4, width4, src, r * width, width, 1, width);
      }
      heap.set(weights.subarray(a0, a0 + n * k), wAt);
      kernel(outAt * 4, srcAt * 4, idsAt * 4, wAt * 4, n, k, n * k, width4 / 4);
      copyLines(dst, t0 * width, width, heap, outAt, width4, n, width);
    }
  }

  /**
   * The indices of the `k` best of each of `rows` contiguous rows of `e` floats (1 <= k <= e) into `top`
   * (rows · k), best first, in the `topk` order (NaN first, larger first, ties to the lower index), rows
   * staged a chunk at a time.
   */
  topk(src: Float32Array, rows: number, e: number, k: number, top: Int32Array): void {
    const perChunk = Math.max(1, Math.floor(CHUNK / e));
    const topAt = perChunk * e;
    const heap = wasmHeap(topAt + perChunk * k);
    const picks = new Int32Array(heap.buffer, topAt * 4, perChunk * k);
    const kernel = this.kernels.topk as Kernel;
    for (let r0 = 0; r0 < rows; r0 += perChunk) {
      const n = Math.min(perChunk, rows - r0);
      heap.set(src.subarray(r0 * e, (r0 + n) * e), 0);
      kernel(0, topAt * 4, n, e, k);
      top.set(picks.subarray(0, n * k), r0 * k);
    }
  }

  /**
   * Softmax of each of `rows` contiguous rows of `n` floats (src and dst of rows · n): the row max (0 where
   * it is not finite), exp(x - max) by the polynomial exp, each divided by the row's f32 sum.
   */
  softmax(src: Float32Array, dst: Float32Array, rows: number, n: number): void {
    const n4 = Math.ceil(n / 4) * 4;
    if (n4 > CHUNK) {
      // One row at a time past the chunk size: the rows stay whole.
      const heap = wasmHeap(2 * n4);
      for (let r = 0; r < rows; r++) this.#softmaxRows(heap, src, dst, r, 1, n, n4);
      return;
    }
    const perBatch = Math.floor(CHUNK / n4);
    const heap = wasmHeap(2 * CHUNK);
    for (let r0 = 0; r0 < rows; r0 += perBatch) {
      this.#softmaxRows(heap, src, dst, r0, Math.min(perBatch, rows - r0), n, n4);
    }
  }

  #softmaxRows(
    heap: Float32Array,
    src: Float32Array,
    dst: Float32Array,
    r0: number,
    count: number,
    n: number,
    n4: number,
  ): void {
    const out = count * n4;
    copyLines(heap, 0, n4, src, r0 * n, n, count, n);
    // Padding lanes hold -Infinity: they add 0 to the sums and never win the max.
    if (n < n4) for (let i = 0; i < count; i++) heap.fill(Number.NEGATIVE_INFINITY, i * n4 + n, (i + 1) * n4);
    (this.kernels.softmax as Kernel)(0, out * 4, count, n4 / 4);
    copyLines(dst, r0 * n, n, heap, out, n4, count, n);
  }

  /** Every row of `job`; at least one operand has stride 1. */
  binary(job: BinaryRows): void {
    const mode: VectorMode = job.aStride === 0 ? 'sv' : job.bStride === 0 ? 'vs' : 'vv';
    const kernel = this.kernels[`${job.fn}${mode}`] as Kernel;
    const heap = wasmHeap(3 * CHUNK);
    const [aAt, bAt, dAt] = [0, CHUNK, 2 * CHUNK];
    const { d, row, rows } = job;
    const row4 = Math.ceil(row / 4) * 4;
    if (row4 > CHUNK) {
      // Long rows go by pieces of CHUNK floats.
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < row; j += CHUNK) {
          const len = Math.min(CHUNK, row - j);
          stage(heap, aAt, job.a, job.aOffsets[r] as number, job.aStride, j, len);
          stage(heap, bAt, job.b, job.bOffsets[r] as number, job.bStride, j, len);
          kernel(aAt * 4, bAt * 4, dAt * 4, 1, Math.ceil(len / 4));
          d.set(heap.subarray(dAt, dAt + len), r * row + j);
        }
      }
      return;
    }
    const perBatch = Math.floor(CHUNK / row4);
    const aBlock = job.aStride === 1 && consecutive(job.aOffsets, row);
    const bBlock = job.bStride === 1 && consecutive(job.bOffsets, row);
    for (let r0 = 0; r0 < rows; r0 += perBatch) {
      const n = Math.min(perBatch, rows - r0);
      stageRows(heap, aAt, job.a, job.aOffsets, job.aStride, aBlock, r0, n, row, row4);
      stageRows(heap, bAt, job.b, job.bOffsets, job.bStride, bBlock, r0, n, row, row4);
      kernel(aAt * 4, bAt * 4, dAt * 4, n, row4 / 4);
      copyLines(d, r0 * row, row, heap, dAt, row4, n, row);
    }
  }
}

/** Whether row r starts at offsets[0] + r * row for every r: the rows are one block. */
function consecutive(offsets: Int32Array, row: number): boolean {
  const first = offsets[0] as number;
  for (let r = 1; r < offsets.length; r++) if (offsets[r] !== first + r * row) return false;
  return true;
}

/** Copies `len` floats of one row from `j` (or its one value, stride 0) to `heap` at `at`. */
function stage(
  heap: Float32Array,
  at: number,
  src: Float32Array,
  offset: number,
  stride: 0 | 1,
  j: number,
  len: number,
): void {
  if (stride === 0) heap[at] = src[offset] as number;
  else heap.set(src.subarray(offset + j, offset + j + len), at);
}

/**
 * Copies rows r0 ... r0 + n - 1 to `heap` at `at`, `row4` floats apart (one run of runs when the rows are
 * consecutive in `src`), or one value a row (stride 0).
 */
function stageRows(
  heap: Float32Array,
  at: number,
  src: Float32Array,
  offsets: Int32Array,
  stride: 0 | 1,
  block: boolean,
  r0: number,
  n: number,
  row: number,
  row4: number,
): void {
  if (stride === 0) {
    for (let i = 0; i < n; i++) heap[at + i] = src[offsets[r0 + i] as number] as number;
  } else if (block) copyLines(heap, at, row4, src, offsets[r0] as number, row, n, row);
  else {
    for (let i = 0; i < n; i++)
      copyLines(heap, at + i * row4, row, src, offsets[r0 + i] as number, row, 1, row);
  }
}

let compiled: WasmVector | null | undefined;
let compiledMemory: WebAssembly.Memory | undefined;

/**
 * The vector-math module, compiled on first use and again if the memory was replaced by a shared one; null
 * where this engine lacks WebAssembly SIMD.
 */
export function wasmVector(): WasmVector | null {
  if (compiled !== undefined && compiledMemory === wasmMemory()) return compiled;
  compiledMemory = wasmMemory();
  const bytes = vectorModuleBytes(sharedMaxPages());
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes)) {
    compiled = null;
    return compiled;
  }
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: wasmMemory() } });
  const exports = instance.exports as unknown as Record<string, Kernel>;
  const names = [
    ...VECTOR_UNARY,
    ...VECTOR_BINARY.flatMap((fn) => VECTOR_MODES.map((m) => `${fn}${m}`)),
    'scatterAdd',
    'weightedGather',
    'weightedScatter',
    'softmax',
    'swiglu',
    'swigluGrad',
    'topk',
  ];
  compiled = new WasmVector(Object.fromEntries(names.map((name) => [name, exports[name] as Kernel])));
  return compiled;
}

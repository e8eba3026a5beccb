// Every CPU matrix product (matmul, groupedMatmul, groupedMatmulGradW) goes through `gemmBatch`, which picks
// the WebAssembly SIMD GEMM where it runs and the problem repays packing, and the JavaScript GEMM otherwise.

import { gemm, transposeBlock } from './gemm.js';
import { wasmGemm } from './wasm-gemm.js';

/**
 * A batch of products C_t[m, n] = A_t[m, k] @ B_t[k, n], t < aOffsets.length. Element (i, p) of A_t is
 * `a[aOffsets[t] + i * aRowStride + p * aColStride]` (a transposed operand is only a change of strides), likewise
 * for B_t; C_t is written at `c[cOffsets[t] + i * ldc + j]`, whatever was there before (zeros when k is 0).
 * One of each operand's strides is 1 and the other is at least its extent along the contiguous axis.
 */
export interface GemmBatch {
  m: number;
  n: number;
  k: number;
  a: Float32Array;
  aOffsets: ArrayLike<number>;
  aRowStride: number;
  aColStride: number;
  b: Float32Array;
  bOffsets: ArrayLike<number>;
  bRowStride: number;
  bColStride: number;
  /**
   * `b` is a tensor storage, unchanged until it is recycled: the WebAssembly GEMM may keep its packed panels
   * for later products (packed-operands.ts).
   */
  bStored?: boolean;
  c: Float32Array;
  cOffsets: ArrayLike<number>;
  ldc: number;
}

/**
 * When the WebAssembly GEMM repays copying and packing through its memory: at least 512 multiply-adds, and
 * enough per row of C (k >= 2, n * k >= 16) that the kernel's fixed cost per tile of rows does not dominate.
 * Measured against the JavaScript GEMM: 8 x 8 x 8 is even untransposed and 2x faster in wasm with a transposed
 * operand; 4 x 4 x 4 and outer products (k = 1) such as 1024 x 1 x 1 are up to 2x faster in JavaScript.
 */
function worthWasm(m: number, n: number, k: number): boolean {
  return m * n * k >= 512 && k >= 2 && n * k >= 16;
}

/** Computes every product of `batch`, on the fastest path available. */
export function gemmBatch(batch: GemmBatch): void {
  const { m, n, k } = batch;
  if (m === 0 || n === 0 || batch.aOffsets.length === 0) return;
  if (k === 0) {
    zeroC(batch);
    return;
  }
  const wasm = worthWasm(m, n, k) ? wasmGemm() : null;
  if (wasm) wasm.run(batch);
  else jsGemmBatch(batch);
}

/** Zeroes every C_t of the batch. */
function zeroC({ m, n, c, cOffsets, ldc }: GemmBatch): void {
  for (let t = 0; t < cOffsets.length; t++) {
    for (let i = 0, at = cOffsets[t] as number; i < m; i++, at += ldc) c.fill(0, at, at + n);
  }
}

/**
 * The JavaScript path of `gemmBatch`: C is zeroed, then accumulated into; a transposed operand is copied
 * row-major, once while consecutive products share it.
 */
export function jsGemmBatch(batch: GemmBatch): void {
  const { m, n, k, c, ldc } = batch;
  zeroC(batch);
  let aCopy: Float32Array | undefined;
  let bCopy: Float32Array | undefined;
  let aCopied = 0;
  let bCopied = 0;
  for (let t = 0; t < batch.aOffsets.length; t++) {
    let a = batch.a;
    let aOff = batch.aOffsets[t] as number;
    let lda = batch.aRowStride;
    if (batch.aColStride !== 1) {
      if (!aCopy || aOff !== aCopied) aCopy = transposeBlock(a, aOff, k, m, batch.aColStride);
      aCopied = aOff;
      a = aCopy;
      aOff = 0;
      lda = k;
    }
    let b = batch.b;
    let bOff = batch.bOffsets[t] as number;
    let ldb = batch.bRowStride;
    if (batch.bColStride !== 1) {
      if (!bCopy || bOff !== bCopied) bCopy = transposeBlock(b, bOff, n, k, batch.bColStride);
      bCopied = bOff;
      b = bCopy;
      bOff = 0;
      ldb = n;
    }
    gemm(a, aOff, lda, b, bOff, ldb, c, batch.cOffsets[t] as number, ldc, m, n, k);
  }
}

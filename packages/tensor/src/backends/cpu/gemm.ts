// Cache-blocked single-precision GEMM in plain JavaScript: C[M, N] += A[M, K] @ B[K, N], all row-major with
// explicit offsets and leading dimensions. K and N are blocked so a panel of B stays in cache, and four rows
// of A are processed together so each loaded row of B is used four times. It is the reference for the
// WebAssembly GEMM, serves shapes too small to repay packing, and runs where WebAssembly SIMD does not.

const KC = 256;
const NC = 1024;

/** C[m, n] += A[m, k] @ B[k, n] over row-major blocks at the given offsets and leading dimensions. */
export function gemm(
  a: Float32Array,
  aOff: number,
  lda: number,
  b: Float32Array,
  bOff: number,
  ldb: number,
  c: Float32Array,
  cOff: number,
  ldc: number,
  m: number,
  n: number,
  k: number,
): void {
  for (let n0 = 0; n0 < n; n0 += NC) {
    const n1 = Math.min(n, n0 + NC);
    for (let k0 = 0; k0 < k; k0 += KC) {
      const k1 = Math.min(k, k0 + KC);
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        const r0 = cOff + i * ldc;
        const r1 = r0 + ldc;
        const r2 = r1 + ldc;
        const r3 = r2 + ldc;
        const a0 = aOff + i * lda;
        for (let p = k0; p < k1; p++) {
          const x0 = a[a0 + p] as number;
          const x1 = a[a0 + lda + p] as number;
          const x2 = a[a0 + 2 * lda + p] as number;
          const x3 = a[a0 + 3 * lda + p] as number;
          const bRow = bOff + p * ldb;
          for (let j = n0; j < n1; j++) {
            const y = b[bRow + j] as number;
            c[r0 + j] = (c[r0 + j] as number) + x0 * y;
            c[r1 + j] = (c[r1 + j] as number) + x1 * y;
            c[r2 + j] = (c[r2 + j] as number) + x2 * y;
            c[r3 + j] = (c[r3 + j] as number) + x3 * y;
          }
        }
      }
      for (; i < m; i++) {
        const r = cOff + i * ldc;
        const a0 = aOff + i * lda;
        for (let p = k0; p < k1; p++) {
          const x = a[a0 + p] as number;
          const bRow = bOff + p * ldb;
          for (let j = n0; j < n1; j++) c[r + j] = (c[r + j] as number) + x * (b[bRow + j] as number);
        }
      }
    }
  }
}

/**
 * Transposes the rows x cols block at `off` (rows `ld` apart, `cols` by default) into a new row-major array of
 * cols x rows.
 */
export function transposeBlock(
  src: Float32Array,
  off: number,
  rows: number,
  cols: number,
  ld = cols,
): Float32Array {
  const dst = new Float32Array(rows * cols);
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    for (let c0 = 0; c0 < cols; c0 += T) {
      const r1 = Math.min(rows, r0 + T);
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++)
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[off + r * ld + c] as number;
    }
  }
  return dst;
}

import type { AnyHostArray } from '../../dtype.js';
import { broadcastIndex, sizeOf } from '../../shape.js';
import type { KernelInput, KernelOutput } from '../backend.js';
import { gemmBatch } from './gemm-batch.js';
import { overwrittenF32 } from './host-pool.js';

type In = KernelInput<AnyHostArray>;

/** Batched matmul with broadcast batch axes; a transposed operand is only a change of strides. */
export function matmulKernel(
  [a, b]: readonly In[],
  { transA, transB }: { transA: boolean; transB: boolean },
  out: KernelOutput,
): AnyHostArray {
  const ta = a as In;
  const tb = b as In;
  const m = out.shape.at(-2) as number;
  const n = out.shape.at(-1) as number;
  const k = (transA ? ta.shape.at(-2) : ta.shape.at(-1)) as number;
  const batchShape = out.shape.slice(0, -2);
  const batch = sizeOf(batchShape);
  const c = overwrittenF32(batch * m * n);
  const ia = broadcastIndex(ta.shape.slice(0, -2), batchShape);
  const ib = broadcastIndex(tb.shape.slice(0, -2), batchShape);
  const aOffsets = new Array<number>(batch);
  const bOffsets = new Array<number>(batch);
  const cOffsets = new Array<number>(batch);
  for (let t = 0; t < batch; t++) {
    aOffsets[t] = (ia ? (ia[t] as number) : t) * m * k;
    bOffsets[t] = (ib ? (ib[t] as number) : t) * k * n;
    cOffsets[t] = t * m * n;
  }
  gemmBatch({
    m,
    n,
    k,
    a: ta.data as Float32Array,
    aOffsets,
    aRowStride: transA ? 1 : k,
    aColStride: transA ? m : 1,
    b: tb.data as Float32Array,
    bOffsets,
    bRowStride: transB ? 1 : n,
    bColStride: transB ? k : 1,
    bStored: true,
    c,
    cOffsets,
    ldc: n,
  });
  return c;
}

/** Segment bounds from offsets, clamped so malformed offsets can never read out of bounds. */
function segment(offsets: AnyHostArray, e: number, rows: number): [number, number] {
  const lo = Math.min(Math.max(offsets[e] as number, 0), rows);
  const hi = Math.min(Math.max(offsets[e + 1] as number, lo), rows);
  return [lo, hi];
}

/**
 * y_RN[seg e] = x_RK[seg e] @ w_EKN[e] (w_ENK transposed with `transW`); rows past offsets[E] stay zero. Where
 * malformed offsets make segments overlap, the overlapping rows get the sum of their experts' products, as on
 * WebGPU.
 */
export function groupedMatmulKernel(
  [x, w, offsets]: readonly In[],
  { transW }: { transW: boolean },
  out: KernelOutput,
): AnyHostArray {
  const tx = x as In;
  const tw = w as In;
  const [rows, k] = tx.shape as [number, number];
  const n = out.shape[1] as number;
  const experts = tw.shape[0] as number;
  const y = overwrittenF32(rows * n);
  // Rows below `written` hold their segments' products or zeros; the rows no segment covers are zeroed.
  let written = 0;
  for (let e = 0; e < experts; e++) {
    const [lo, hi] = segment((offsets as In).data, e, rows);
    const overlap = lo < written && lo < hi;
    if (lo > written) y.fill(0, written * n, lo * n);
    if (overlap && hi > written) y.fill(0, written * n, hi * n);
    written = Math.max(written, hi);
    const c = overlap ? new Float32Array((hi - lo) * n) : y;
    gemmBatch({
      m: hi - lo,
      n,
      k,
      a: tx.data as Float32Array,
      aOffsets: [lo * k],
      aRowStride: k,
      aColStride: 1,
      b: tw.data as Float32Array,
      bOffsets: [e * k * n],
      bRowStride: transW ? 1 : n,
      bColStride: transW ? k : 1,
      bStored: true,
      c,
      cOffsets: [overlap ? 0 : lo * n],
      ldc: n,
    });
    if (overlap)
      for (let i = 0, at = lo * n; i < c.length; i++, at++) y[at] = (y[at] as number) + (c[i] as number);
  }
  y.fill(0, written * n);
  return y;
}

/** dw_EKN[e] = x_RK[seg e]^T @ dy_RN[seg e]; an empty segment gives zeros. */
export function groupedMatmulGradWKernel(
  [x, dy, offsets]: readonly In[],
  _attrs: unknown,
  out: KernelOutput,
): AnyHostArray {
  const tx = x as In;
  const [rows, k] = tx.shape as [number, number];
  const n = (dy as In).shape[1] as number;
  const experts = out.shape[0] as number;
  // Each expert's block is its product, zeros for an empty segment (k = 0).
  const dw = overwrittenF32(experts * k * n);
  for (let e = 0; e < experts; e++) {
    const [lo, hi] = segment((offsets as In).data, e, rows);
    gemmBatch({
      m: k,
      n,
      k: hi - lo,
      a: tx.data as Float32Array,
      aOffsets: [lo * k],
      aRowStride: 1,
      aColStride: k,
      b: (dy as In).data as Float32Array,
      bOffsets: [lo * n],
      bRowStride: n,
      bColStride: 1,
      c: dw,
      cOffsets: [e * k * n],
      ldc: n,
    });
  }
  return dw;
}

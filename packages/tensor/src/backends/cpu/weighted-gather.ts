// The weightedGather kernel: out[t] = Σ_k weights[t, k] · src[rows[t, k]], the MoE combine as one pass.
//
// Arithmetic: every product w · x is rounded to f32, then added to an f32 accumulator that starts at +0, terms
// in k order. That is what `scatterAdd(mul(src_rows, w), token, T)` computes (mul rounds each product to
// f32, scatterAdd adds into a zeroed f32 row), so for K <= 2 the two agree bit for bit, and for larger K they
// differ only by the order of the additions. The WebAssembly path (f32x4.mul then f32x4.add, no fused
// multiply-add) gives the same bits as the JavaScript loop.

import type { AnyHostArray } from '../../dtype.js';
import { sizeOf } from '../../shape.js';
import type { KernelInput } from '../backend.js';
import { outputF32 } from './host-pool.js';
import { WASM_MIN, type WeightedGatherJob, wasmVector } from './wasm-vector.js';

type In = KernelInput<AnyHostArray>;

export function weightedGatherKernel([src, rows, weights]: readonly In[], _attrs: unknown): AnyHostArray {
  const x = src as In;
  const r = x.shape[0] as number;
  const width = sizeOf(x.shape.slice(1));
  const [t, k] = (rows as In).shape as [number, number];
  const dst = outputF32(t * width);
  if (t === 0 || k === 0 || width === 0) return dst;
  const s = x.data as Float32Array;
  const ids = (rows as In).data as Int32Array;
  const w = (weights as In).data as Float32Array;
  // WebAssembly for outputs of at least WASM_MIN floats (it declines sources it cannot stage well).
  const wasm = t * width >= WASM_MIN ? wasmVector() : null;
  const job = { dst, src: s, ids, weights: w, rows: r, t, k, width };
  if (!wasm?.weightedGather(job)) weightedGatherJs(job);
  return dst;
}

/** The JavaScript loop of weightedGatherKernel (also its reference in tests). */
export function weightedGatherJs({ dst, src, ids, weights, rows, t, k, width }: WeightedGatherJob): void {
  for (let i = 0; i < t; i++) {
    const o = i * width;
    for (let kk = 0; kk < k; kk++) {
      const a = i * k + kk;
      const row = ids[a] as number;
      if (row < 0 || row >= rows) continue;
      const wt = weights[a] as number;
      const base = row * width;
      for (let j = 0; j < width; j++)
        dst[o + j] = (dst[o + j] as number) + Math.fround(wt * (src[base + j] as number));
    }
  }
}

/**
 * The weightedGatherGrad kernel, inputs [src, rows, weights, g]. 'src': each product weights[t, k] · g[t]
 * rounded to f32 and added into its row of a zeroed f32 output, in (t, k) order: `scatterAdd(mul(g, w), rows)`
 * bit for bit (in WebAssembly from WASM_MIN products, same bits). 'weights': the products g[t] · src[rows[t, k]]
 * rounded to f32 and summed in float64 in element order, rounded once: `sum(mul(gather(src, rows), g), -1)` bit
 * for bit. Rows out of range give and get 0.
 */
export function weightedGatherGradKernel(
  [src, rows, weights, g]: readonly In[],
  { wrt }: { wrt: 'src' | 'weights' },
): AnyHostArray {
  const x = src as In;
  const r = x.shape[0] as number;
  const width = sizeOf(x.shape.slice(1));
  const [t, k] = (rows as In).shape as [number, number];
  const ids = (rows as In).data as Int32Array;
  const gs = (g as In).data as Float32Array;
  if (wrt === 'src') {
    const dst = outputF32(r * width);
    const job = { dst, src: gs, ids, weights: (weights as In).data as Float32Array, rows: r, t, k, width };
    const wasm = t * k * width >= WASM_MIN ? wasmVector() : null;
    if (!wasm?.weightedScatter(job)) weightedScatterJs(job);
    return dst;
  }
  const dst = outputF32(t * k);
  const s = x.data as Float32Array;
  for (let a = 0; a < t * k; a++) {
    const row = ids[a] as number;
    if (row < 0 || row >= r) continue;
    const [base, o] = [row * width, Math.floor(a / k) * width];
    let acc = 0;
    for (let j = 0; j < width; j++) acc += Math.fround((s[base + j] as number) * (gs[o + j] as number));
    dst[a] = acc;
  }
  return dst;
}

/**
 * `dst[ids[i·k + kk]] += weights[i·k + kk] · src[i]` over the `t` rows of src and their terms in order, into a
 * zeroed dst of `rows` rows: the JavaScript loop of weightedGatherGrad 'src' (also its reference in tests).
 */
export function weightedScatterJs({ dst, src, ids, weights, rows, t, k, width }: WeightedGatherJob): void {
  for (let a = 0; a < t * k; a++) {
    const row = ids[a] as number;
    if (row < 0 || row >= rows) continue;
    const wt = weights[a] as number;
    const [base, o] = [row * width, Math.floor(a / k) * width];
    for (let j = 0; j < width; j++)
      dst[base + j] = (dst[base + j] as number) + Math.fround(wt * (src[o + j] as number));
  }
}

import type { AnyHostArray } from '../../dtype.js';
import { sizeOf } from '../../shape.js';
import type { KernelInput, KernelOutput } from '../backend.js';
import { outputArray, outputF32 } from './host-pool.js';
import { permute } from './layout.js';
import { WASM_MIN, wasmVector } from './wasm-vector.js';

type In = KernelInput<AnyHostArray>;

/** Moves `axes` to the end: returns the data as [outer, inner] rows with the reduced axes inner. */
function rows(x: In, axes: readonly number[]): { data: AnyHostArray; outer: number; inner: number } {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const perm = [...kept, ...axes];
  const inner = sizeOf(axes.map((a) => x.shape[a] as number));
  const outer = sizeOf(kept.map((a) => x.shape[a] as number));
  const identity = perm.every((p, i) => p === i);
  return { data: identity ? x.data : permute(x.data, x.shape, perm), outer, inner };
}

/**
 * The dims of `shape` with size-1 dims dropped and neighbours merged when both are reduced or both kept:
 * alternating groups, e.g. sum over the leading axes of [B, T, D] is `[{B*T, reduced}, {D, kept}]`.
 */
function groups(shape: readonly number[], axes: readonly number[]): { size: number; reduced: boolean }[] {
  const out: { size: number; reduced: boolean }[] = [];
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d] as number;
    if (size === 1) continue;
    const reduced = axes.includes(d);
    const last = out[out.length - 1];
    if (last && last.reduced === reduced) last.size *= size;
    else out.push({ size, reduced });
  }
  return out;
}

/** `dst[o] = fn over data[o * inner + j], j < inner`: reduces contiguous rows (the reduced axes inner). */
function reduceRows(
  fn: 'sum' | 'max' | 'min',
  data: AnyHostArray,
  dst: AnyHostArray,
  outer: number,
  inner: number,
): void {
  for (let o = 0, base = 0; o < outer; o++, base += inner) {
    const end = base + inner;
    if (fn === 'sum') {
      let acc = 0;
      for (let j = base; j < end; j++) acc += data[j] as number;
      dst[o] = acc;
    } else {
      let acc = data[base] as number;
      const max = fn === 'max';
      for (let j = base + 1; j < end; j++) {
        const v = data[j] as number;
        if (Number.isNaN(acc)) break;
        if (Number.isNaN(v) || (max ? v > acc : v < acc)) acc = v;
      }
      dst[o] = acc;
    }
  }
}

let scratch = new Float64Array(256);

/** A float64 scratch buffer of at least `n` elements, reused between calls (kernels run one at a time). */
function scratchOf(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, 2 * scratch.length));
  return scratch;
}

/**
 * Reduces x viewed as [outer, r, inner] over its middle axis, accumulating whole rows of `inner` in float64
 * in the order of r: the same additions, in the same order, as reducing each output's line on its own.
 */
function reduceMiddle(
  fn: 'sum' | 'max' | 'min',
  data: AnyHostArray,
  dst: AnyHostArray,
  outer: number,
  r: number,
  inner: number,
): void {
  const acc = scratchOf(inner);
  const max = fn === 'max';
  for (let o = 0; o < outer; o++) {
    const base = o * r * inner;
    if (fn === 'sum') {
      acc.fill(0, 0, inner);
      for (let k = 0, at = base; k < r; k++)
        for (let j = 0; j < inner; j++, at++) acc[j] = (acc[j] as number) + (data[at] as number);
    } else {
      for (let j = 0; j < inner; j++) acc[j] = data[base + j] as number;
      for (let k = 1, at = base + inner; k < r; k++) {
        for (let j = 0; j < inner; j++, at++) {
          const a = acc[j] as number;
          const v = data[at] as number;
          if (!Number.isNaN(a) && (Number.isNaN(v) || (max ? v > a : v < a))) acc[j] = v;
        }
      }
    }
    const o0 = o * inner;
    for (let j = 0; j < inner; j++) dst[o0 + j] = acc[j] as number;
  }
}

export function reduceKernel(
  [x]: readonly In[],
  { fn, axes }: { fn: 'sum' | 'max' | 'min'; axes: number[] },
  out: KernelOutput,
): AnyHostArray {
  const t = x as In;
  const dst = outputArray(out.dtype, sizeOf(out.shape));
  if (t.data.length > 0) {
    const g = groups(t.shape, axes);
    const [g0, g1, g2] = g;
    if (g.length === 0 || (g.length === 1 && !g0?.reduced)) {
      // Nothing to reduce but size-1 axes: a copy.
      dst.set(t.data);
      return dst;
    }
    if (g.length <= 2 && g[g.length - 1]?.reduced) {
      // [r] or [outer, r]: contiguous rows.
      const inner = (g[g.length - 1] as { size: number }).size;
      reduceRows(fn, t.data, dst, t.data.length / inner, inner);
      return dst;
    }
    if (g0 && g1 && g.length <= 3 && !g[g.length - 1]?.reduced) {
      // [r, inner] or [outer, r, inner]: leading or middle axes, accumulated row by row.
      const [outer, mid] = g0.reduced ? [1, g0] : [g0.size, g1];
      reduceMiddle(fn, t.data, dst, outer, mid.size, (g2 ?? g1).size);
      return dst;
    }
  }
  const { data, outer, inner } = rows(t, axes);
  reduceRows(fn, data, dst, outer, inner);
  return dst;
}

export function argReduceKernel(
  [x]: readonly In[],
  { fn, axis }: { fn: 'max' | 'min'; axis: number },
  out: KernelOutput,
): AnyHostArray {
  const { data, outer, inner } = rows(x as In, [axis]);
  const dst = outputArray(out.dtype, outer);
  for (let o = 0; o < outer; o++) {
    const base = o * inner;
    let best = 0;
    let acc = data[base] as number;
    for (let j = 1; j < inner && !Number.isNaN(acc); j++) {
      const v = data[base + j] as number;
      if (Number.isNaN(v) || (fn === 'max' ? v > acc : v < acc)) {
        acc = v;
        best = j;
      }
    }
    dst[o] = best;
  }
  return dst;
}

/**
 * `Math.exp(x)`, skipping the call where the result underflows to 0 anyway (below about -745.13): the masked
 * scores of causal attention, half of each line.
 */
function expOrZero(x: number): number {
  return x < -746 ? 0 : Math.exp(x);
}

/**
 * Softmax (or log-softmax) of one line of `n` elements, `stride` apart from `start`: the exponentials are
 * computed once into the float64 scratch, so the results are those of computing them twice.
 */
function softmaxLine(
  src: AnyHostArray,
  dst: Float32Array,
  start: number,
  stride: number,
  n: number,
  log: boolean,
  e: Float64Array,
): void {
  let m = Number.NEGATIVE_INFINITY;
  for (let j = 0, at = start; j < n; j++, at += stride) m = Math.max(m, src[at] as number);
  if (!Number.isFinite(m)) m = 0;
  let s = 0;
  if (log) {
    for (let j = 0, at = start; j < n; j++, at += stride) s += expOrZero((src[at] as number) - m);
    const lse = m + Math.log(s);
    for (let j = 0, at = start; j < n; j++, at += stride) dst[at] = (src[at] as number) - lse;
  } else {
    for (let j = 0, at = start; j < n; j++, at += stride) {
      const v = expOrZero((src[at] as number) - m);
      e[j] = v;
      s += v;
    }
    for (let j = 0, at = start; j < n; j++, at += stride) dst[at] = (e[j] as number) / s;
  }
}

function softmaxLike(x: In, axis: number, log: boolean): Float32Array {
  const src = x.data;
  const dst = outputF32(src.length);
  const n = x.shape[axis] as number;
  const inner = sizeOf(x.shape.slice(axis + 1));
  const outer = sizeOf(x.shape.slice(0, axis));
  // Rows along the last axis go to the WebAssembly kernel (f32 sums, polynomial exp: within a few ulp).
  const wasm = !log && inner === 1 && n >= 4 && src.length >= WASM_MIN ? wasmVector() : null;
  if (wasm && src instanceof Float32Array) {
    wasm.softmax(src, dst, outer, n);
    return dst;
  }
  const e = scratchOf(n);
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    for (let i = 0; i < inner; i++) softmaxLine(src, dst, base + i, inner, n, log, e);
  }
  return dst;
}

export function softmaxKernel([x]: readonly In[], { axis }: { axis: number }): AnyHostArray {
  return softmaxLike(x as In, axis, false);
}

export function logSoftmaxKernel([x]: readonly In[], { axis }: { axis: number }): AnyHostArray {
  return softmaxLike(x as In, axis, true);
}

export function cumsumKernel(
  [x]: readonly In[],
  { axis, exclusive, reverse }: { axis: number; exclusive: boolean; reverse: boolean },
  out: KernelOutput,
): AnyHostArray {
  const t = x as In;
  const src = t.data;
  const dst = outputArray(out.dtype, src.length);
  const n = t.shape[axis] as number;
  const inner = sizeOf(t.shape.slice(axis + 1));
  const outer = sizeOf(t.shape.slice(0, axis));
  // Walks each line from its first (or, reversed, last) element with a signed step.
  const step = reverse ? -inner : inner;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let at = o * n * inner + i + (reverse ? (n - 1) * inner : 0);
      let acc = 0;
      if (exclusive) {
        for (let k = 0; k < n; k++, at += step) {
          const v = src[at] as number;
          dst[at] = acc;
          acc += v;
        }
      } else {
        for (let k = 0; k < n; k++, at += step) {
          acc += src[at] as number;
          dst[at] = acc;
        }
      }
    }
  }
  return dst;
}

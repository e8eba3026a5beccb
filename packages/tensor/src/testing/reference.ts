// Float64 reference implementations for the conformance suite. Everything here is plain loops over host
// arrays, written independently of the library's ops and kernels (no imports from them), so a backend is
// checked against arithmetic that does not share its code paths.

import type { BinaryFn, CompareFn, UnaryFn } from '../primitives.js';

export type HostShape = readonly number[];

/** A host-side tensor: row-major values of `shape`. */
export interface HostTensor {
  shape: number[];
  values: number[];
}

export function sizeOfShape(shape: HostShape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOfShape(shape: HostShape): number[] {
  const s = new Array<number>(shape.length).fill(0);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i] as number;
  }
  return s;
}

/** Multi-index of flat index `i` in `shape`. */
export function unravel(i: number, shape: HostShape): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  let rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d] as number;
    idx[d] = rest % n;
    rest = Math.floor(rest / n);
  }
  return idx;
}

/** Flat index of multi-index `idx` in `shape`. */
export function ravel(idx: readonly number[], shape: HostShape): number {
  let flat = 0;
  for (let d = 0; d < shape.length; d++) flat = flat * (shape[d] as number) + (idx[d] as number);
  return flat;
}

// ---------------------------------------------------------------------------------------------------------
// Broadcasting and elementwise functions

/** NumPy broadcasting of any number of shapes. */
export function broadcastShape(...shapes: HostShape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const d = s[i] as number;
      const o = rank - s.length + i;
      const cur = out[o] as number;
      if (cur === 1) out[o] = d;
      else if (d !== 1 && d !== cur) throw new Error(`reference: cannot broadcast [${shapes.join('] [')}]`);
    }
  }
  return out;
}

/** The flat index into an input of `shape` read by output multi-index `outIdx` under broadcasting. */
function broadcastSource(outIdx: readonly number[], shape: HostShape): number {
  const offset = outIdx.length - shape.length;
  let flat = 0;
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d] as number;
    flat = flat * n + (n === 1 ? 0 : (outIdx[d + offset] as number));
  }
  return flat;
}

/** Applies `f` elementwise over broadcast inputs. */
export function elementwise(
  inputs: readonly { values: ArrayLike<number>; shape: HostShape }[],
  f: (...v: number[]) => number,
): HostTensor {
  const shape = broadcastShape(...inputs.map((t) => t.shape));
  const n = sizeOfShape(shape);
  const values: number[] = [];
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    values.push(f(...inputs.map((t) => t.values[broadcastSource(idx, t.shape)] as number)));
  }
  return { shape, values };
}

/** erf in float64: Maclaurin series below 3, the Laplace continued fraction for erfc above. */
export function erfRef(x: number): number {
  const z = Math.abs(x);
  if (z === 0) return x;
  if (z < 3) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-18 * Math.abs(sum)) break;
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * sum);
  }
  if (z > 10) return Math.sign(x);
  let t = z;
  for (let k = 80; k >= 1; k--) t = z + k / 2 / t;
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / t;
  return Math.sign(x) * (1 - erfc);
}

export const UNARY_REF: { readonly [F in UnaryFn]: (x: number) => number } = {
  neg: (x) => -x,
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: (x) => Math.tanh(x),
  abs: (x) => Math.abs(x),
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  relu: (x) => Math.max(x, 0),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  softplus: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
  entr: (x) => (x > 0 ? -x * Math.log(x) : x === 0 ? 0 : x < 0 ? Number.NEGATIVE_INFINITY : x),
  gelu: (x) => 0.5 * x * (1 + erfRef(x / Math.SQRT2)),
  geluTanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  silu: (x) => x / (1 + Math.exp(-x)),
  erf: erfRef,
  sin: (x) => Math.sin(x),
  cos: (x) => Math.cos(x),
  floor: (x) => Math.floor(x),
  not: (x) => (x === 0 ? 1 : 0),
};

/** Floored modulo (the sign of the divisor), as Python's `%`. */
export function flooredMod(a: number, b: number): number {
  if (Number.isInteger(a) && Number.isInteger(b)) return ((a % b) + b) % b;
  return a - b * Math.floor(a / b);
}

export const BINARY_REF: { readonly [F in BinaryFn]: (a: number, b: number) => number } = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  maximum: (a, b) => Math.max(a, b),
  minimum: (a, b) => Math.min(a, b),
  mod: flooredMod,
  and: (a, b) => (a !== 0 && b !== 0 ? 1 : 0),
  or: (a, b) => (a !== 0 || b !== 0 ? 1 : 0),
};

/** Integer versions for i32 results: two's complement wrapping. */
export const BINARY_I32_REF: {
  readonly [F in 'add' | 'sub' | 'mul' | 'maximum' | 'minimum' | 'mod']: (a: number, b: number) => number;
} = {
  add: (a, b) => wrapI32(a + b),
  sub: (a, b) => wrapI32(a - b),
  mul: (a, b) => Number(BigInt.asIntN(32, BigInt(a) * BigInt(b))),
  maximum: (a, b) => Math.max(a, b),
  minimum: (a, b) => Math.min(a, b),
  mod: (a, b) => wrapI32(flooredMod(a, b)),
};

export const COMPARE_REF: { readonly [F in CompareFn]: (a: number, b: number) => number } = {
  eq: (a, b) => Number(a === b),
  ne: (a, b) => Number(a !== b),
  lt: (a, b) => Number(a < b),
  le: (a, b) => Number(a <= b),
  gt: (a, b) => Number(a > b),
  ge: (a, b) => Number(a >= b),
};

/** Wraps an integer-valued number to int32 (two's complement), via BigInt. */
export function wrapI32(v: number): number {
  return Number(BigInt.asIntN(32, BigInt(v)));
}

// ---------------------------------------------------------------------------------------------------------
// Dtype rounding and casts

/** floor(log2(|v|)) exactly, for finite non-zero v. */
function exponentOf(v: number): number {
  const a = Math.abs(v);
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  return e;
}

/** Rounds to an integer, ties to even. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const diff = v - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Rounds to a binary floating-point format with `mantBits` stored mantissa bits, minimum normal exponent
 * `minExp` and overflow at 2^(maxExp + 1), ties to even (subnormals included).
 */
function roundToFormat(v: number, mantBits: number, minExp: number, maxExp: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const e = Math.max(exponentOf(v), minExp);
  const quantum = 2 ** (e - mantBits);
  const r = roundHalfEven(v / quantum) * quantum;
  if (Math.abs(r) >= 2 ** (maxExp + 1)) return Math.sign(v) * Number.POSITIVE_INFINITY;
  return r === 0 ? (v < 0 ? -0 : 0) : r;
}

/** The nearest f32 (ties to even). */
export function roundF32(v: number): number {
  return roundToFormat(v, 23, -126, 127);
}

/** The nearest IEEE binary16 value (ties to even; overflow to infinity). */
export function roundF16(v: number): number {
  return roundToFormat(v, 10, -14, 15);
}

/** The nearest bfloat16 value (ties to even; overflow to infinity). */
export function roundBf16(v: number): number {
  return roundToFormat(v, 7, -126, 127);
}

export type RefDType = 'f32' | 'f16' | 'bf16' | 'i32' | 'bool';

/**
 * The value `v` of any dtype converted to `to`: floats round to the target precision, float to i32
 * truncates toward zero (NaN gives 0, infinities saturate), anything to bool is `v != 0`.
 */
export function castRef(v: number, to: RefDType): number {
  switch (to) {
    case 'f32':
      return roundF32(v);
    case 'f16':
      return roundF16(roundF32(v));
    case 'bf16':
      return roundBf16(roundF32(v));
    case 'i32':
      if (Number.isNaN(v)) return 0;
      if (v >= 2147483647) return 2147483647;
      if (v <= -2147483648) return -2147483648;
      return Math.trunc(v);
    case 'bool':
      return v !== 0 ? 1 : 0;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reductions and softmax

/** Sum, max or min over `axes`. */
export function reduceRef(
  values: ArrayLike<number>,
  shape: HostShape,
  fn: 'sum' | 'max' | 'min',
  axes: readonly number[],
  keepDims: boolean,
): HostTensor {
  const ax = axes.map((a) => (a < 0 ? a + shape.length : a));
  const keptShape = shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const n = sizeOfShape(keptShape);
  const acc = new Array<number>(n).fill(fn === 'sum' ? 0 : fn === 'max' ? -Infinity : Infinity);
  for (let i = 0; i < values.length; i++) {
    const idx = unravel(i, shape).map((v, d) => (ax.includes(d) ? 0 : v));
    const o = ravel(idx, keptShape);
    const v = values[i] as number;
    const cur = acc[o] as number;
    acc[o] = fn === 'sum' ? cur + v : fn === 'max' ? Math.max(cur, v) : Math.min(cur, v);
  }
  const outShape = keepDims ? keptShape : shape.filter((_, i) => !ax.includes(i));
  return { shape: outShape, values: acc };
}

/** Index of the first max (min) along `axis`. */
export function argReduceRef(
  values: ArrayLike<number>,
  shape: HostShape,
  fn: 'max' | 'min',
  axis: number,
  keepDims: boolean,
): HostTensor {
  const a = axis < 0 ? axis + shape.length : axis;
  const keptShape = shape.map((d, i) => (i === a ? 1 : d));
  const n = sizeOfShape(keptShape);
  const best = new Array<number>(n).fill(-1);
  const bestValue = new Array<number>(n).fill(0);
  for (let i = 0; i < values.length; i++) {
    const idx = unravel(i, shape);
    const j = idx[a] as number;
    idx[a] = 0;
    const o = ravel(idx, keptShape);
    const v = values[i] as number;
    const better = fn === 'max' ? v > (bestValue[o] as number) : v < (bestValue[o] as number);
    // Elements arrive in increasing j for each output, so a strict comparison keeps the lowest index on ties.
    if (best[o] === -1 || better) {
      best[o] = j;
      bestValue[o] = v;
    }
  }
  return { shape: keepDims ? keptShape : shape.filter((_, i) => i !== a), values: best };
}

/** Calls `f(indices)` with the flat indices of each line along `axis`. */
function eachLine(shape: HostShape, axis: number, f: (indices: number[]) => void): void {
  const outerShape = shape.map((d, i) => (i === axis ? 1 : d));
  const n = sizeOfShape(outerShape);
  for (let o = 0; o < n; o++) {
    const idx = unravel(o, outerShape);
    const line: number[] = [];
    for (let j = 0; j < (shape[axis] as number); j++) {
      idx[axis] = j;
      line.push(ravel(idx, shape));
    }
    f(line);
  }
}

function softmaxLike(values: ArrayLike<number>, shape: HostShape, axis: number, log: boolean): number[] {
  const a = axis < 0 ? axis + shape.length : axis;
  const out = new Array<number>(values.length).fill(0);
  eachLine(shape, a, (line) => {
    let m = -Infinity;
    for (const i of line) m = Math.max(m, values[i] as number);
    if (m === -Infinity) m = 0;
    let s = 0;
    for (const i of line) s += Math.exp((values[i] as number) - m);
    for (const i of line) {
      const z = (values[i] as number) - m;
      out[i] = log ? z - Math.log(s) : Math.exp(z) / s;
    }
  });
  return out;
}

export function softmaxRef(values: ArrayLike<number>, shape: HostShape, axis: number): number[] {
  return softmaxLike(values, shape, axis, false);
}

export function logSoftmaxRef(values: ArrayLike<number>, shape: HostShape, axis: number): number[] {
  return softmaxLike(values, shape, axis, true);
}

/** Cumulative sum along `axis`, optionally exclusive and/or from the end. */
export function cumsumRef(
  values: ArrayLike<number>,
  shape: HostShape,
  axis: number,
  exclusive: boolean,
  reverse: boolean,
  wrap = false,
): number[] {
  const a = axis < 0 ? axis + shape.length : axis;
  const out = new Array<number>(values.length).fill(0);
  eachLine(shape, a, (line) => {
    const order = reverse ? [...line].reverse() : line;
    let acc = 0;
    for (const i of order) {
      const v = values[i] as number;
      if (exclusive) out[i] = acc;
      acc = wrap ? wrapI32(acc + v) : acc + v;
      if (!exclusive) out[i] = acc;
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Matrix products

/**
 * Batched matmul over the last two axes with broadcast batch axes. A 1-D `a` is a row vector and a 1-D `b`
 * a column vector (whatever the transposes), and their axis is dropped from the result.
 */
export function matmulRef(
  a: ArrayLike<number>,
  aShape: HostShape,
  b: ArrayLike<number>,
  bShape: HostShape,
  transA = false,
  transB = false,
): HostTensor {
  const aIsVec = aShape.length === 1;
  const bIsVec = bShape.length === 1;
  // Logical (untransposed) shapes of the matrices, and element readers honouring the transposes.
  const aStored = aIsVec ? [1, aShape[0] as number] : [...aShape];
  const bStored = bIsVec ? [bShape[0] as number, 1] : [...bShape];
  const aT = aIsVec ? false : transA;
  const bT = bIsVec ? false : transB;
  const ar = aStored.length;
  const br = bStored.length;
  const m = (aT ? aStored[ar - 1] : aStored[ar - 2]) as number;
  const k = (aT ? aStored[ar - 2] : aStored[ar - 1]) as number;
  const n = (bT ? bStored[br - 2] : bStored[br - 1]) as number;
  const aBatch = aStored.slice(0, -2);
  const bBatch = bStored.slice(0, -2);
  const batch = broadcastShape(aBatch, bBatch);
  const nb = sizeOfShape(batch);
  const aRows = aStored[ar - 2] as number;
  const aCols = aStored[ar - 1] as number;
  const bRows = bStored[br - 2] as number;
  const bCols = bStored[br - 1] as number;
  const values: number[] = [];
  for (let bi = 0; bi < nb; bi++) {
    const idx = unravel(bi, batch);
    const sa = broadcastSource(idx, aBatch) * aRows * aCols;
    const sb = broadcastSource(idx, bBatch) * bRows * bCols;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) {
          const av = a[sa + (aT ? p * aCols + i : i * aCols + p)] as number;
          const bv = b[sb + (bT ? j * bCols + p : p * bCols + j)] as number;
          acc += av * bv;
        }
        values.push(acc);
      }
    }
  }
  const shape = [...batch];
  if (!aIsVec) shape.push(m);
  if (!bIsVec) shape.push(n);
  return { shape, values };
}

/** y[r] = x[r] @ w[e] for offsets[e] <= r < offsets[e + 1]; other rows are zero. w is [E, N, K] if transW. */
export function groupedMatmulRef(
  x: ArrayLike<number>,
  rows: number,
  k: number,
  w: ArrayLike<number>,
  wShape: HostShape,
  offsets: readonly number[],
  transW: boolean,
): HostTensor {
  const e = wShape[0] as number;
  const n = (transW ? wShape[1] : wShape[2]) as number;
  const values = new Array<number>(rows * n).fill(0);
  for (let g = 0; g < e; g++) {
    for (let r = offsets[g] as number; r < (offsets[g + 1] as number); r++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) {
          const wv = w[g * k * n + (transW ? j * k + p : p * n + j)] as number;
          acc += (x[r * k + p] as number) * wv;
        }
        values[r * n + j] = acc;
      }
    }
  }
  return { shape: [rows, n], values };
}

/** dw[e] = x[seg e]^T @ dy[seg e], [E, K, N]. */
export function groupedMatmulGradWRef(
  x: ArrayLike<number>,
  k: number,
  dy: ArrayLike<number>,
  n: number,
  offsets: readonly number[],
): HostTensor {
  const e = offsets.length - 1;
  const values = new Array<number>(e * k * n).fill(0);
  for (let g = 0; g < e; g++) {
    for (let p = 0; p < k; p++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let r = offsets[g] as number; r < (offsets[g + 1] as number); r++) {
          acc += (x[r * k + p] as number) * (dy[r * n + j] as number);
        }
        values[(g * k + p) * n + j] = acc;
      }
    }
  }
  return { shape: [e, k, n], values };
}

// ---------------------------------------------------------------------------------------------------------
// Sorting and selection (along the last axis; NaN is larger than every number)

/** -1, 0 or 1 comparing a and b with NaN as the largest value. */
function order(a: number, b: number): number {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return an === bn ? 0 : an ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Stable argsort of each row along the last axis (insertion sort, so equal keys keep their order). */
export function argsortRef(values: ArrayLike<number>, shape: HostShape, descending: boolean): number[] {
  const n = shape.length === 0 ? 1 : (shape[shape.length - 1] as number);
  const rows = n === 0 ? 0 : values.length / n;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    const idx: number[] = [];
    for (let j = 0; j < n; j++) {
      const v = values[r * n + j] as number;
      let pos = idx.length;
      // Move left past entries that must come after v; stop at an equal one to stay stable.
      while (pos > 0) {
        const c = order(values[r * n + (idx[pos - 1] as number)] as number, v);
        if ((descending ? -c : c) > 0) pos--;
        else break;
      }
      idx.splice(pos, 0, j);
    }
    out.push(...idx);
  }
  return out;
}

/**
 * The stable permutation that groups `keys` by bucket: indices ordered by key, equal keys by index (a
 * comparison sort, independent of counting). Keys outside [0, buckets) count as larger than every valid key.
 */
export function bucketSortRef(keys: ArrayLike<number>, buckets: number): number[] {
  const rank = (v: number) => (v >= 0 && v < buckets ? v : buckets);
  const idx = Array.from({ length: keys.length }, (_, i) => i);
  return idx.sort((a, b) => rank(keys[a] as number) - rank(keys[b] as number) || a - b);
}

/** Indices of the k largest (smallest) entries of each row, best first, ties to the lower index. */
export function topkRef(
  values: ArrayLike<number>,
  shape: HostShape,
  k: number,
  largest: boolean,
): HostTensor {
  const n = shape[shape.length - 1] as number;
  const rows = n === 0 ? sizeOfShape(shape.slice(0, -1)) : values.length / n;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    const taken = new Set<number>();
    for (let t = 0; t < k; t++) {
      let best = -1;
      for (let j = 0; j < n; j++) {
        if (taken.has(j)) continue;
        if (best < 0) {
          best = j;
          continue;
        }
        const c = order(values[r * n + j] as number, values[r * n + best] as number);
        if (largest ? c > 0 : c < 0) best = j;
      }
      taken.add(best);
      out.push(best);
    }
  }
  return { shape: [...shape.slice(0, -1), k], values: out };
}

/** Counts of each value in [0, length). */
export function bincountRef(values: ArrayLike<number>, length: number): number[] {
  const counts = new Array<number>(length).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    counts[v] = (counts[v] as number) + 1;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------------------
// Indexing

/** Rows of x [N, ...rest] at `indices` of any shape: [...idxShape, ...rest]. */
export function gatherRef(
  x: ArrayLike<number>,
  xShape: HostShape,
  indices: ArrayLike<number>,
  idxShape: HostShape,
): HostTensor {
  const rest = xShape.slice(1);
  const width = sizeOfShape(rest);
  const values: number[] = [];
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i] as number;
    for (let j = 0; j < width; j++) values.push(x[r * width + j] as number);
  }
  return { shape: [...idxShape, ...rest], values };
}

/** Adds src [...idxShape, ...rest] into zeros [rows, ...rest] at rows `indices`. */
export function scatterAddRef(
  src: ArrayLike<number>,
  srcShape: HostShape,
  indices: ArrayLike<number>,
  idxRank: number,
  rows: number,
): HostTensor {
  const rest = srcShape.slice(idxRank);
  const width = sizeOfShape(rest);
  const values = new Array<number>(rows * width).fill(0);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i] as number;
    for (let j = 0; j < width; j++)
      values[r * width + j] = (values[r * width + j] as number) + (src[i * width + j] as number);
  }
  return { shape: [rows, ...rest], values };
}

// ---------------------------------------------------------------------------------------------------------
// Layout

export function transposeRef(
  values: ArrayLike<number>,
  shape: HostShape,
  perm: readonly number[],
): HostTensor {
  const outShape = perm.map((p) => shape[p] as number);
  const n = sizeOfShape(outShape);
  const out: number[] = [];
  for (let o = 0; o < n; o++) {
    const oi = unravel(o, outShape);
    const src = new Array<number>(shape.length).fill(0);
    perm.forEach((p, d) => {
      src[p] = oi[d] as number;
    });
    out.push(values[ravel(src, shape)] as number);
  }
  return { shape: outShape, values: out };
}

export function sliceRef(
  values: ArrayLike<number>,
  shape: HostShape,
  begin: readonly number[],
  size: readonly number[],
): HostTensor {
  const n = sizeOfShape(size);
  const out: number[] = [];
  for (let o = 0; o < n; o++) {
    const idx = unravel(o, size).map((v, d) => v + (begin[d] as number));
    out.push(values[ravel(idx, shape)] as number);
  }
  return { shape: [...size], values: out };
}

export function padRef(
  values: ArrayLike<number>,
  shape: HostShape,
  before: readonly number[],
  after: readonly number[],
): HostTensor {
  const outShape = shape.map((d, i) => d + (before[i] as number) + (after[i] as number));
  const out = new Array<number>(sizeOfShape(outShape)).fill(0);
  for (let i = 0; i < values.length; i++) {
    const idx = unravel(i, shape).map((v, d) => v + (before[d] as number));
    out[ravel(idx, outShape)] = values[i] as number;
  }
  return { shape: outShape, values: out };
}

export function concatRef(
  parts: readonly { values: ArrayLike<number>; shape: HostShape }[],
  axis: number,
): HostTensor {
  const first = parts[0] as { shape: HostShape };
  const outShape = [...first.shape];
  outShape[axis] = parts.reduce((s, p) => s + (p.shape[axis] as number), 0);
  const out = new Array<number>(sizeOfShape(outShape)).fill(0);
  let offset = 0;
  for (const p of parts) {
    for (let i = 0; i < p.values.length; i++) {
      const idx = unravel(i, p.shape);
      idx[axis] = (idx[axis] as number) + offset;
      out[ravel(idx, outShape)] = p.values[i] as number;
    }
    offset += p.shape[axis] as number;
  }
  return { shape: outShape, values: out };
}

export function broadcastToRef(values: ArrayLike<number>, shape: HostShape, target: HostShape): HostTensor {
  if (broadcastShape(shape, target).join() !== target.join()) {
    throw new Error(`reference: cannot broadcast [${shape}] to [${target}]`);
  }
  const zeros = new Array<number>(sizeOfShape(target)).fill(0);
  return elementwise(
    [
      { values, shape },
      { values: zeros, shape: target },
    ],
    (v) => v,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Philox4x32-10 in BigInt arithmetic, and the random primitive's element mapping

const MASK32 = 0xffffffffn;

/** Philox4x32-10 of `counter` under `key`, with BigInt products (independent of the 16-bit limb code). */
export function philoxRef(
  key: readonly [number, number],
  counter: readonly number[],
): [number, number, number, number] {
  let c = counter.map((v) => BigInt(v >>> 0));
  let k0 = BigInt(key[0] >>> 0);
  let k1 = BigInt(key[1] >>> 0);
  for (let round = 0; round < 10; round++) {
    const p0 = 0xd2511f53n * (c[0] as bigint);
    const p1 = 0xcd9e8d57n * (c[2] as bigint);
    c = [(p1 >> 32n) ^ (c[1] as bigint) ^ k0, p1 & MASK32, (p0 >> 32n) ^ (c[3] as bigint) ^ k1, p0 & MASK32];
    k0 = (k0 + 0x9e3779b9n) & MASK32;
    k1 = (k1 + 0xbb67ae85n) & MASK32;
  }
  return c.map(Number) as [number, number, number, number];
}

/**
 * The values of the `random` primitive: element i reads Philox block `counter + floor(i / 4)` (a 64-bit block
 * number in counter words 0 and 1) keyed by (seed, stream), word i % 4. uniform: the top 24 bits / 2^24;
 * int: low + floor(word * (high - low) / 2^32); normal: Box-Muller on word pairs (0, 1) and (2, 3) with
 * u1 = (top24 + 1) / 2^24 and u2 = top24 / 2^24, cosine for even words and sine for odd ones.
 */
export function randomRef(
  dist: 'uniform' | 'normal' | 'int',
  seed: number,
  stream: number,
  counter: number,
  n: number,
  low = 0,
  high = 0,
): number[] {
  const out: number[] = [];
  let words: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 4 === 0) {
      const block = BigInt(counter + i / 4);
      words = philoxRef([seed, stream], [Number(block & MASK32), Number(block >> 32n), 0, 0]);
    }
    const j = i % 4;
    const w = words[j] as number;
    if (dist === 'uniform') out.push(Math.floor(w / 256) / 2 ** 24);
    else if (dist === 'int') out.push(low + Number((BigInt(w) * BigInt(high - low)) >> 32n));
    else {
      const pair = j < 2 ? 0 : 2;
      const u1 = (Math.floor((words[pair] as number) / 256) + 1) / 2 ** 24;
      const u2 = Math.floor((words[pair + 1] as number) / 256) / 2 ** 24;
      const r = Math.sqrt(-2 * Math.log(u1));
      out.push(j % 2 === 1 ? r * Math.sin(2 * Math.PI * u2) : r * Math.cos(2 * Math.PI * u2));
    }
  }
  return out;
}

import type { AnyHostArray } from '../../dtype.js';
import type { BinaryFn, CompareFn, UnaryFn } from '../../primitives.js';
import { sizeOf } from '../../shape.js';
import type { KernelInput, KernelOutput } from '../backend.js';
import { type BroadcastPlan, broadcastPlan, nextRow } from './broadcast.js';
import { outputArray } from './host-pool.js';
import { VECTOR_BINARY, VECTOR_UNARY, type VectorBinaryFn, type VectorUnaryFn } from './vector-module.js';
import { WASM_MIN, wasmVector } from './wasm-vector.js';

type In = KernelInput<AnyHostArray>;

/** erf with |error| < 1.2e-7 (Numerical Recipes erfc Chebyshev fit). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

// The scalar functions, named so the kernel loops below call each one from its own site (and inline it).
const sign = (x: number): number => (x > 0 ? 1 : x < 0 ? -1 : x);
// relu(NaN) is 0, here and in the WGSL kernel (Math.max would give NaN).
const relu = (x: number): number => (x > 0 ? x : 0);
const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
// -x ln x; 0 at ±0, -Infinity below 0 (and at +Infinity), NaN kept.
const entr = (x: number): number =>
  x > 0 ? -x * Math.log(x) : x === 0 ? 0 : x < 0 ? Number.NEGATIVE_INFINITY : x;
const gelu = (x: number): number => 0.5 * x * (1 + erf(x * Math.SQRT1_2));
const geluTanh = (x: number): number =>
  0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
const silu = (x: number): number => x / (1 + Math.exp(-x));
const maximum = (a: number, b: number): number => (a > b || Number.isNaN(a) ? a : b);
const minimum = (a: number, b: number): number => (a < b || Number.isNaN(a) ? a : b);
const mod = (a: number, b: number): number => {
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
};

/** The scalar definition of each unary function: what the kernel loops compute, element by element. */
export const unaryFns: { readonly [F in UnaryFn]: (x: number) => number } = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: Math.tanh,
  abs: Math.abs,
  sign,
  relu,
  sigmoid,
  softplus,
  entr,
  gelu,
  geluTanh,
  silu,
  erf,
  sin: Math.sin,
  cos: Math.cos,
  floor: Math.floor,
  not: (x) => (x ? 0 : 1),
};

/** The scalar definition of each binary function (i32 `mul`, `div` and `pow` are then wrapped to int32). */
export const binaryFns: { readonly [F in BinaryFn]: (a: number, b: number) => number } = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  maximum,
  minimum,
  mod,
  and: (a, b) => (a && b ? 1 : 0),
  or: (a, b) => (a || b ? 1 : 0),
};

export const compareFns: { readonly [F in CompareFn]: (a: number, b: number) => number } = {
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
};

type Arr = AnyHostArray;

/** `d[i] = f(s[i])` for every element, one tight loop per function. */
function unaryLoop(fn: UnaryFn, s: Arr, d: Arr): void {
  const n = s.length;
  switch (fn) {
    case 'neg':
      for (let i = 0; i < n; i++) d[i] = -(s[i] as number);
      return;
    case 'exp':
      for (let i = 0; i < n; i++) d[i] = Math.exp(s[i] as number);
      return;
    case 'log':
      for (let i = 0; i < n; i++) d[i] = Math.log(s[i] as number);
      return;
    case 'sqrt':
      for (let i = 0; i < n; i++) d[i] = Math.sqrt(s[i] as number);
      return;
    case 'rsqrt':
      for (let i = 0; i < n; i++) d[i] = 1 / Math.sqrt(s[i] as number);
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) d[i] = Math.tanh(s[i] as number);
      return;
    case 'abs':
      for (let i = 0; i < n; i++) d[i] = Math.abs(s[i] as number);
      return;
    case 'sign':
      for (let i = 0; i < n; i++) d[i] = sign(s[i] as number);
      return;
    case 'relu':
      for (let i = 0; i < n; i++) d[i] = relu(s[i] as number);
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) d[i] = sigmoid(s[i] as number);
      return;
    case 'softplus':
      for (let i = 0; i < n; i++) d[i] = softplus(s[i] as number);
      return;
    case 'entr':
      for (let i = 0; i < n; i++) d[i] = entr(s[i] as number);
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) d[i] = gelu(s[i] as number);
      return;
    case 'geluTanh':
      for (let i = 0; i < n; i++) d[i] = geluTanh(s[i] as number);
      return;
    case 'silu':
      for (let i = 0; i < n; i++) d[i] = silu(s[i] as number);
      return;
    case 'erf':
      for (let i = 0; i < n; i++) d[i] = erf(s[i] as number);
      return;
    case 'sin':
      for (let i = 0; i < n; i++) d[i] = Math.sin(s[i] as number);
      return;
    case 'cos':
      for (let i = 0; i < n; i++) d[i] = Math.cos(s[i] as number);
      return;
    case 'floor':
      for (let i = 0; i < n; i++) d[i] = Math.floor(s[i] as number);
      return;
    case 'not':
      for (let i = 0; i < n; i++) d[i] = s[i] ? 0 : 1;
      return;
  }
}

/**
 * `fn` of every element. f32 exp, log, entr, silu and sigmoid of at least WASM_MIN elements go to the WebAssembly
 * SIMD kernels: polynomial approximations within 1 to 3 ulp of the loops, special values exact.
 */
export function unaryKernel([x]: readonly In[], { fn }: { fn: UnaryFn }, out: KernelOutput): AnyHostArray {
  const src = (x as In).data;
  const dst = outputArray(out.dtype, src.length);
  const wasm =
    src.length >= WASM_MIN && (VECTOR_UNARY as readonly string[]).includes(fn) ? wasmVector() : null;
  if (wasm && src instanceof Float32Array && dst instanceof Float32Array) {
    wasm.unary(fn as VectorUnaryFn, src, dst);
  } else unaryLoop(fn, src, dst);
  return dst;
}

/** The binary loops: the element functions plus the int32 forms of `mul`, `div` and `pow`. */
type BinaryOp = BinaryFn | CompareFn | 'imul' | 'idiv' | 'ipow';

/**
 * One row of a binary op: `d[o + i] = op(A[a + i * sa], B[b + i * sb])` for `i < n`, where each stride is 0
 * (a value repeated along the row) or 1. The arithmetic ops have a loop per stride pattern; the rest walk
 * with stepped offsets.
 */
function binaryRow(
  op: BinaryOp,
  d: Arr,
  o: number,
  n: number,
  A: Arr,
  a: number,
  sa: number,
  B: Arr,
  b: number,
  sb: number,
): void {
  const e = o + n;
  switch (op) {
    case 'add':
      if (sa === sb) for (let i = o; i < e; i++, a++, b++) d[i] = (A[a] as number) + (B[b] as number);
      else if (sb === 0) {
        const v = B[b] as number;
        for (let i = o; i < e; i++, a++) d[i] = (A[a] as number) + v;
      } else {
        const v = A[a] as number;
        for (let i = o; i < e; i++, b++) d[i] = v + (B[b] as number);
      }
      return;
    case 'sub':
      if (sa === sb) for (let i = o; i < e; i++, a++, b++) d[i] = (A[a] as number) - (B[b] as number);
      else if (sb === 0) {
        const v = B[b] as number;
        for (let i = o; i < e; i++, a++) d[i] = (A[a] as number) - v;
      } else {
        const v = A[a] as number;
        for (let i = o; i < e; i++, b++) d[i] = v - (B[b] as number);
      }
      return;
    case 'mul':
      if (sa === sb) for (let i = o; i < e; i++, a++, b++) d[i] = (A[a] as number) * (B[b] as number);
      else if (sb === 0) {
        const v = B[b] as number;
        for (let i = o; i < e; i++, a++) d[i] = (A[a] as number) * v;
      } else {
        const v = A[a] as number;
        for (let i = o; i < e; i++, b++) d[i] = v * (B[b] as number);
      }
      return;
    case 'div':
      if (sa === sb) for (let i = o; i < e; i++, a++, b++) d[i] = (A[a] as number) / (B[b] as number);
      else if (sb === 0) {
        const v = B[b] as number;
        for (let i = o; i < e; i++, a++) d[i] = (A[a] as number) / v;
      } else {
        const v = A[a] as number;
        for (let i = o; i < e; i++, b++) d[i] = v / (B[b] as number);
      }
      return;
    case 'pow':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = (A[a] as number) ** (B[b] as number);
      return;
    case 'maximum':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = maximum(A[a] as number, B[b] as number);
      return;
    case 'minimum':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = minimum(A[a] as number, B[b] as number);
      return;
    case 'mod':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = mod(A[a] as number, B[b] as number);
      return;
    case 'and':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = A[a] && B[b] ? 1 : 0;
      return;
    case 'or':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = A[a] || B[b] ? 1 : 0;
      return;
    case 'imul':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = Math.imul(A[a] as number, B[b] as number);
      return;
    case 'idiv':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = Math.trunc((A[a] as number) / (B[b] as number));
      return;
    case 'ipow':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = Math.trunc((A[a] as number) ** (B[b] as number));
      return;
    case 'eq':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = A[a] === B[b] ? 1 : 0;
      return;
    case 'ne':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = A[a] !== B[b] ? 1 : 0;
      return;
    case 'lt':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = (A[a] as number) < (B[b] as number) ? 1 : 0;
      return;
    case 'le':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = (A[a] as number) <= (B[b] as number) ? 1 : 0;
      return;
    case 'gt':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = (A[a] as number) > (B[b] as number) ? 1 : 0;
      return;
    case 'ge':
      for (let i = o; i < e; i++, a += sa, b += sb) d[i] = (A[a] as number) >= (B[b] as number) ? 1 : 0;
      return;
  }
}

/**
 * The f32 ops the WebAssembly SIMD kernels have (add, sub, mul, div, maximum, minimum: bit for bit the loops
 * above) on rows of at least four elements; false where they do not apply (another op or dtype, short rows,
 * both operands repeated along the row).
 */
function wasmBinary(op: BinaryOp, a: In, b: In, dst: AnyHostArray, plan: BroadcastPlan): boolean {
  const { row, rows } = plan;
  if (dst.length < WASM_MIN || row < 4 || !(VECTOR_BINARY as readonly string[]).includes(op)) return false;
  if (!(a.data instanceof Float32Array && b.data instanceof Float32Array && dst instanceof Float32Array)) {
    return false;
  }
  const [sa, sb] = plan.strides as [readonly number[], readonly number[]];
  const ia = sa[sa.length - 1] as number;
  const ib = sb[sb.length - 1] as number;
  const wasm = ia + ib > 0 ? wasmVector() : null;
  if (!wasm) return false;
  const aOffsets = new Int32Array(rows);
  const bOffsets = new Int32Array(rows);
  const counter = new Int32Array(plan.dims.length);
  const offsets = new Int32Array(2);
  for (let r = 0; r < rows; r++) {
    aOffsets[r] = offsets[0] as number;
    bOffsets[r] = offsets[1] as number;
    nextRow(plan, counter, offsets);
  }
  wasm.binary({
    fn: op as VectorBinaryFn,
    d: dst,
    row,
    rows,
    a: a.data,
    aOffsets,
    aStride: ia === 0 ? 0 : 1,
    b: b.data,
    bOffsets,
    bStride: ib === 0 ? 0 : 1,
  });
  return true;
}

/** Applies a binary op over two broadcast inputs, row by row of their broadcast plan. */
function broadcastBinary(op: BinaryOp, a: In, b: In, out: KernelOutput): AnyHostArray {
  const n = sizeOf(out.shape);
  const dst = outputArray(out.dtype, n);
  if (n === 0) return dst;
  const plan = broadcastPlan([a.shape, b.shape], out.shape);
  if (wasmBinary(op, a, b, dst, plan)) return dst;
  const { row, rows } = plan;
  const [sa, sb] = plan.strides as [readonly number[], readonly number[]];
  const ia = sa[sa.length - 1] as number;
  const ib = sb[sb.length - 1] as number;
  if (rows === 1) {
    binaryRow(op, dst, 0, row, a.data, 0, ia, b.data, 0, ib);
    return dst;
  }
  const counter = new Int32Array(plan.dims.length);
  const offsets = new Int32Array(2);
  for (let r = 0, o = 0; r < rows; r++, o += row) {
    binaryRow(op, dst, o, row, a.data, offsets[0] as number, ia, b.data, offsets[1] as number, ib);
    nextRow(plan, counter, offsets);
  }
  return dst;
}

export function binaryKernel(
  [a, b]: readonly In[],
  { fn }: { fn: BinaryFn },
  out: KernelOutput,
): AnyHostArray {
  let op: BinaryOp = fn;
  if (out.dtype === 'i32') {
    if (fn === 'mul') op = 'imul';
    else if (fn === 'div') op = 'idiv';
    else if (fn === 'pow') op = 'ipow';
  }
  return broadcastBinary(op, a as In, b as In, out);
}

export function compareKernel(
  [a, b]: readonly In[],
  { fn }: { fn: CompareFn },
  out: KernelOutput,
): AnyHostArray {
  return broadcastBinary(fn, a as In, b as In, out);
}

/** One row of `where`: `d[o + i] = C[c + i * sc] ? A[a + i * sa] : B[b + i * sb]`, strides 0 or 1. */
function whereRow(
  d: Arr,
  o: number,
  n: number,
  C: Arr,
  c: number,
  sc: number,
  A: Arr,
  a: number,
  sa: number,
  B: Arr,
  b: number,
  sb: number,
): void {
  const e = o + n;
  if (sc === 1 && sa === 1 && sb === 0) {
    const v = B[b] as number;
    for (let i = o; i < e; i++, c++, a++) d[i] = C[c] ? (A[a] as number) : v;
  } else if (sc === 1 && sa === 0 && sb === 1) {
    const v = A[a] as number;
    for (let i = o; i < e; i++, c++, b++) d[i] = C[c] ? v : (B[b] as number);
  } else if (sc === 1 && sa === 1 && sb === 1) {
    for (let i = o; i < e; i++, c++, a++, b++) d[i] = C[c] ? (A[a] as number) : (B[b] as number);
  } else {
    for (let i = o; i < e; i++, c += sc, a += sa, b += sb) d[i] = C[c] ? (A[a] as number) : (B[b] as number);
  }
}

export function whereKernel([c, a, b]: readonly In[], _attrs: unknown, out: KernelOutput): AnyHostArray {
  const n = sizeOf(out.shape);
  const dst = outputArray(out.dtype, n);
  if (n === 0) return dst;
  const tc = c as In;
  const ta = a as In;
  const tb = b as In;
  const plan = broadcastPlan([tc.shape, ta.shape, tb.shape], out.shape);
  const { row, rows } = plan;
  const last = plan.dims.length - 1;
  const [sc, sa, sb] = plan.strides.map((s) => s[last] as number) as [number, number, number];
  const counter = new Int32Array(plan.dims.length);
  const offsets = new Int32Array(3);
  for (let r = 0, o = 0; r < rows; r++, o += row) {
    whereRow(
      dst,
      o,
      row,
      tc.data,
      offsets[0] as number,
      sc,
      ta.data,
      offsets[1] as number,
      sa,
      tb.data,
      offsets[2] as number,
      sb,
    );
    nextRow(plan, counter, offsets);
  }
  return dst;
}

export function castKernel([x]: readonly In[], _attrs: unknown, out: KernelOutput): AnyHostArray {
  const src = (x as In).data;
  const dst = outputArray(out.dtype, src.length);
  if (out.dtype === 'bool') for (let i = 0; i < src.length; i++) dst[i] = src[i] !== 0 ? 1 : 0;
  else if (out.dtype === 'i32') {
    for (let i = 0; i < src.length; i++) {
      const v = src[i] as number;
      // NaN gives 0; out-of-range values (infinities included) saturate.
      dst[i] = Number.isNaN(v) ? 0 : Math.trunc(Math.min(Math.max(v, -2147483648), 2147483647));
    }
  } else dst.set(src);
  return dst;
}

export function fillKernel(
  _inputs: readonly In[],
  { value }: { value: number },
  out: KernelOutput,
): AnyHostArray {
  return outputArray(out.dtype, sizeOf(out.shape)).fill(out.dtype === 'bool' ? (value ? 1 : 0) : value);
}

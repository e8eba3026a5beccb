// The WebAssembly SIMD vector-math module, emitted as bytes: f32 element-wise kernels four lanes at a time over
// the shared memory (wasm-vector.ts copies operands in and results out). All addresses are in bytes.
//   unary `exp`, `log`, `entr`, `silu`, `sigmoid` (src, dst, n4): n4 vectors of four floats, a multiple of 4;
//   binary `<op><mode>` (a, b, d, rows, n4) for op add/sub/mul/div/maximum/minimum and mode vv/vs/sv: `rows`
//   rows of n4 vectors; a vector operand advances 16 bytes a vector, a scalar operand (`s`) one float a row,
//   splatted;
//   `scatterAdd` (dst, src, ids, n, rows, n4): dst row ids[i] += src row i for i < n, rows of n4 vectors,
//   skipping ids outside [0, rows);
//   `weightedGather` (dst, src, ids, weights, n, k, rows, n4): for each of n output rows of n4 vectors, dst row
//   = Σ over its k terms of weights[i] · src row ids[i] (terms in order from a zero row; ids outside [0, rows)
//   skipped), one multiply-then-add pass per term;
//   `weightedScatter` (dst, src, ids, weights, n, k, rows, n4): for each of n source rows of n4 vectors and each
//   of its k terms in order, dst row ids[i] += weights[i] · the source row (ids outside [0, rows) skipped), the
//   adjoint of weightedGather;
//   `softmax` (src, dst, rows, n4): softmax of each row of n4 vectors (rows padded with -Infinity);
//   `swiglu` (gate, up, dst, n4): dst = silu(gate) · up, and `swigluGrad` (gate, up, g, dst, n4):
//   dst = g · up · silu'(gate), over n4 vectors, a multiple of 4 (dst may be gate: a block is loaded before
//   it is stored);
//   `topk` (src, dst, rows, e, k): the indices (i32) of the k best of each row of e floats, best first, in the
//   `topk` order.

import {
  encodeModule,
  F32,
  FunctionBody,
  type FunctionDef,
  I32,
  V128,
  type VectorOp,
} from './wasm-encoder.js';

export type VectorUnaryFn = 'exp' | 'log' | 'entr' | 'silu' | 'sigmoid';
export type VectorBinaryFn = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum';
/** Which binary operands are vectors (v) and which a per-row scalar (s). */
export type VectorMode = 'vv' | 'vs' | 'sv';

export const VECTOR_UNARY: readonly VectorUnaryFn[] = ['exp', 'log', 'entr', 'silu', 'sigmoid'];
export const VECTOR_BINARY: readonly VectorBinaryFn[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'];
export const VECTOR_MODES: readonly VectorMode[] = ['vv', 'vs', 'sv'];

const ARITHMETIC_OP: Record<'add' | 'sub' | 'mul' | 'div', VectorOp> = {
  add: 'f32x4Add',
  sub: 'f32x4Sub',
  mul: 'f32x4Mul',
  div: 'f32x4Div',
};

/** v128 scratch locals of the polynomial kernels. */
interface Temps {
  n: number;
  r: number;
  p: number;
  k: number;
}

/** 1.5 · 2^23: floats from 2^23 to 2^24 are whole numbers, so x + this rounds x (|x| < 2^22) to one. */
const ROUND_TO_INTEGER = 1.5 * 2 ** 23;
/** Its bits: those of ROUND_TO_INTEGER + n exceed them by n. */
const ROUND_TO_INTEGER_BITS = 0x4b400000;

/**
 * Appends exp(x) of the v128 local `x`, leaving it on the stack (Cephes expf). x is clamped to [-104, 88.8]
 * by pmax(x, -104) = x < -104 ? -104 : x and pmin likewise, which keep a NaN x and are one instruction each
 * where max and min are several; n = round(x log2 e), r = x - n ln 2 in two parts, exp(r) by a degree-7
 * polynomial (Cephes coefficients) on |r| <= ln 2 / 2, and 2^n applied as 2^⌊n/2⌋ · 2^(n-⌊n/2⌋) so both
 * factors are normal floats: the products overflow to Infinity above ln(FLT_MAX) and go through the
 * subnormals to 0 below. Within 2 ulp of the correctly rounded exp.
 */
function emitExp(f: FunctionBody, x: number, t: Temps): void {
  f.get(x).f32x4Const(-104).vector('f32x4Pmax').f32x4Const(88.8).vector('f32x4Pmin').set(t.r);
  // n = round(x log2 e), ties to even as f32x4.nearest: |x log2 e| < 2^22, so adding 1.5 · 2^23 leaves units in
  // the sum's last bit, whose integer bits keep n for k below.
  f.get(t.r).f32x4Const(Math.LOG2E).f32x4Mul().f32x4Const(ROUND_TO_INTEGER).f32x4Add().set(t.k);
  f.get(t.k).f32x4Const(ROUND_TO_INTEGER).vector('f32x4Sub').set(t.n);
  // r = x - n · 0.693359375 - n · (-2.12194440e-4): the first constant is exact in few bits.
  f.get(t.r, t.n).f32x4Const(0.693359375).f32x4Mul().vector('f32x4Sub');
  f.get(t.n).f32x4Const(-2.1219444e-4).f32x4Mul().vector('f32x4Sub').set(t.r);
  const coefficients = [
    1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
  ];
  f.f32x4Const(coefficients[0] as number).set(t.p);
  for (const c of coefficients.slice(1)) f.get(t.p, t.r).f32x4Mul().f32x4Const(c).f32x4Add().set(t.p);
  // p · r² + r + 1
  f.get(t.p, t.r).f32x4Mul().get(t.r).f32x4Mul().get(t.r).f32x4Add().f32x4Const(1).f32x4Add().set(t.p);
  f.get(t.k).i32x4Const(ROUND_TO_INTEGER_BITS).vector('i32x4Sub').set(t.k);
  const pow2 = (pushExponent: () => void) => {
    pushExponent();
    f.i32x4Const(127).vector('i32x4Add').i32(23).vector('i32x4Shl');
  };
  f.get(t.p);
  pow2(() => f.get(t.k).i32(1).vector('i32x4ShrS'));
  f.f32x4Mul();
  pow2(() => f.get(t.k, t.k).i32(1).vector('i32x4ShrS').vector('i32x4Sub'));
  f.f32x4Mul();
}

/** The smallest normal f32, and the factor that makes every subnormal normal. */
const MIN_NORMAL = 2 ** -126;
const SUBNORMAL_SCALE = 2 ** 23;

/** Cephes logf coefficients: log(1 + x) = x - x²/2 + x³ · P(x) on sqrt(1/2) - 1 <= x < sqrt(2) - 1. */
const LOG_COEFFICIENTS = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
];

/**
 * Appends log(x) of the v128 local `x`, leaving it on the stack (Cephes logf). Subnormal x is scaled by 2^23
 * first; the bits then split into x = 2^e · m with m in [sqrt(1/2), sqrt(2)) (exactly: the exponent field, and
 * m - 1 or 2m - 1 by Sterbenz), log m = f - f²/2 + f³ · P(f) for f = m - 1, and e · ln 2 is added in two parts
 * (0.693359375 is exact in few bits) so log(1) is 0 exactly. Within 1 ulp of the correctly rounded log for
 * every positive float. Lanes that are not finite and positive get some finite value: see emitLogSpecials.
 */
function emitLog(f: FunctionBody, x: number, t: Temps): void {
  const { k: e, r: m, n: z, p } = t;
  // Subnormals (and the lanes replaced later) are scaled by 2^23, and their exponent lowered by 23.
  f.get(x).f32x4Const(MIN_NORMAL).vector('f32x4Lt').set(e);
  f.get(x).f32x4Const(SUBNORMAL_SCALE).f32x4Mul().get(x, e).vector('bitselect').set(m);
  // e = biased exponent - 126, m = the significand with 0.5's exponent: x = 2^e · m, m in [0.5, 1).
  f.get(m).i32(23).vector('i32x4ShrS').i32x4Const(-126).vector('i32x4Add');
  f.get(e).i32x4Const(-23).vector('v128And').vector('i32x4Add').set(e);
  f.get(m).i32x4Const(0x007fffff).vector('v128And').i32x4Const(0x3f000000).vector('v128Or').set(m);
  // Below sqrt(1/2): e - 1 (the mask is -1) and f = 2m - 1; otherwise f = m - 1. Both exact.
  f.get(m).f32x4Const(Math.SQRT1_2).vector('f32x4Lt').set(z);
  f.get(e, z).vector('i32x4Add').vector('f32x4ConvertI32x4S').set(e);
  f.get(m).f32x4Const(1).vector('f32x4Sub').get(m, z).vector('v128And').f32x4Add().set(m);
  // y = f³ · P(f) + e · (-2.12194440e-4) - f²/2; log x = (f + y) + e · 0.693359375.
  f.get(m, m).f32x4Mul().set(z);
  f.f32x4Const(LOG_COEFFICIENTS[0] as number).set(p);
  for (const c of LOG_COEFFICIENTS.slice(1)) f.get(p, m).f32x4Mul().f32x4Const(c).f32x4Add().set(p);
  f.get(p, m).f32x4Mul().get(z).f32x4Mul();
  f.get(e).f32x4Const(-2.1219444e-4).f32x4Mul().f32x4Add();
  f.get(z).f32x4Const(0.5).f32x4Mul().vector('f32x4Sub');
  f.get(m).f32x4Add();
  f.get(e).f32x4Const(0.693359375).f32x4Mul().f32x4Add();
}

/** Pushes the mask of the lanes of the v128 local `x` where emitLog's value holds: 0 < x < Infinity. */
function emitLogDomain(f: FunctionBody, x: number): void {
  f.get(x).f32x4Const(0).vector('f32x4Gt');
  f.get(x).f32x4Const(Number.POSITIVE_INFINITY).vector('f32x4Lt');
  f.vector('v128And');
}

/**
 * Replaces the lanes of the vector on the stack where the v128 local `x` is not finite and positive by
 * the JavaScript results: NaN for negatives and NaN, -Infinity for ±0, +Infinity for +Infinity.
 */
function emitLogSpecials(f: FunctionBody, x: number): void {
  // x < 0 ? NaN : x === 0 ? -Infinity : x
  f.f32x4Const(Number.NaN).f32x4Const(Number.NEGATIVE_INFINITY).get(x);
  f.get(x).f32x4Const(0).vector('f32x4Eq').vector('bitselect');
  f.get(x).f32x4Const(0).vector('f32x4Lt').vector('bitselect');
  emitLogDomain(f, x);
  f.vector('bitselect');
}

/**
 * Replaces the lanes of the vector on the stack where the v128 local `x` is not finite and positive by the
 * JavaScript entr results: 0 for ±0, -Infinity for negatives and +Infinity, NaN for NaN.
 */
function emitEntrSpecials(f: FunctionBody, x: number): void {
  // x < 0 || x === Infinity ? -Infinity : x === 0 ? 0 : x
  f.f32x4Const(Number.NEGATIVE_INFINITY).f32x4Const(0).get(x);
  f.get(x).f32x4Const(0).vector('f32x4Eq').vector('bitselect');
  f.get(x).f32x4Const(0).vector('f32x4Lt');
  f.get(x).f32x4Const(Number.POSITIVE_INFINITY).vector('f32x4Eq').vector('v128Or').vector('bitselect');
  emitLogDomain(f, x);
  f.vector('bitselect');
}

/**
 * After a block of log (or entr) results is stored at the i32 local `dst`: where a lane of the block's inputs
 * (v128 locals `x`, at `offset` bytes) is outside emitLog's domain, rewrites the block through `specials`. One
 * test and branch a block keeps the rare fix-up off the common path, where it cost a quarter of the kernel.
 */
function emitLogFixUp(
  f: FunctionBody,
  dst: number,
  block: readonly { offset: number; x: number }[],
  specials: (f: FunctionBody, x: number) => void,
): void {
  block.forEach(({ x }, i) => {
    emitLogDomain(f, x);
    if (i > 0) f.vector('v128And');
  });
  f.allTrue().eqz().if();
  for (const { offset, x } of block) {
    f.get(dst, dst).v128Load(offset);
    specials(f, x);
    f.v128Store(offset);
  }
  f.end();
}

/** Appends fn(x) of the v128 local `x`, leaving it on the stack; `e` and `t` are scratch. */
function emitUnary(f: FunctionBody, fn: VectorUnaryFn, x: number, e: number, t: Temps): void {
  if (fn === 'exp') emitExp(f, x, t);
  else if (fn === 'log') emitLog(f, x, t);
  else if (fn === 'entr') {
    emitLog(f, x, t);
    f.get(x).vector('f32x4Neg').f32x4Mul();
  } else {
    // sigmoid(x) from e = exp(-|x|): (x >= 0 ? 1 : e) / (1 + e), so neither side overflows;
    // silu(x) = x · sigmoid(x), which stays finite and exact to a few ulp where x / (1 + exp(-x)) overflows.
    f.get(x).vector('f32x4Abs').vector('f32x4Neg').set(e);
    emitExp(f, e, t);
    f.set(e);
    if (fn === 'silu') f.get(x);
    f.f32x4Const(1).get(e).get(x).f32x4Const(0).vector('f32x4Ge').vector('bitselect');
    f.get(e).f32x4Const(1).f32x4Add().vector('f32x4Div');
    if (fn === 'silu') f.f32x4Mul();
  }
}

/** Vectors a unary kernel computes per pass of its loop. */
export const UNARY_BLOCK = 4;

/** The locals of one UNARY_BLOCK pass: per vector its byte offset in the block, x, e and emitExp's temporaries. */
function blockLocals(f: FunctionBody) {
  return Array.from({ length: UNARY_BLOCK }, (_, i) => ({
    offset: 16 * i,
    x: f.local(V128),
    e: f.local(V128),
    t: { n: f.local(V128), r: f.local(V128), p: f.local(V128), k: f.local(V128) },
  }));
}

/**
 * `fn(src, dst, n4)`: dst = fn(src) over n4 vectors, n4 a positive multiple of UNARY_BLOCK. The block's
 * vectors each have their own locals, and all are loaded before the first is stored (a store may alias the
 * next load, so the engine would not start that vector earlier): their polynomials are long dependency
 * chains, and four independent ones overlap. On Node 20 that takes a third off log and exp, against one
 * vector a pass; eight are no faster.
 */
function unary(fn: VectorUnaryFn): FunctionBody {
  const [src, dst, n4] = [0, 1, 2];
  const f = new FunctionBody(3);
  const block = blockLocals(f);
  f.loop();
  for (const { offset, x } of block) f.get(src).v128Load(offset).set(x);
  for (const { offset, x, e, t } of block) {
    f.get(dst);
    emitUnary(f, fn, x, e, t);
    f.v128Store(offset);
  }
  if (fn === 'log') emitLogFixUp(f, dst, block, emitLogSpecials);
  if (fn === 'entr') emitLogFixUp(f, dst, block, emitEntrSpecials);
  const bytes = 16 * UNARY_BLOCK;
  f.bump(src, bytes).bump(dst, bytes).bump(n4, -UNARY_BLOCK);
  f.get(n4).brIf(0).end();
  return f;
}

/**
 * The gated SiLU kernels of the glu primitive, blocks of UNARY_BLOCK vectors as `unary`:
 * `swiglu(gate, up, dst, n4)`: dst = silu(gate) · up, silu as the unary kernel computes it, so the result is
 * bit for bit the `silu` kernel's output times up.
 * `swigluGrad(gate, up, g, dst, n4)`: dst = (g · up) · silu'(gate), silu'(x) = s · (1 + x · (1 - s)) with
 * s = sigmoid(x) as the `sigmoid` kernel computes it.
 * Each block's gates are loaded before its first store, so dst may be the gate buffer.
 */
function swiglu(grad: boolean): FunctionBody {
  const [gate, up] = [0, 1];
  const [g, dst, n4] = grad ? [2, 3, 4] : [-1, 2, 3];
  const f = new FunctionBody(grad ? 5 : 4);
  const block = blockLocals(f);
  f.loop();
  for (const { offset, x } of block) f.get(gate).v128Load(offset).set(x);
  for (const { offset, x, e, t } of block) {
    f.get(dst);
    if (grad) {
      emitUnary(f, 'sigmoid', x, e, t);
      f.set(e);
      f.get(g).v128Load(offset).get(up).v128Load(offset).f32x4Mul();
      // s · (1 + x · (1 - s))
      f.get(e).f32x4Const(1).get(e).vector('f32x4Sub').get(x).f32x4Mul().f32x4Const(1).f32x4Add().f32x4Mul();
      f.f32x4Mul();
    } else {
      emitUnary(f, 'silu', x, e, t);
      f.get(up).v128Load(offset).f32x4Mul();
    }
    f.v128Store(offset);
  }
  const bytes = 16 * UNARY_BLOCK;
  f.bump(gate, bytes).bump(up, bytes).bump(dst, bytes).bump(n4, -UNARY_BLOCK);
  if (grad) f.bump(g, bytes);
  f.get(n4).brIf(0).end();
  return f;
}

/**
 * Pushes fn(a, b) of the v128 locals `a` and `b` (`t` is scratch). maximum and minimum are the JavaScript
 * kernel's `a > b || a !== a ? a : b` (`<` for minimum) as a mask and bitselect, with NaN lanes then quieted
 * as the kernel's f64 round trip quiets them, so the bits agree for every pair. f32x4.max/min do not: they
 * order -0 below +0 where the kernel returns b on a tie of zeros, and may give a canonical NaN.
 */
function emitBinaryOp(f: FunctionBody, fn: VectorBinaryFn, a: number, b: number, t: number): void {
  if (fn !== 'maximum' && fn !== 'minimum') {
    f.get(a, b).vector(ARITHMETIC_OP[fn]);
    return;
  }
  f.get(a, b, a, b).vector(fn === 'maximum' ? 'f32x4Gt' : 'f32x4Lt');
  f.get(a, a).vector('f32x4Ne').vector('v128Or').vector('bitselect').set(t);
  f.get(t, t, t).vector('f32x4Ne').i32x4Const(0x00400000).vector('v128And').vector('v128Or');
}

/** `<fn><mode>(a, b, d, rows, n4)`, rows >= 1 and n4 >= 1. */
function binary(fn: VectorBinaryFn, mode: VectorMode): FunctionBody {
  const [a, b, d, rows, n4] = [0, 1, 2, 3, 4];
  const f = new FunctionBody(5);
  const i = f.local(I32);
  const s = f.local(V128);
  const [x, y, t] = [f.local(V128), f.local(V128), f.local(V128)];
  const [aScalar, bScalar] = [mode === 'sv', mode === 'vs'];
  f.loop(); // rows
  if (aScalar) f.get(a).loadSplat(0).set(s);
  if (bScalar) f.get(b).loadSplat(0).set(s);
  f.get(n4).set(i);
  f.loop(); // vectors of the row
  if (!aScalar) f.get(a).v128Load(0).set(x);
  if (!bScalar) f.get(b).v128Load(0).set(y);
  f.get(d);
  emitBinaryOp(f, fn, aScalar ? s : x, bScalar ? s : y, t);
  f.v128Store(0);
  if (!aScalar) f.bump(a, 16);
  if (!bScalar) f.bump(b, 16);
  f.bump(d, 16).bump(i, -1);
  f.get(i).brIf(0).end();
  if (aScalar) f.bump(a, 4);
  if (bScalar) f.bump(b, 4);
  f.bump(rows, -1);
  f.get(rows).brIf(0).end();
  return f;
}

/** `scatterAdd(dst, src, ids, n, rows, n4)`, n >= 1 and n4 >= 1. */
function scatterAdd(): FunctionBody {
  const [dst, src, ids, n, rows, n4] = [0, 1, 2, 3, 4, 5];
  const f = new FunctionBody(6);
  const [rowBytes, d, s, j] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  f.get(n4).i32(16).mul().set(rowBytes);
  f.loop(); // source rows
  f.get(ids).i32Load(0).set(d);
  f.get(d, rows).ltU().if();
  f.get(dst, d, rowBytes).mul().add().set(d);
  f.get(src).set(s);
  f.get(n4).set(j);
  f.loop(); // vectors of the row
  f.get(d, d).v128Load(0).get(s).v128Load(0).f32x4Add().v128Store(0);
  f.bump(d, 16).bump(s, 16).bump(j, -1);
  f.get(j).brIf(0).end();
  f.end();
  f.get(src, rowBytes).add().set(src);
  f.bump(ids, 4).bump(n, -1);
  f.get(n).brIf(0).end();
  return f;
}

/** The locals and parameters (indices) of the weighted row kernels' term loop. */
interface TermLoop {
  ids: number;
  weights: number;
  k: number;
  rows: number;
  n4: number;
  kk: number;
  id: number;
  w: number;
  d: number;
  s: number;
  j: number;
}

/**
 * The term loop of weightedGather and weightedScatter: for each of k terms in order (ids and weights
 * advancing), when its id is in [0, rows), `pointRows` sets the locals d and s to the rows it combines, and
 * w · s is added into d vector by vector (f32x4.mul then f32x4.add, each rounded: the JavaScript kernels' bits).
 */
function emitTermLoop(f: FunctionBody, l: TermLoop, pointRows: () => void): void {
  f.get(l.k).set(l.kk);
  f.loop(); // terms, in order
  f.get(l.ids).i32Load(0).set(l.id);
  f.get(l.id, l.rows).ltU().if();
  f.get(l.weights).loadSplat(0).set(l.w);
  pointRows();
  f.get(l.n4).set(l.j);
  f.loop(); // vectors of the row
  f.get(l.d, l.d).v128Load(0).get(l.w, l.s).v128Load(0).f32x4Mul().f32x4Add().v128Store(0);
  f.bump(l.d, 16).bump(l.s, 16).bump(l.j, -1);
  f.get(l.j).brIf(0).end();
  f.end();
  f.bump(l.ids, 4).bump(l.weights, 4).bump(l.kk, -1);
  f.get(l.kk).brIf(0).end();
}

/**
 * `weightedGather(dst, src, ids, weights, n, k, rows, n4)` (`scatter` false) or `weightedScatter` with the same
 * parameters, n >= 1, k >= 1 and n4 >= 1: ids and weights hold n · k terms, row after row of the side walked in
 * order. weightedGather zeroes each output row, then adds each in-range term's w · src row ids[i]; weightedScatter
 * adds each in-range term's w · the source row into dst row ids[i].
 */
function weightedRows(scatter: boolean): FunctionBody {
  const [dst, src, ids, weights, n, k, rows, n4] = [0, 1, 2, 3, 4, 5, 6, 7];
  const f = new FunctionBody(8);
  const [rowBytes, d, s, j] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const [kk, id, w] = [f.local(I32), f.local(I32), f.local(V128)];
  const loop = { ids, weights, k, rows, n4, kk, id, w, d, s, j };
  f.get(n4).i32(16).mul().set(rowBytes);
  f.loop(); // rows of the side read or written in order: dst rows (gather), src rows (scatter)
  if (scatter) {
    emitTermLoop(f, loop, () => f.get(dst, id, rowBytes).mul().add().set(d).get(src).set(s));
    f.get(src, rowBytes).add().set(src);
  } else {
    f.get(dst).set(d).get(n4).set(j);
    f.loop(); // zero the row
    f.get(d).f32x4Const(0).v128Store(0);
    f.bump(d, 16).bump(j, -1);
    f.get(j).brIf(0).end();
    emitTermLoop(f, loop, () => f.get(src, id, rowBytes).mul().add().set(s).get(dst).set(d));
    f.get(dst, rowBytes).add().set(dst);
  }
  f.bump(n, -1);
  f.get(n).brIf(0).end();
  return f;
}

/**
 * `topk(src, dst, rows, e, k)`, rows >= 1 and 1 <= k <= e: the indices of the k best of each row of e floats
 * into dst (k i32 a row), best first, in the `topk` order (NaN first, then larger first, ties to the lower
 * index). Keys come in index order, so a key ranks before an earlier one exactly when the earlier is not NaN
 * and the key is NaN or larger.
 *
 * A first pass takes each of the four lanes' maximum over the row's whole vectors; for k <= 4 the least of
 * them, τ, is at most the k-th best (four keys are at least τ), so keys below τ never matter. The second pass
 * then goes four keys at a time: until k keys are picked, a key is a candidate when it is at least τ or NaN;
 * after, when it is larger than the k-th best or NaN; four non-candidates are dismissed by one comparison,
 * candidates are inserted in place. A NaN k-th best ends the row (nothing later ranks before it). NaN keys are
 * always candidates, so the lane maxima leave them out. Without τ (k > 4, or e < 4) every key is a candidate
 * until k are picked.
 */
function topk(): FunctionBody {
  const [src, dst, rows, e, k] = [0, 1, 2, 3, 4];
  const f = new FunctionBody(5);
  const [j, at, prev, last4, end4, count] = Array.from({ length: 6 }, () => f.local(I32)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [v, w, kth, tau] = [f.local(F32), f.local(F32), f.local(F32), f.local(F32)];
  const [kthv, tauv, x] = [f.local(V128), f.local(V128), f.local(V128)];
  const address = (base: number, index: () => void) => {
    f.get(base);
    index();
    f.i32(2).scalar('i32Shl').add();
  };
  // Pushes whether v ranks before w, w at a lower index.
  const ranksBefore = () => {
    f.get(w, w).scalar('f32Eq');
    f.get(v, v).scalar('f32Ne').get(v, w).scalar('f32Gt').scalar('i32Or');
    f.and();
  };
  // Moves the picks before `at` down while v ranks before them, then puts j at `at`.
  const insert = () => {
    f.block();
    f.loop();
    f.get(at).eqz().brIf(1);
    address(dst, () => f.get(at).i32(1).sub());
    f.i32Load(0).set(prev);
    address(src, () => f.get(prev));
    f.f32Load(0).set(w);
    ranksBefore();
    f.eqz().brIf(1);
    address(dst, () => f.get(at));
    f.get(prev).i32Store(0);
    f.bump(at, -1);
    f.br(0);
    f.end();
    f.end();
    address(dst, () => f.get(at));
    f.get(j).i32Store(0);
  };
  const loadKth = () => {
    address(src, () => {
      address(dst, () => f.get(k).i32(1).sub());
      f.i32Load(0);
    });
    f.f32Load(0).set(kth);
    f.get(kth).splat().set(kthv);
  };
  /**
   * The scan of keys j.. four at a time: `closer` pushes whether any of the four in x needs a closer look,
   * and then `take` handles them (key j in v) one by one; `exit` is the depth, from inside `take`, of the
   * label that ends the scan.
   */
  const scan = (closer: () => void, take: (exit: number) => void) => {
    f.block(); // the scan's end
    f.loop();
    f.get(j, e).scalar('i32GeS').brIf(1);
    f.block(); // four at once
    f.get(j, last4).scalar('i32GtS').brIf(0);
    address(src, () => f.get(j));
    f.v128Load(0).set(x);
    closer();
    f.brIf(0);
    f.bump(j, 4);
    f.br(1);
    f.end();
    f.get(j).i32(4).add().get(e).get(j).i32(4).add().get(e).scalar('i32LtS').select().set(end4);
    f.loop(); // the (up to) four keys one by one
    address(src, () => f.get(j));
    f.f32Load(0).set(v);
    take(2);
    f.bump(j, 1);
    f.get(j, end4).scalar('i32LtS').brIf(0);
    f.end();
    f.br(0);
    f.end();
    f.end();
  };
  f.get(e).i32(4).sub().set(last4);
  f.loop(); // rows
  // τ: the least of the lane maxima over the keys that are not NaN, or -Infinity. pmax(τ, x) = τ < x ? x : τ
  // passes NaN over and is one instruction where max, which propagates NaN, is several.
  f.f32x4Const(Number.NEGATIVE_INFINITY).set(tauv);
  f.i32(0).set(j);
  f.block();
  f.get(j, last4).scalar('i32GtS').brIf(0);
  f.loop();
  f.get(tauv);
  address(src, () => f.get(j));
  f.v128Load(0).vector('f32x4Pmax').set(tauv);
  f.bump(j, 4);
  f.get(j, last4).scalar('i32GtS').eqz().brIf(0);
  f.end();
  f.end();
  horizontal(f, tauv, 'f32x4Min');
  f.get(k).i32(4).scalar('i32GtS').if();
  f.f32x4Const(Number.NEGATIVE_INFINITY).set(tauv);
  f.end();
  f.get(tauv).extractLane(0).set(tau);
  // The first k candidates (at least τ, or NaN), inserted as they come.
  f.i32(0).set(j).i32(0).set(count);
  scan(
    () => f.get(x, tauv).vector('f32x4Ge').get(x, x).vector('f32x4Ne').vector('v128Or').anyTrue(),
    (exit) => {
      f.block(); // key j, when it is a candidate
      f.get(v, tau).scalar('f32Ge').get(v, v).scalar('f32Ne').scalar('i32Or').eqz().brIf(0);
      f.get(count).set(at);
      insert();
      f.bump(count, 1);
      f.get(count, k).scalar('i32Eq').if();
      f.bump(j, 1);
      f.br(exit + 2);
      f.end();
      f.end();
    },
  );
  // The other keys: those ranking before the k-th best replace it.
  loadKth();
  f.block(); // the row's end
  f.get(kth, kth).scalar('f32Ne').brIf(0);
  scan(
    () => f.get(x, kthv).vector('f32x4Gt').get(x, x).vector('f32x4Ne').vector('v128Or').anyTrue(),
    (exit) => {
      f.block(); // key j, when it ranks before the k-th best
      f.get(kth).set(w);
      ranksBefore();
      f.eqz().brIf(0);
      f.get(k).i32(1).sub().set(at);
      insert();
      loadKth();
      f.get(kth, kth)
        .scalar('f32Ne')
        .brIf(exit + 2);
      f.end();
    },
  );
  f.end();
  f.get(src, e).i32(2).scalar('i32Shl').add().set(src);
  f.get(dst, k).i32(2).scalar('i32Shl').add().set(dst);
  f.bump(rows, -1);
  f.get(rows).brIf(0);
  f.end();
  return f;
}

/** f32 lanes as i8x16.shuffle byte indices, both operands the same vector. */
function lanePattern(...f32: number[]): number[] {
  return f32.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
}

/** Replaces the v128 local `v` by its horizontal max, min or sum in every lane (two shuffles). */
function horizontal(f: FunctionBody, v: number, op: 'f32x4Max' | 'f32x4Min' | 'f32x4Add'): void {
  for (const pattern of [lanePattern(2, 3, 0, 1), lanePattern(1, 0, 3, 2)]) {
    f.get(v, v, v).shuffle(pattern).vector(op).set(v);
  }
}

/**
 * `softmax(src, dst, rows, n4)`, rows >= 1 and n4 >= 1, the JavaScript kernel's steps in f32: m = the row max
 * (0 when not finite), e = exp(x - m), e / Σe. Padding lanes hold -Infinity, so they add 0.
 */
function softmax(): FunctionBody {
  const [src, dst, rows, n4] = [0, 1, 2, 3];
  const f = new FunctionBody(4);
  const [i, s, d] = [f.local(I32), f.local(I32), f.local(I32)];
  const [m, sum, x] = [f.local(V128), f.local(V128), f.local(V128)];
  const t = { n: f.local(V128), r: f.local(V128), p: f.local(V128), k: f.local(V128) };
  const block = blockLocals(f);
  // v = src[s + offset] - m; v = exp(v), stored at dst[d + offset].
  const loadShifted = (v: number, offset: number) =>
    f.get(s).v128Load(offset).get(m).vector('f32x4Sub').set(v);
  const storeExp = (v: number, temps: Temps, offset: number) => {
    emitExp(f, v, temps);
    f.set(v).get(d, v).v128Store(offset);
  };
  const rowLoop = (body: () => void) => {
    f.get(src).set(s).get(dst).set(d).get(n4).set(i);
    f.loop();
    body();
    f.bump(s, 16).bump(d, 16).bump(i, -1);
    f.get(i).brIf(0).end();
  };
  f.loop(); // rows
  f.f32x4Const(Number.NEGATIVE_INFINITY).set(m);
  // pmax (m < x ? x : m) is one instruction where max, which orders zeros and propagates NaN, is several on
  // the accumulator's chain. A NaN is passed over here, but it makes the row's sum and so every output NaN
  // either way, and m is a signed zero only where exp(x - m) does not depend on its sign.
  rowLoop(() => f.get(m, s).v128Load(0).vector('f32x4Pmax').set(m));
  horizontal(f, m, 'f32x4Max');
  // m - m is 0 exactly when m is finite; otherwise the mask is 0 and so is m.
  f.get(m, m, m).vector('f32x4Sub').f32x4Const(0).vector('f32x4Eq').vector('v128And').set(m);
  f.f32x4Const(0).set(sum);
  f.get(src).set(s).get(dst).set(d).get(n4).set(i);
  // exp(x - m) a block of UNARY_BLOCK vectors at a time while a whole block is left (the polynomials overlap,
  // as in `unary`), then vector by vector; the sum takes the vectors in order either way.
  f.block().loop();
  f.get(i).i32(UNARY_BLOCK).scalar('i32LtS').brIf(1);
  for (const v of block) loadShifted(v.x, v.offset);
  for (const v of block) storeExp(v.x, v.t, v.offset);
  for (const v of block) f.get(sum, v.x).f32x4Add().set(sum);
  f.bump(s, 16 * UNARY_BLOCK)
    .bump(d, 16 * UNARY_BLOCK)
    .bump(i, -UNARY_BLOCK);
  f.br(0).end().end();
  f.block();
  f.get(i).eqz().brIf(0);
  f.loop();
  loadShifted(x, 0);
  storeExp(x, t, 0);
  f.get(sum, x).f32x4Add().set(sum);
  f.bump(s, 16).bump(d, 16).bump(i, -1);
  f.get(i).brIf(0).end();
  f.end();
  horizontal(f, sum, 'f32x4Add');
  rowLoop(() => f.get(d, d).v128Load(0).get(sum).vector('f32x4Div').v128Store(0));
  f.get(src, n4).i32(16).mul().add().set(src);
  f.get(dst, n4).i32(16).mul().add().set(dst);
  f.bump(rows, -1);
  f.get(rows).brIf(0).end();
  return f;
}

/**
 * The module's bytes: it imports `env.memory` (as shared, with that maximum, given `sharedMaxPages`) and
 * exports every kernel above by name.
 */
export function vectorModuleBytes(sharedMaxPages?: number): Uint8Array<ArrayBuffer> {
  const unaries: FunctionDef[] = VECTOR_UNARY.map((fn) => ({
    params: [I32, I32, I32],
    body: unary(fn),
    export: fn,
  }));
  const binaries: FunctionDef[] = VECTOR_BINARY.flatMap((fn) =>
    VECTOR_MODES.map((mode) => ({
      params: [I32, I32, I32, I32, I32],
      body: binary(fn, mode),
      export: `${fn}${mode}`,
    })),
  );
  const scatter: FunctionDef = {
    params: [I32, I32, I32, I32, I32, I32],
    body: scatterAdd(),
    export: 'scatterAdd',
  };
  const gathered: FunctionDef = {
    params: [I32, I32, I32, I32, I32, I32, I32, I32],
    body: weightedRows(false),
    export: 'weightedGather',
  };
  const scattered: FunctionDef = {
    params: [I32, I32, I32, I32, I32, I32, I32, I32],
    body: weightedRows(true),
    export: 'weightedScatter',
  };
  const rows: FunctionDef = { params: [I32, I32, I32, I32], body: softmax(), export: 'softmax' };
  const gated: FunctionDef[] = [
    { params: [I32, I32, I32, I32], body: swiglu(false), export: 'swiglu' },
    { params: [I32, I32, I32, I32, I32], body: swiglu(true), export: 'swigluGrad' },
  ];
  const selection: FunctionDef = { params: [I32, I32, I32, I32, I32], body: topk(), export: 'topk' };
  return encodeModule(
    [...unaries, ...binaries, scatter, gathered, scattered, rows, ...gated, selection],
    sharedMaxPages,
  );
}

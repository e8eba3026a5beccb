// The WebAssembly SIMD vector-math module, emitted as bytes: f32 element-wise kernels four lanes at a time over
// the shared memory (wasm-vector.ts copies operands in and results out). All addresses are in bytes.
//   unary `exp`, `silu`, `sigmoid` (src, dst, n4): n4 vectors of four floats;
//   binary `<op><mode>` (a, b, d, rows, n4) for op add/sub/mul/div and mode vv/vs/sv: `rows` rows of n4
//   vectors; a vector operand advances 16 bytes a vector, a scalar operand (`s`) one float a row, splatted;
//   `scatterAdd` (dst, src, ids, n, rows, n4): dst row ids[i] += src row i for i < n, rows of n4 vectors,
//   skipping ids outside [0, rows);
//   `softmax` (src, dst, rows, n4): softmax of each row of n4 vectors (rows padded with -Infinity).

import { encodeModule, FunctionBody, type FunctionDef, I32, V128, type VectorOp } from './wasm-encoder.js';

export type VectorUnaryFn = 'exp' | 'silu' | 'sigmoid';
export type VectorBinaryFn = 'add' | 'sub' | 'mul' | 'div';
/** Which binary operands are vectors (v) and which a per-row scalar (s). */
export type VectorMode = 'vv' | 'vs' | 'sv';

export const VECTOR_UNARY: readonly VectorUnaryFn[] = ['exp', 'silu', 'sigmoid'];
export const VECTOR_BINARY: readonly VectorBinaryFn[] = ['add', 'sub', 'mul', 'div'];
export const VECTOR_MODES: readonly VectorMode[] = ['vv', 'vs', 'sv'];

const BINARY_OP: Record<VectorBinaryFn, VectorOp> = {
  add: 'f32x4Add',
  sub: 'f32x4Sub',
  mul: 'f32x4Mul',
  div: 'f32x4Div',
};

/**
 * Appends exp(x) of the v128 local `x`, leaving it on the stack (Cephes expf). x is clamped to
 * [-104, 88.8] (f32x4.min/max keep NaN), n = round(x log2 e), r = x - n ln 2 in two parts, exp(r) by a
 * degree-7 polynomial (Cephes coefficients) on |r| <= ln 2 / 2, and 2^n applied as 2^⌊n/2⌋ · 2^(n-⌊n/2⌋) so both factors are normal
 * floats: the products overflow to Infinity above ln(FLT_MAX) and go through the subnormals to 0 below.
 * Within 2 ulp of the correctly rounded exp.
 */
function emitExp(f: FunctionBody, x: number, t: { n: number; r: number; p: number; k: number }): void {
  f.get(x).f32x4Const(-104).vector('f32x4Max').f32x4Const(88.8).vector('f32x4Min').set(t.r);
  f.get(t.r).f32x4Const(Math.LOG2E).f32x4Mul().vector('f32x4Nearest').set(t.n);
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
  f.get(t.n).vector('i32x4TruncSatF32x4S').set(t.k);
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

/** `fn(src, dst, n4)`: dst = fn(src) over n4 >= 1 vectors. */
function unary(fn: VectorUnaryFn): FunctionBody {
  const [src, dst, n4] = [0, 1, 2];
  const f = new FunctionBody(3);
  const x = f.local(V128);
  const e = f.local(V128);
  const t = { n: f.local(V128), r: f.local(V128), p: f.local(V128), k: f.local(V128) };
  f.loop();
  f.get(src).v128Load(0).set(x);
  f.get(dst);
  if (fn === 'exp') emitExp(f, x, t);
  else {
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
  f.v128Store(0);
  f.bump(src, 16).bump(dst, 16).bump(n4, -1);
  f.get(n4).brIf(0).end();
  return f;
}

/** `<fn><mode>(a, b, d, rows, n4)`, rows >= 1 and n4 >= 1. */
function binary(fn: VectorBinaryFn, mode: VectorMode): FunctionBody {
  const [a, b, d, rows, n4] = [0, 1, 2, 3, 4];
  const f = new FunctionBody(5);
  const i = f.local(I32);
  const s = f.local(V128);
  const [aScalar, bScalar] = [mode === 'sv', mode === 'vs'];
  f.loop(); // rows
  if (aScalar) f.get(a).loadSplat(0).set(s);
  if (bScalar) f.get(b).loadSplat(0).set(s);
  f.get(n4).set(i);
  f.loop(); // vectors of the row
  f.get(d);
  if (aScalar) f.get(s);
  else f.get(a).v128Load(0);
  if (bScalar) f.get(s);
  else f.get(b).v128Load(0);
  f.vector(BINARY_OP[fn]).v128Store(0);
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

/** f32 lanes as i8x16.shuffle byte indices, both operands the same vector. */
function lanePattern(...f32: number[]): number[] {
  return f32.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
}

/** Replaces the v128 local `v` by its horizontal max or sum in every lane (two shuffles). */
function horizontal(f: FunctionBody, v: number, op: 'f32x4Max' | 'f32x4Add'): void {
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
  const rowLoop = (body: () => void) => {
    f.get(src).set(s).get(dst).set(d).get(n4).set(i);
    f.loop();
    body();
    f.bump(s, 16).bump(d, 16).bump(i, -1);
    f.get(i).brIf(0).end();
  };
  f.loop(); // rows
  f.f32x4Const(Number.NEGATIVE_INFINITY).set(m);
  rowLoop(() => f.get(m, s).v128Load(0).vector('f32x4Max').set(m));
  horizontal(f, m, 'f32x4Max');
  // m - m is 0 exactly when m is finite; otherwise the mask is 0 and so is m.
  f.get(m, m, m).vector('f32x4Sub').f32x4Const(0).vector('f32x4Eq').vector('v128And').set(m);
  f.f32x4Const(0).set(sum);
  rowLoop(() => {
    f.get(s).v128Load(0).get(m).vector('f32x4Sub').set(x);
    emitExp(f, x, t);
    f.set(x);
    f.get(d, x).v128Store(0);
    f.get(sum, x).f32x4Add().set(sum);
  });
  horizontal(f, sum, 'f32x4Add');
  rowLoop(() => f.get(d, d).v128Load(0).get(sum).vector('f32x4Div').v128Store(0));
  f.get(src, n4).i32(16).mul().add().set(src);
  f.get(dst, n4).i32(16).mul().add().set(dst);
  f.bump(rows, -1);
  f.get(rows).brIf(0).end();
  return f;
}

/** The module's bytes: it imports `env.memory` and exports the unary and binary kernels by name. */
export function vectorModuleBytes(): Uint8Array<ArrayBuffer> {
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
  const rows: FunctionDef = { params: [I32, I32, I32, I32], body: softmax(), export: 'softmax' };
  return encodeModule([...unaries, ...binaries, scatter, rows]);
}

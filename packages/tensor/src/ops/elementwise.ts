import { type DType, isFloat, promote } from '../dtype.js';
import { apply, op } from '../engine.js';
import { fmtShape, SwitchyardError } from '../errors.js';
import type { BinaryFn, CompareFn, UnaryFn } from '../primitives.js';
import { broadcastShapes } from '../shape.js';
import { Tensor, type TensorLike } from '../tensor.js';
import { cast } from './cast.js';
import { scalar } from './creation.js';

const FLOAT_ONLY: ReadonlySet<UnaryFn> = new Set([
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'tanh',
  'sigmoid',
  'softplus',
  'entr',
  'gelu',
  'geluTanh',
  'silu',
  'erf',
  'sin',
  'cos',
  'floor',
]);

function checkTensor(op: string, x: unknown, name: string): Tensor {
  if (!(x instanceof Tensor)) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `${name} must be a Tensor, got ${x === null ? 'null' : typeof x}`,
    );
  }
  return x;
}

/** Scalars are "weak": they take the other operand's dtype unless they need a float and it is an integer. */
function lift(op: string, x: TensorLike, other: TensorLike): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x !== 'number' && typeof x !== 'boolean') {
    throw new SwitchyardError('INVALID_ARGUMENT', op, `operands must be Tensors or numbers, got ${typeof x}`);
  }
  const like = other instanceof Tensor ? other.dtype : 'f32';
  const dtype: DType = isFloat(like) ? like : Number.isInteger(x) ? (like === 'bool' ? 'i32' : like) : 'f32';
  return scalar(x, dtype);
}

const unary = op(function unary(fn: UnaryFn, x: Tensor): Tensor {
  checkTensor(fn, x, 'x');
  if (fn === 'not') {
    if (x.dtype !== 'bool')
      throw new SwitchyardError('DTYPE_MISMATCH', 'not', `needs a bool tensor, got ${x.dtype}`);
    return apply('unary', [x], { fn }, x.shape, 'bool');
  }
  let input = x;
  if (FLOAT_ONLY.has(fn) && !isFloat(x.dtype)) input = cast(x, 'f32');
  else if (x.dtype === 'bool') input = cast(x, 'i32');
  return apply('unary', [input], { fn }, input.shape, input.dtype);
});

const binary = op(function binary(fn: BinaryFn, a: TensorLike, b: TensorLike): Tensor {
  const ta = lift(fn, a, b);
  const tb = lift(fn, b, a);
  const shape = broadcastShapes(fn, ta.shape, tb.shape);
  if (fn === 'and' || fn === 'or') {
    if (ta.dtype !== 'bool' || tb.dtype !== 'bool') {
      throw new SwitchyardError('DTYPE_MISMATCH', fn, `needs bool tensors, got ${ta.dtype} and ${tb.dtype}`);
    }
    return apply('binary', [ta, tb], { fn }, shape, 'bool');
  }
  let dtype = promote(ta.dtype, tb.dtype);
  if (dtype === 'bool') dtype = 'i32';
  if ((fn === 'div' || fn === 'pow') && !isFloat(dtype)) dtype = 'f32';
  return apply('binary', [cast(ta, dtype), cast(tb, dtype)], { fn }, shape, dtype);
});

const compare = op(function compare(fn: CompareFn, a: TensorLike, b: TensorLike): Tensor {
  const ta = lift(fn, a, b);
  const tb = lift(fn, b, a);
  const shape = broadcastShapes(fn, ta.shape, tb.shape);
  const dtype = promote(ta.dtype, tb.dtype);
  return apply('compare', [cast(ta, dtype), cast(tb, dtype)], { fn }, shape, 'bool');
});

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
/** 1 / sqrt(x). */
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
/** -1, 0 or 1 (not differentiable: its gradient is zero). */
export const sign = (x: Tensor): Tensor => unary('sign', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
/** 1 / (1 + exp(-x)). */
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
/** log(1 + exp(x)), computed stably. */
export const softplus = (x: Tensor): Tensor => unary('softplus', x);
/**
 * The elementwise entropy term entr(x) = -x · ln x (x > 0), 0 at x = 0 and -Infinity for x < 0, as
 * `torch.special.entr` and `scipy.special.entr`: the entropy of a distribution p is `sum(entr(p))` in one pass
 * over p, where `-sum(mul(p, log(p)))` needs a clamp for p = 0 (0 · -Infinity is NaN) and two more passes.
 * d/dx = -(ln x + 1).
 */
export const entr = (x: Tensor): Tensor => unary('entr', x);
/** x * Phi(x) with the exact normal CDF (erf). Hendrycks and Gimpel 2016. */
export const gelu = (x: Tensor): Tensor => unary('gelu', x);
/** The tanh approximation of GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export const geluTanh = (x: Tensor): Tensor => unary('geluTanh', x);
/** x * sigmoid(x) (also called swish). */
export const silu = (x: Tensor): Tensor => unary('silu', x);
export const erf = (x: Tensor): Tensor => unary('erf', x);
export const sin = (x: Tensor): Tensor => unary('sin', x);
export const cos = (x: Tensor): Tensor => unary('cos', x);
/** Rounds down (gradient zero). */
export const floor = (x: Tensor): Tensor => unary('floor', x);
export const logicalNot = (x: Tensor): Tensor => unary('not', x);

export const add = (a: TensorLike, b: TensorLike): Tensor => binary('add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary('mul', a, b);
/** True division: integers are promoted to f32. */
export const div = (a: TensorLike, b: TensorLike): Tensor => binary('div', a, b);
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary('pow', a, b);
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary('maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary('minimum', a, b);
/** Floored modulo: the result has the sign of the divisor (as Python's %). */
export const mod = (a: TensorLike, b: TensorLike): Tensor => binary('mod', a, b);
export const logicalAnd = (a: TensorLike, b: TensorLike): Tensor => binary('and', a, b);
export const logicalOr = (a: TensorLike, b: TensorLike): Tensor => binary('or', a, b);

export const equal = (a: TensorLike, b: TensorLike): Tensor => compare('eq', a, b);
export const notEqual = (a: TensorLike, b: TensorLike): Tensor => compare('ne', a, b);
export const less = (a: TensorLike, b: TensorLike): Tensor => compare('lt', a, b);
export const lessEqual = (a: TensorLike, b: TensorLike): Tensor => compare('le', a, b);
export const greater = (a: TensorLike, b: TensorLike): Tensor => compare('gt', a, b);
export const greaterEqual = (a: TensorLike, b: TensorLike): Tensor => compare('ge', a, b);

export const square = (x: Tensor): Tensor => mul(x, x);
export const reciprocal = (x: Tensor): Tensor => div(1, x);

/** Limits values to [lo, hi] (NaN stays NaN); an infinite bound costs no kernel. */
export const clamp = op(function clamp(x: Tensor, lo: number, hi: number): Tensor {
  if (!(lo <= hi)) throw new SwitchyardError('INVALID_ARGUMENT', 'clamp', `lo ${lo} is above hi ${hi}`);
  if (hi === Number.POSITIVE_INFINITY) return maximum(x, lo);
  if (lo === Number.NEGATIVE_INFINITY) return minimum(x, hi);
  return minimum(maximum(x, lo), hi);
});

/** `cond ? a : b` elementwise, broadcasting all three; `cond` must be bool. */
export const where = op(function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  checkTensor('where', cond, 'cond');
  if (cond.dtype !== 'bool') {
    throw new SwitchyardError(
      'DTYPE_MISMATCH',
      'where',
      `cond must be bool, got ${cond.dtype} ${fmtShape(cond.shape)}`,
    );
  }
  const ta = lift('where', a, b);
  const tb = lift('where', b, a);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, ta.shape), tb.shape);
  const dtype = promote(ta.dtype, tb.dtype);
  return apply('where', [cond, cast(ta, dtype), cast(tb, dtype)], {}, shape, dtype);
});

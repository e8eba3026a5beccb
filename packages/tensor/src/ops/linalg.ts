import { isFloat, promote } from '../dtype.js';
import { apply, op } from '../engine.js';
import { fmtShape, SwitchyardError } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { cast } from './cast.js';
import { pad, reshape } from './layout.js';
import { cumsum } from './scan.js';
import { checkIndexTensor, checkOffsetValues, checkTensor } from './validate.js';

export interface MatmulOptions {
  /** Use a's last two axes transposed. */
  transA?: boolean;
  /** Use b's last two axes transposed. */
  transB?: boolean;
}

/**
 * Matrix product over the last two axes with broadcast batch axes: [..., M, K] @ [..., K, N] -> [..., M, N].
 * A 1-D operand is treated as a row (a) or column (b) vector and that axis is dropped from the result.
 */
export const matmul = op(function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  if (typeof options !== 'object' || options === null) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'matmul',
      `options must be an object, got ${String(options)}`,
    );
  }
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  checkTensor('matmul', a, 'a');
  checkTensor('matmul', b, 'b');
  if (a.rank === 0 || b.rank === 0) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'matmul',
      `needs operands of rank >= 1: a is ${fmtShape(a.shape)}, b is ${fmtShape(b.shape)}`,
    );
  }
  const a2 = a.rank === 1 ? reshape(a, transA ? [a.size, 1] : [1, a.size]) : a;
  const b2 = b.rank === 1 ? reshape(b, transB ? [1, b.size] : [b.size, 1]) : b;
  const [m, ka] = transA ? [a2.shape.at(-1), a2.shape.at(-2)] : [a2.shape.at(-2), a2.shape.at(-1)];
  const [kb, n] = transB ? [b2.shape.at(-1), b2.shape.at(-2)] : [b2.shape.at(-2), b2.shape.at(-1)];
  if (ka !== kb) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'matmul',
      `inner dimensions differ: a is ${fmtShape(a.shape)}${transA ? ' (transposed)' : ''}, b is ${fmtShape(b.shape)}${transB ? ' (transposed)' : ''}`,
    );
  }
  const batch = broadcastShapes('matmul', a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  let dtype = promote(a.dtype, b.dtype);
  if (!isFloat(dtype)) dtype = 'f32';
  const out = apply(
    'matmul',
    [cast(a2, dtype), cast(b2, dtype)],
    { transA, transB },
    [...batch, m as number, n as number],
    dtype,
  );
  if (a.rank > 1 && b.rank > 1) return out;
  const shape = [...batch];
  if (a.rank > 1) shape.push(m as number);
  if (b.rank > 1) shape.push(n as number);
  return reshape(out, shape);
});

/**
 * One matmul per contiguous row segment (the MoE expert computation):
 * `y_RN[r] = x_RK[r] @ w_EKN[e]` for `offsets[e] <= r < offsets[e + 1]`; rows after `offsets[E]` are zero.
 * `offsets` is i32 [E + 1], starting at 0 and non-decreasing (see `offsetsFromCounts`). With `transW` the
 * weights are [E, N, K]. Differentiable in x and w.
 */
export const groupedMatmul = op(function groupedMatmul(
  x: Tensor,
  w: Tensor,
  offsets: Tensor,
  options: { transW?: boolean } = {},
): Tensor {
  const transW = options.transW ?? false;
  checkTensor('groupedMatmul', x, 'x');
  checkTensor('groupedMatmul', w, 'w');
  checkIndexTensor('groupedMatmul', offsets, 'offsets');
  if (x.rank !== 2 || w.rank !== 3 || offsets.rank !== 1) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'groupedMatmul',
      `needs x [R, K], w [E, K, N] and offsets [E + 1]: x is ${fmtShape(x.shape)}, w is ${fmtShape(w.shape)}, offsets is ${fmtShape(offsets.shape)}`,
    );
  }
  const [e, wk, wn] = w.shape as [number, number, number];
  const [k, n] = transW ? [wn, wk] : [wk, wn];
  if (x.shape[1] !== k || offsets.shape[0] !== e + 1) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'groupedMatmul',
      `x is ${fmtShape(x.shape)}, w is ${fmtShape(w.shape)}${transW ? ' (transposed)' : ''}, offsets is ${fmtShape(offsets.shape)}: expected x [R, ${k}] and offsets [${e + 1}]`,
    );
  }
  checkOffsetValues('groupedMatmul', offsets, x.shape[0] as number);
  let dtype = promote(x.dtype, w.dtype);
  if (!isFloat(dtype)) dtype = 'f32';
  return apply(
    'groupedMatmul',
    [cast(x, dtype), cast(w, dtype), offsets],
    { transW },
    [x.shape[0] as number, n],
    dtype,
  );
});

/**
 * The weight gradient of `groupedMatmul`: `dw_EKN[e] = x_RK[seg e]^T @ dy_RN[seg e]`, for `experts` segments.
 */
export const groupedMatmulGradW = op(function groupedMatmulGradW(
  x: Tensor,
  dy: Tensor,
  offsets: Tensor,
): Tensor {
  checkTensor('groupedMatmulGradW', x, 'x');
  checkTensor('groupedMatmulGradW', dy, 'dy');
  checkIndexTensor('groupedMatmulGradW', offsets, 'offsets');
  if (x.rank !== 2 || dy.rank !== 2 || offsets.rank !== 1 || x.shape[0] !== dy.shape[0] || offsets.size < 1) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'groupedMatmulGradW',
      `needs x [R, K], dy [R, N] and offsets [E + 1]: x is ${fmtShape(x.shape)}, dy is ${fmtShape(dy.shape)}, offsets is ${fmtShape(offsets.shape)}`,
    );
  }
  checkOffsetValues('groupedMatmulGradW', offsets, x.shape[0] as number);
  let dtype = promote(x.dtype, dy.dtype);
  if (!isFloat(dtype)) dtype = 'f32';
  const shape = [offsets.size - 1, x.shape[1] as number, dy.shape[1] as number];
  return apply('groupedMatmulGradW', [cast(x, dtype), cast(dy, dtype), offsets], {}, shape, dtype);
});

/** Segment offsets [E + 1] (starting at 0) from per-segment counts [E], as i32. */
export const offsetsFromCounts = op(function offsetsFromCounts(counts: Tensor): Tensor {
  checkIndexTensor('offsetsFromCounts', counts, 'counts');
  if (counts.rank !== 1) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'offsetsFromCounts',
      `counts must be 1-D, got ${fmtShape(counts.shape)}`,
    );
  }
  return cumsum(pad(counts, [[1, 0]]), 0);
});

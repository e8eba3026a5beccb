import { apply, op } from '../engine.js';
import { fmtShape, SwitchyardError } from '../errors.js';
import { normalizeAxis, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { cast } from './cast.js';
import { arange, zeros } from './creation.js';
import { add, equal } from './elementwise.js';
import { reshape, swapAxes, unsqueeze } from './layout.js';
import { checkIndexTensor, checkIndexValues, checkTensor } from './validate.js';

/**
 * Rows of `x` [N, ...rest] at i32 `indices` of any shape: [...indices.shape, ...rest] (index_select).
 * Differentiable in x; its adjoint is `scatterAdd`.
 */
export function gather(x: Tensor, indices: Tensor): Tensor {
  checkTensor('gather', x, 'x');
  checkIndexTensor('gather', indices, 'indices');
  if (x.rank === 0)
    throw new SwitchyardError('SHAPE_MISMATCH', 'gather', 'x must have rank >= 1, got a scalar');
  checkIndexValues('gather', indices, 'indices', x.shape[0] as number);
  return apply('gather', [x, indices], {}, [...indices.shape, ...x.shape.slice(1)], x.dtype);
}

/**
 * Adds `src` [...indices.shape, ...rest] into a zero tensor [rows, ...rest] at the rows named by `indices`
 * (index_add; duplicates accumulate). Differentiable in src; the adjoint of `gather`.
 */
export const scatterAdd = op(function scatterAdd(src: Tensor, indices: Tensor, rows: number): Tensor {
  checkTensor('scatterAdd', src, 'src');
  checkIndexTensor('scatterAdd', indices, 'indices');
  if (!Number.isInteger(rows) || rows < 0) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'scatterAdd',
      `rows must be a non-negative integer, got ${rows}`,
    );
  }
  const lead = indices.shape;
  if (src.rank < lead.length || lead.some((d, i) => src.shape[i] !== d)) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'scatterAdd',
      `src ${fmtShape(src.shape)} must start with the indices' shape ${fmtShape(indices.shape)}`,
    );
  }
  checkIndexValues('scatterAdd', indices, 'indices', rows);
  const input = src.dtype === 'bool' ? cast(src, 'i32') : src;
  return apply(
    'scatterAdd',
    [input, indices],
    { rows },
    [rows, ...src.shape.slice(lead.length)],
    input.dtype,
  );
});

/** Embedding lookup: rows of `table` [V, D] at token ids of any shape -> [...ids.shape, D]. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  checkTensor('embedding', table, 'table');
  if (table.rank !== 2)
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'embedding',
      `table must be [V, D], got ${fmtShape(table.shape)}`,
    );
  return gather(table, ids);
}

/** i32 [rows, 1] of r · n: where row r of a row-major [rows, n] matrix starts once flattened. */
export function rowStarts(rows: number, n: number): Tensor {
  return n === 0 ? zeros([rows, 1], 'i32') : reshape(arange(0, rows * n, n), [rows, 1]);
}

/**
 * Picks along `axis` with i32 `indices` shaped like `x` except on that axis (NumPy take_along_axis).
 * Differentiable in x.
 */
export const takeAlongAxis = op(function takeAlongAxis(x: Tensor, indices: Tensor, axis = -1): Tensor {
  checkTensor('takeAlongAxis', x, 'x');
  checkIndexTensor('takeAlongAxis', indices, 'indices');
  const a = normalizeAxis('takeAlongAxis', axis, x.rank);
  if (indices.rank !== x.rank || x.shape.some((d, i) => i !== a && d !== indices.shape[i])) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'takeAlongAxis',
      `indices ${fmtShape(indices.shape)} must match x ${fmtShape(x.shape)} except on axis ${axis}`,
    );
  }
  checkIndexValues('takeAlongAxis', indices, 'indices', x.shape[a] as number);
  const xl = a === x.rank - 1 ? x : swapAxes(x, a, -1);
  const il = a === x.rank - 1 ? indices : swapAxes(indices, a, -1);
  const n = xl.shape.at(-1) as number;
  const m = il.shape.at(-1) as number;
  const rows = sizeOf(xl.shape.slice(0, -1));
  const flat = add(reshape(il, [rows, m]), rowStarts(rows, n));
  const picked = reshape(gather(reshape(xl, [rows * n]), flat), il.shape);
  return a === x.rank - 1 ? picked : swapAxes(picked, a, -1);
});

/** One-hot encoding of i32 `indices` as float [..., depth]. */
export const oneHot = op(function oneHot(indices: Tensor, depth: number): Tensor {
  checkIndexTensor('oneHot', indices, 'indices');
  if (!Number.isInteger(depth) || depth < 0) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'oneHot',
      `depth must be a non-negative integer, got ${depth}`,
    );
  }
  return cast(equal(unsqueeze(indices, -1), arange(depth)), 'f32');
});

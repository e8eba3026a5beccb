import { isFloat, promote } from '../dtype.js';
import { apply, op } from '../engine.js';
import { fmtShape, invariant, SwitchyardError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { cast } from './cast.js';
import { checkIndexTensor, checkTensor } from './validate.js';

/**
 * A weighted gather-sum over rows of `src`:
 *
 *     out[t] = Σ_{k=0..K-1} weights[t, k] · src[rows[t, k]]
 *
 * summed in k order starting from zero (so K = 1 gives exactly `weights · src[row]` and K = 0 gives zeros).
 * A row index outside [0, R) adds nothing: no error is raised, which lets a dropped assignment point at a sink
 * index such as R.
 *
 * This is the MoE combine ("unpermute"): with `src` the expert outputs y_RD, `rows` the routed row of each of
 * a token's K assignments and `weights` their combine weights, it computes the layer output in one pass. It
 * equals `scatterAdd(mul(gather(src, rows), weights[..., None]), tokens, T)` up to the summation order, but
 * each output element is summed by one thread in a fixed order with no atomics, so the result is the same
 * bits on every run; `scatterAdd` on WebGPU adds with float atomics, whose order (hence the last bits) can
 * change from run to run.
 *
 * On the CPU each product is rounded to the output dtype's f32 arithmetic and added to an f32 accumulator, as
 * `scatterAdd(mul(...))` computes it, so K ≤ 2 matches that composite bit for bit.
 *
 * @param src float tensor [R, ...rest] (rank >= 1): the rows to combine.
 * @param rows i32 [T, K]: which row of src each term reads; out-of-range rows contribute 0.
 * @param weights float [T, K], the shape of rows: each term's weight.
 * @returns [T, ...rest] of the promoted float dtype of src and weights. Differentiable in src and weights.
 *
 * @example
 * ```ts
 * // T = 2 tokens, K = 2 experts each, rows of y_RD [4, D]; row 4 (= R) is a dropped assignment.
 * const y_TD = weightedGather(y_RD, tensor([[0, 2], [1, 4]], { dtype: 'i32' }), tensor([[0.7, 0.3], [1, 0.5]]));
 * ```
 */
export const weightedGather = op(function weightedGather(src: Tensor, rows: Tensor, weights: Tensor): Tensor {
  checkTensor('weightedGather', src, 'src');
  checkIndexTensor('weightedGather', rows, 'rows');
  checkTensor('weightedGather', weights, 'weights');
  if (src.rank < 1) {
    throw new SwitchyardError('SHAPE_MISMATCH', 'weightedGather', 'src must have rank >= 1, got a scalar');
  }
  if (!isFloat(src.dtype) || !isFloat(weights.dtype)) {
    throw new SwitchyardError(
      'DTYPE_MISMATCH',
      'weightedGather',
      `src and weights must be float tensors, got src ${src.dtype} ${fmtShape(src.shape)} and weights ${weights.dtype} ${fmtShape(weights.shape)}`,
    );
  }
  if (rows.rank !== 2) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'weightedGather',
      `rows must be [T, K], got ${fmtShape(rows.shape)}`,
    );
  }
  if (weights.rank !== 2 || weights.shape[0] !== rows.shape[0] || weights.shape[1] !== rows.shape[1]) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'weightedGather',
      `weights ${fmtShape(weights.shape)} must have the shape of rows ${fmtShape(rows.shape)}`,
    );
  }
  const dtype = promote(src.dtype, weights.dtype);
  return apply(
    'weightedGather',
    [cast(src, dtype), rows, cast(weights, dtype)],
    {},
    [rows.shape[0] as number, ...src.shape.slice(1)],
    dtype,
  );
});

/**
 * The cotangent of `weightedGather`'s `wrt` input given the cotangent `g` [T, ...rest] of its output:
 * Σ_{(t, k): rows[t, k] = r} weights[t, k] · g[t] for each row r of `'src'`, <g[t], src[rows[t, k]]> for
 * `'weights'`; rows out of range give and get nothing. Internal: only weightedGather's VJP applies it (inside
 * backward, where nothing is recorded).
 */
export const weightedGatherGrad = op(function weightedGatherGrad(
  src: Tensor,
  rows: Tensor,
  weights: Tensor,
  g: Tensor,
  wrt: 'src' | 'weights',
): Tensor {
  const [t, k] = rows.shape as [number, number];
  invariant(
    src.dtype === weights.dtype &&
      rows.rank === 2 &&
      weights.shape.join() === rows.shape.join() &&
      g.shape.join() === [t, ...src.shape.slice(1)].join(),
    'weightedGatherGrad',
    `src ${src.dtype} ${fmtShape(src.shape)}, rows ${fmtShape(rows.shape)}, weights ${weights.dtype} ${fmtShape(weights.shape)} and g ${fmtShape(g.shape)} must agree`,
  );
  const shape = wrt === 'src' ? src.shape : [t, k];
  return apply('weightedGatherGrad', [src, rows, weights, cast(g, src.dtype)], { wrt }, shape, src.dtype);
});

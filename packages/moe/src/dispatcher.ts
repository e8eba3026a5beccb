// Shape letters: T tokens, D model width, E experts, A assignments, R routed rows.
import type { Routing } from '@switchyard/routers';
import type { Tensor } from '@switchyard/tensor';

/** What `combine` needs to bring expert outputs back to their tokens; produced by `dispatch`. */
export interface DispatchMeta {
  /** Row of routed_RD holding each assignment, or R (a zero sink row) for a dropped one [A], i32. */
  readonly row_A: Tensor;
  /** Which token each assignment came from [A], i32. */
  readonly token_A: Tensor;
  /** Combine weights [A] (differentiable). */
  readonly weight_A: Tensor;
  readonly numTokens: number;
  readonly numRows: number;
  /**
   * With `weight_TK`, set for token-choice routings (A = T·K, assignment a = t·K + k): `row_A` viewed as
   * [T, K], i32, R for a dropped assignment. `combine` is then one `weightedGather` over the expert outputs:
   * each token sums its K rows in k order, with no scatter (deterministic on every backend).
   */
  readonly row_TK?: Tensor;
  /** `weight_A` viewed as [T, K] (differentiable); set with `row_TK`. */
  readonly weight_TK?: Tensor;
  /**
   * With `weight_R`, set for other routings (expert choice) when every routed row holds exactly one
   * assignment (dropless, unpadded): each row's token [R], i32, so `combine` scales and adds the rows where
   * they are instead of gathering them back into assignment order first.
   */
  readonly token_R?: Tensor;
  /** Each row's combine weight [R] (differentiable); set with `token_R`. */
  readonly weight_R?: Tensor;
}

export interface DispatchResult {
  /** Token rows grouped by expert: expert e owns rows [offsets[e], offsets[e+1]) [R, D]. */
  readonly routed_RD: Tensor;
  /** Rows each expert owns in routed_RD [E], i32 (the experts' segment sizes). */
  readonly counts_E: Tensor;
  /** Assignments each expert was sent before capacity [E], i32. */
  readonly routed_E: Tensor;
  /** Assignments each expert kept after capacity [E], i32. */
  readonly kept_E: Tensor;
  readonly meta: DispatchMeta;
}

export interface DispatchOptions {
  /** Training uses the capacity factor, evaluation the evaluation capacity factor. */
  training: boolean;
}

/**
 * Moves token rows to their experts and back. `dispatch` groups assignments by expert (applying capacity if
 * configured); `combine` scales expert outputs by the combine weights and adds them back to their tokens,
 * dropped assignments contributing zero (the residual connection carries those tokens through).
 * `LocalDispatcher` runs on one device; expert-parallel dispatchers implement the same interface.
 */
export interface Dispatcher {
  dispatch(x_TD: Tensor, routing: Routing, options: DispatchOptions): DispatchResult;
  combine(y_RD: Tensor, meta: DispatchMeta): Tensor;
}

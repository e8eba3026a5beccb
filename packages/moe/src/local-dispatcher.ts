// Shape letters: T tokens, D model width, E experts, A assignments, R routed rows, C capacity.
import type { Routing } from '@switchyard/routers';
import {
  add,
  arange,
  argsort,
  bincount,
  bucketSort,
  cast,
  concat,
  cumsum,
  fmtShape,
  full,
  gather,
  less,
  minimum,
  mul,
  reshape,
  SwitchyardError,
  scatterAdd,
  slice,
  sub,
  type Tensor,
  tidy,
  unsqueeze,
  weightedGather,
  where,
  zeros,
} from '@switchyard/tensor';
import type { Dispatcher, DispatchMeta, DispatchOptions, DispatchResult } from './dispatcher.js';

export interface CapacityConfig {
  /** C = ceil(A / E · capacityFactor) in training (A = T·K for token choice). Omit for dropless. */
  capacityFactor?: number;
  /** Capacity factor in evaluation (ST-MoE used 1.25 train, 2.0 eval). Defaults to `capacityFactor`. */
  evalCapacityFactor?: number;
  /** Lower bound on C (for tiny batches). Default 0. */
  minCapacity?: number;
  /**
   * Which assignments an expert keeps when over capacity: the earliest tokens (`position`, Switch/GShard) or
   * the highest combine weights (`probs`, batch-prioritised routing, Riquelme et al. 2021).
   */
  dropPolicy?: 'position' | 'probs';
  /** Give every expert exactly C rows (zero rows pad the unused slots), as fixed-shape accelerators need. */
  padToCapacity?: boolean;
}

function checkFactor(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new SwitchyardError(
      'INVALID_CONFIG',
      'LocalDispatcher',
      `${name} must be a positive number, got ${value}`,
    );
  }
}

/**
 * Single-device dispatch with static shapes and no host round trip (so it runs unchanged on WebGPU).
 * Dropless by default: every assignment gets a row (R = A). With a capacity factor, each expert keeps at most
 * C assignments chosen by the drop policy; kept rows are packed per expert (R = A, trailing rows unused) or
 * padded to C rows per expert (R = E·C). Dropped assignments point at a zero sink row, so they contribute
 * nothing and receive no gradient.
 *
 * Drop policies: `'position'` keeps each expert's earliest assignments (Switch/GShard); `'probs'` keeps the
 * ones with the largest combine weight, which is batch-prioritised routing (BPR, Riquelme et al. 2021,
 * V-MoE): when capacity binds, the tokens the router is most confident about go first, whatever their
 * position. (BPR ranks by the router probability; `'probs'` ranks by `weight_A`, which is that probability
 * for softmax top-k routers without renormalisation; with renormalised or scaled weights the ranking follows
 * the weights.)
 *
 * For token-choice routings `combine` is one `weightedGather`: each token sums its K expert rows in k order
 * (dropped ones pointing past the last row add nothing), a single pass with no scatter, so its result is the
 * same bits on every run and backend-deterministic on WebGPU too.
 *
 * Routings of kind `'expert-choice'` are always dispatched dropless: the router already gave every expert
 * exactly C tokens, so the capacity options do not apply to them.
 */
export class LocalDispatcher implements Dispatcher {
  readonly capacityFactor: number | undefined;
  readonly evalCapacityFactor: number | undefined;
  readonly minCapacity: number;
  readonly dropPolicy: 'position' | 'probs';
  readonly padToCapacity: boolean;

  constructor(config: CapacityConfig = {}) {
    checkFactor('capacityFactor', config.capacityFactor);
    checkFactor('evalCapacityFactor', config.evalCapacityFactor);
    const minCapacity = config.minCapacity ?? 0;
    if (!Number.isInteger(minCapacity) || minCapacity < 0) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        'LocalDispatcher',
        `minCapacity must be a non-negative integer, got ${minCapacity}`,
      );
    }
    const dropPolicy = config.dropPolicy ?? 'position';
    if (dropPolicy !== 'position' && dropPolicy !== 'probs') {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        'LocalDispatcher',
        `dropPolicy must be 'position' or 'probs', got '${String(dropPolicy)}'`,
      );
    }
    if (
      config.capacityFactor === undefined &&
      (config.evalCapacityFactor !== undefined || config.padToCapacity)
    ) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        'LocalDispatcher',
        'evalCapacityFactor and padToCapacity need a capacityFactor (the dispatcher is dropless without one)',
      );
    }
    this.capacityFactor = config.capacityFactor;
    this.evalCapacityFactor = config.evalCapacityFactor ?? config.capacityFactor;
    this.minCapacity = minCapacity;
    this.dropPolicy = dropPolicy;
    this.padToCapacity = config.padToCapacity ?? false;
  }

  /** C for A assignments over E experts, or undefined when dropless. */
  capacity(assignments: number, experts: number, training: boolean): number | undefined {
    const factor = training ? this.capacityFactor : this.evalCapacityFactor;
    if (factor === undefined) return undefined;
    return Math.max(this.minCapacity, Math.ceil((assignments / experts) * factor));
  }

  dispatch(x_TD: Tensor, routing: Routing, options: DispatchOptions): DispatchResult {
    const { token_A, expert_A, weight_A, numExperts: e } = routing;
    if (x_TD.rank !== 2)
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        'dispatch',
        `x must be [T, D], got ${fmtShape(x_TD.shape)}`,
      );
    const [t, d] = x_TD.shape as [number, number];
    const a = token_A.size;
    if (expert_A.size !== a || weight_A.size !== a) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        'dispatch',
        `routing has token_A ${fmtShape(token_A.shape)}, expert_A ${fmtShape(expert_A.shape)}, weight_A ${fmtShape(weight_A.shape)}`,
      );
    }
    // Expert choice enforces its capacity in the router (every expert already holds exactly C assignments),
    // so its routings are dispatched dropless whatever the capacity factor.
    const c = routing.kind === 'expert-choice' ? undefined : this.capacity(a, e, options.training);
    // Token choice: assignment a = t·K + k, so row_A and weight_A are [T, K] read row-major and combine is a
    // gather-sum per token.
    const k = routing.topK;
    const tokenMajor = routing.kind === 'token-choice' && Number.isInteger(k) && k >= 0 && a === t * k;
    const perToken = (row_A: Tensor) =>
      tokenMajor ? { row_TK: reshape(row_A, [t, k]), weight_TK: reshape(weight_A, [t, k]) } : {};
    return tidy(() => {
      // Stable order grouping assignments by expert; within an expert, by position or by descending weight.
      let order_A: Tensor;
      if (c !== undefined && this.dropPolicy === 'probs') {
        const byWeight = argsort(weight_A, { descending: true });
        order_A = gather(byWeight, bucketSort(gather(expert_A, byWeight), e));
      } else order_A = bucketSort(expert_A, e);
      const routed_E = bincount(expert_A, e);
      const sortedToken_A = gather(token_A, order_A);
      if (c === undefined) {
        // Dropless: sorted assignment r is row r, so the rows are the sorted tokens and nothing is padded.
        const row_A = scatterAdd(arange(a), order_A, a);
        const meta: DispatchMeta = tokenMajor
          ? { row_A, token_A, weight_A, numTokens: t, numRows: a, ...perToken(row_A) }
          : {
              row_A,
              token_A,
              weight_A,
              numTokens: t,
              numRows: a,
              token_R: sortedToken_A,
              weight_R: gather(weight_A, order_A),
            };
        const routed_RD = gather(x_TD, sortedToken_A);
        return { routed_RD, counts_E: routed_E, routed_E, kept_E: routed_E, meta };
      }
      const sortedExpert_A = gather(expert_A, order_A);
      const start_E = cumsum(routed_E, 0, { exclusive: true });
      const rank_A = sub(arange(a), gather(start_E, sortedExpert_A));
      const kept_E = minimum(routed_E, c);
      const keep_A = less(rank_A, c);
      let counts_E: Tensor;
      let sortedRow_A: Tensor;
      let rows: number;
      if (this.padToCapacity) {
        rows = e * c;
        counts_E = full([e], c, 'i32');
        sortedRow_A = add(mul(sortedExpert_A, c), rank_A);
      } else {
        rows = a;
        counts_E = kept_E;
        sortedRow_A = add(gather(cumsum(kept_E, 0, { exclusive: true }), sortedExpert_A), rank_A);
      }
      sortedRow_A = where(keep_A, sortedRow_A, rows);
      // Back to assignment order (order_A is a permutation, so each assignment receives exactly one row).
      const row_A = scatterAdd(sortedRow_A, order_A, a);
      // The token each row holds, T (a zero row appended to x) for unused rows.
      const holder_R = scatterAdd(add(sortedToken_A, 1), sortedRow_A, rows + 1);
      const token_R = where(less(holder_R, 1), t, sub(holder_R, 1));
      const xPadded = concat([x_TD, zeros([1, d], x_TD.dtype)], 0);
      const routed_RD = gather(xPadded, slice(token_R, [0], [rows]));
      // Dropped assignments hold row R (`rows`), outside [0, R): weightedGather adds nothing for them.
      const meta: DispatchMeta = {
        row_A,
        token_A,
        weight_A,
        numTokens: t,
        numRows: rows,
        ...perToken(row_A),
      };
      return {
        routed_RD,
        counts_E,
        routed_E,
        kept_E,
        meta,
      };
    });
  }

  combine(y_RD: Tensor, meta: DispatchMeta): Tensor {
    if (y_RD.rank !== 2 || y_RD.shape[0] !== meta.numRows) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        'combine',
        `y must be [${meta.numRows}, D], got ${fmtShape(y_RD.shape)}`,
      );
    }
    return tidy(() => {
      const { row_TK, weight_TK, token_R, weight_R } = meta;
      if (row_TK && weight_TK) return weightedGather(y_RD, row_TK, cast(weight_TK, y_RD.dtype));
      if (token_R && weight_R) {
        return scatterAdd(mul(y_RD, unsqueeze(cast(weight_R, y_RD.dtype), -1)), token_R, meta.numTokens);
      }
      const d = y_RD.shape[1] as number;
      const yPadded = concat([y_RD, zeros([1, d], y_RD.dtype)], 0);
      const y_AD = gather(yPadded, meta.row_A);
      const weighted_AD = mul(y_AD, unsqueeze(cast(meta.weight_A, y_RD.dtype), -1));
      return scatterAdd(weighted_AD, meta.token_A, meta.numTokens);
    });
  }
}

import { apply, op } from '../engine.js';
import { fmtShape, SwitchyardError } from '../errors.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { cast } from './cast.js';
import { takeAlongAxis } from './indexing.js';
import { slice, swapAxes } from './layout.js';
import { checkIndexTensor, checkIndexValues, checkTensor } from './validate.js';

function lastAxisInput(op: string, x: Tensor, axis: number): { input: Tensor; a: number } {
  checkTensor(op, x, 'x');
  if (x.rank === 0)
    throw new SwitchyardError('INVALID_ARGUMENT', op, 'needs a tensor of rank >= 1, got a scalar');
  const a = normalizeAxis(op, axis, x.rank);
  const moved = a === x.rank - 1 ? x : swapAxes(x, a, -1);
  return { input: moved.dtype === 'bool' ? cast(moved, 'i32') : moved, a };
}

function restoreAxis(t: Tensor, a: number): Tensor {
  return a === t.rank - 1 ? t : swapAxes(t, a, -1);
}

export interface TopkResult {
  /** The selected values, differentiable. */
  values: Tensor;
  /** Their indices along the axis (i32), not differentiable. */
  indices: Tensor;
}

/**
 * The `k` largest (or smallest) entries along `axis`, in order; ties go to the lower index (so results are
 * deterministic). NaN counts as larger than every number.
 */
export const topk = op(function topk(
  x: Tensor,
  k: number,
  options: { axis?: number; largest?: boolean } = {},
): TopkResult {
  const { input, a } = lastAxisInput('topk', x, options.axis ?? -1);
  const n = input.shape.at(-1) as number;
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'topk',
      `k = ${k} must be an integer in [0, ${n}] for x ${fmtShape(x.shape)}`,
    );
  }
  const shape = [...input.shape.slice(0, -1), k];
  const idx = apply('topk', [input], { k, largest: options.largest ?? true }, shape, 'i32');
  const indices = restoreAxis(idx, a);
  return { values: takeAlongAxis(x, indices, a), indices };
});

/** What `routerTopK` returns: combine weights and expert indices, [T, K] each. */
export interface RouterTopKResult {
  /** The chosen scores (divided by their sum with `normalize`), f32, differentiable in the logits. */
  weights: Tensor;
  /** The chosen experts (i32), best first, ties to the lower index. */
  indices: Tensor;
}

/** Group-limited selection for `routerTopK` (DeepSeek-V2 device-limited, DeepSeek-V3 node-limited routing). */
export interface RouterGroupLimit {
  /** G contiguous groups of E / G experts (expert e is in group ⌊e / (E / G)⌋); G divides E. */
  groups: number;
  /** M: only the experts of the M best groups may be chosen, M in [1, G]. */
  topGroups: number;
  /** A group's score is the sum of its N best selection keys, N in [1, E / G] (1: the max, V2; 2: V3). */
  groupScoreTopN: number;
}

/** Options of `routerTopK`. */
/** How `routerTopK` turns its input into scores p: softmax, sigmoid, or as given. */
export type RouterScore = 'softmax' | 'sigmoid' | 'none';

export interface RouterTopKOptions {
  /**
   * How logits become scores p. Default `'softmax'`. `'none'`: the input already holds the scores (a router
   * that keeps p = softmax(logits) for its losses passes p, and the kernel does not compute it again).
   */
  score?: RouterScore;
  /** Divide the K chosen scores by their sum. Default false. */
  normalize?: boolean;
  /** A selection bias b [E] (float; no gradient): experts are ranked by p + b, weighted by p. */
  bias?: Tensor;
  /** Choose only among the experts of the best groups. */
  groupLimit?: RouterGroupLimit;
}

function checkRouterInt(name: string, value: number, low: number, high: number, logits: Tensor): number {
  if (!Number.isInteger(value) || value < low || value > high) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'routerTopK',
      `${name} = ${value} must be an integer in [${low}, ${high}] for logits ${fmtShape(logits.shape)}`,
    );
  }
  return value;
}

/** The group attributes of the primitive: `groups` = `topGroups` = 1 when every expert stays eligible. */
function groupAttrs(logits: Tensor, k: number, limit: RouterGroupLimit | undefined) {
  const none = { groups: 1, topGroups: 1, groupScoreTopN: 1 };
  if (limit === undefined) return none;
  if (limit === null || typeof limit !== 'object') {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'routerTopK',
      `groupLimit must be an object, got ${String(limit)}`,
    );
  }
  const e = logits.shape[1] as number;
  const groups = checkRouterInt('groupLimit.groups', limit.groups, 1, Math.max(e, 1), logits);
  if (e % groups !== 0) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'routerTopK',
      `groupLimit.groups = ${groups} must divide the ${e} experts of logits ${fmtShape(logits.shape)}`,
    );
  }
  const per = e / groups;
  const topGroups = checkRouterInt('groupLimit.topGroups', limit.topGroups, 1, groups, logits);
  const topN = checkRouterInt('groupLimit.groupScoreTopN', limit.groupScoreTopN, 1, Math.max(per, 1), logits);
  if (k > topGroups * per) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'routerTopK',
      `k = ${k} exceeds the ${topGroups * per} experts of groupLimit.topGroups = ${topGroups} groups of ${per} for logits ${fmtShape(logits.shape)}`,
    );
  }
  return topGroups === groups ? none : { groups, topGroups, groupScoreTopN: topN };
}

/**
 * The fused router selection over logits [T, E] in one pass per token: scores p = softmax(logits) (or
 * sigmoid), selection keys p + b with a `bias` b [E] (DeepSeek-V3's auxiliary-loss-free balancing bias:
 * selection only), the K best keys per row (ties to the lower expert index, like `topk`), optionally only
 * among the experts of the `groupLimit.topGroups` best groups (group score = the sum of the group's
 * `groupScoreTopN` best keys; ties to the lower group), and their scores p, divided by the sum of the K with
 * `normalize`. The same experts as `topk(p + b, k)` (or the group-limited selection written with `topk`,
 * `sum` and `where`), and the same weights as gathering p at them, in one primitive (`routerTopK`) on every
 * backend; computed in f32. Differentiable in the logits through the weights; the bias gets no gradient.
 */
export const routerTopK = op(function routerTopK(
  logits: Tensor,
  k: number,
  options: RouterTopKOptions = {},
): RouterTopKResult {
  checkTensor('routerTopK', logits, 'logits');
  if (logits.rank !== 2 || logits.dtype === 'bool' || logits.dtype === 'i32') {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'routerTopK',
      `logits must be float [T, E], got ${logits.dtype} ${fmtShape(logits.shape)}`,
    );
  }
  const [t, e] = logits.shape as [number, number];
  checkRouterInt('k', k, 0, e, logits);
  const score = options.score ?? 'softmax';
  if (score !== 'softmax' && score !== 'sigmoid' && score !== 'none') {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'routerTopK',
      `score must be 'softmax', 'sigmoid' or 'none', got ${String(score)}`,
    );
  }
  const inputs = [cast(logits, 'f32')];
  const { bias } = options;
  if (bias !== undefined) {
    checkTensor('routerTopK', bias, 'bias');
    const float = bias.dtype !== 'bool' && bias.dtype !== 'i32';
    if (bias.rank !== 1 || bias.shape[0] !== e || !float) {
      throw new SwitchyardError(
        float ? 'SHAPE_MISMATCH' : 'DTYPE_MISMATCH',
        'routerTopK',
        `bias must be float [${e}] for logits ${fmtShape(logits.shape)}, got ${bias.dtype} ${fmtShape(bias.shape)}`,
      );
    }
    inputs.push(cast(bias.detach(), 'f32'));
  }
  const attrs = {
    k,
    score,
    normalize: options.normalize ?? false,
    bias: bias !== undefined,
    ...groupAttrs(logits, k, options.groupLimit),
  } as const;
  const packed = apply('routerTopK', inputs, attrs, [t, 2 * k], 'f32');
  return {
    weights: slice(packed, [0, 0], [t, k]),
    indices: cast(slice(packed, [0, k], [t, k]), 'i32'),
  };
});

/** Stable argsort along `axis` (equal keys keep their order), as i32. */
export const argsort = op(function argsort(
  x: Tensor,
  options: { axis?: number; descending?: boolean } = {},
): Tensor {
  const { input, a } = lastAxisInput('argsort', x, options.axis ?? -1);
  const idx = apply('argsort', [input], { descending: options.descending ?? false }, input.shape, 'i32');
  return restoreAxis(idx, a);
});

/** Sorted values and the stable permutation that sorts them. Differentiable in the values. */
export const sort = op(function sort(
  x: Tensor,
  options: { axis?: number; descending?: boolean } = {},
): TopkResult {
  const indices = argsort(x, options);
  return { values: takeAlongAxis(x, indices, options.axis ?? -1), indices };
});

/**
 * Reorders `values` along `axis` by the stable ascending (or descending) order of `keys`, which must have
 * the same shape: how MoE groups tokens by expert.
 */
export const sortByKey = op(function sortByKey(
  keys: Tensor,
  values: Tensor,
  options: { axis?: number; descending?: boolean } = {},
): TopkResult {
  checkTensor('sortByKey', keys, 'keys');
  checkTensor('sortByKey', values, 'values');
  if (keys.shape.join() !== values.shape.join()) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'sortByKey',
      `keys are ${fmtShape(keys.shape)} but values are ${fmtShape(values.shape)}`,
    );
  }
  const indices = argsort(keys, options);
  return { values: takeAlongAxis(values, indices, options.axis ?? -1), indices };
});

/**
 * The MoE dispatch sort: groups assignments by expert. Given i32 `keys` [A] with values in [0, buckets) (the
 * expert of each token assignment), returns the stable permutation (i32 [A]) that lists the assignments of
 * bucket 0 first, then bucket 1, ..., each in its original order: the same result as a stable ascending
 * `argsort(keys)`, computed by counting in O(A + buckets) work. The per-bucket counts (the segment sizes for
 * `groupedMatmul`, via `offsetsFromCounts`) come from `bincount(keys, buckets)`.
 *
 * Key values are checked on synchronous backends (CPU); asynchronous backends cannot check without a host
 * round trip and place keys outside [0, buckets) after every valid key, in their original order.
 */
export const bucketSort = op(function bucketSort(keys: Tensor, buckets: number): Tensor {
  checkIndexTensor('bucketSort', keys, 'keys');
  if (keys.rank !== 1) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'bucketSort',
      `keys must be 1-D, got ${fmtShape(keys.shape)}`,
    );
  }
  if (!Number.isInteger(buckets) || buckets < 0 || buckets > 2 ** 31 - 1) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'bucketSort',
      `buckets must be a non-negative integer (at most 2^31 - 1), got ${buckets} for keys ${fmtShape(keys.shape)}`,
    );
  }
  checkIndexValues('bucketSort', keys, 'keys', buckets);
  return apply('bucketSort', [keys], { buckets }, keys.shape, 'i32');
});

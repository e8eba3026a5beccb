import type { DType } from './dtype.js';

/** Elementwise functions of one argument, computed by the `unary` primitive. */
export type UnaryFn =
  | 'neg'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'tanh'
  | 'abs'
  | 'sign'
  | 'relu'
  | 'sigmoid'
  | 'softplus'
  | 'entr'
  | 'gelu'
  | 'geluTanh'
  | 'silu'
  | 'erf'
  | 'sin'
  | 'cos'
  | 'floor'
  | 'not';

/** Elementwise functions of two broadcast arguments, computed by the `binary` primitive. */
export type BinaryFn = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'mod' | 'and' | 'or';

/** Elementwise comparisons; the result is `bool`. */
export type CompareFn = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

export type RandomDist = 'uniform' | 'normal' | 'int';

/**
 * The activations of the gated `glu` primitive: the unary functions of those names (each with a derivative in
 * the unary VJP), in the order error messages list them.
 */
export const GLU_FNS = ['silu', 'gelu', 'geluTanh', 'relu'] as const satisfies readonly UnaryFn[];

/** An activation of `glu`: `'silu'` (SwiGLU), `'gelu'` (GEGLU), `'geluTanh'` or `'relu'` (ReGLU). */
export type GluFn = (typeof GLU_FNS)[number];

/**
 * The closed set of primitives with their attributes. Every op is one of these or a composite of them.
 * Adding one is a checklist: attrs here, a VJP rule in `vjp.ts`, a kernel in every backend's table,
 * a conformance case and a gradcheck case.
 */
export interface PrimitiveAttrs {
  /** y = fn(x). */
  unary: { fn: UnaryFn };
  /** y = fn(a, b) with NumPy broadcasting. */
  binary: { fn: BinaryFn };
  /**
   * y = fn(gate) · up, fn applied as `unary` applies it: the gated linear unit of SwiGLU ('silu') and GEGLU
   * ('gelu'). gate and up have y's shape and dtype (no broadcasting).
   */
  glu: { fn: GluFn };
  /**
   * The cotangent of one input of `glu`, inputs [gate, up, g] (g the cotangent of its output): g · up ·
   * fn'(gate) for `wrt` 'gate', g · fn(gate) for 'up'. Applied only by glu's VJP, inside backward.
   */
  gluGrad: { fn: GluFn; wrt: 'gate' | 'up' };
  /** y = fn(a, b) as bool, with broadcasting. */
  compare: { fn: CompareFn };
  /** y = cond ? a : b, broadcasting all three. */
  where: Record<string, never>;
  /** Sum, max or min over `axes` (sorted, unique); the output drops or keeps them per `keepDims`. */
  reduce: { fn: 'sum' | 'max' | 'min'; axes: number[]; keepDims: boolean };
  /** Index of the first max (or min) along `axis`, as i32. */
  argReduce: { fn: 'max' | 'min'; axis: number; keepDims: boolean };
  /** Numerically stable softmax along `axis`. */
  softmax: { axis: number };
  /** Numerically stable log-softmax along `axis`. */
  logSoftmax: { axis: number };
  /** Batched matmul over the last two axes, batch axes broadcast. */
  matmul: { transA: boolean; transB: boolean };
  /** y_RN[r] = x_RK[r] @ w_EKN[e] for rows r in [offsets[e], offsets[e+1]); w is [E, N, K] when transW. */
  groupedMatmul: { transW: boolean };
  /** dw_EKN[e] = x_RK[seg e]^T @ dy_RN[seg e]: the weight gradient of groupedMatmul. */
  groupedMatmulGradW: Record<string, never>;
  /** Indices (i32) of the k largest (or smallest) entries along the last axis, ties by lower index. */
  topk: { k: number; largest: boolean };
  /**
   * The fused router top-k over logits [T, E]: scores p = softmax (or sigmoid) over E, selection keys
   * p + b when `bias` (a second input b [E], f32; selection only), the K best keys of each row (ties to the
   * lower index, like `topk`) among the experts of the `topGroups` best of `groups` contiguous groups (a
   * group's score: the f32 sum of its `groupScoreTopN` best keys, best first; `topGroups` = `groups` = 1 is
   * no limit), and their scores p optionally divided by their sum. One f32 output [T, 2K]: the K weights,
   * then the K expert indices (exact in f32 for E < 2^24). Differentiable in the logits through the weights.
   */
  routerTopK: {
    k: number;
    score: 'softmax' | 'sigmoid' | 'none';
    normalize: boolean;
    bias: boolean;
    groups: number;
    topGroups: number;
    groupScoreTopN: number;
  };
  /** Stable argsort along the last axis, as i32. */
  argsort: { descending: boolean };
  /**
   * Counting sort of i32 keys [A] with values in [0, buckets): the stable permutation (i32 [A]) that groups
   * them by bucket in ascending order, equal keys in their original order (a stable ascending argsort). Keys
   * outside the range (unchecked on asynchronous backends) go after every valid key, in their original order.
   */
  bucketSort: { buckets: number };
  /** Inclusive (or exclusive) cumulative sum along `axis`, optionally from the end. */
  cumsum: { axis: number; exclusive: boolean; reverse: boolean };
  /** Counts of each value in [0, length) of an i32 tensor, as i32 [length]. */
  bincount: { length: number };
  /** Rows of x [N, ...rest] at i32 indices of any shape: [...idx.shape, ...rest]. */
  gather: Record<string, never>;
  /** Adds src [...idx.shape, ...rest] into zeros [rows, ...rest] at rows idx (the adjoint of gather). */
  scatterAdd: { rows: number };
  /**
   * Inputs [src [R, ...rest], rows [T, K] i32, weights [T, K]]: out [T, ...rest] with
   * out[t] = Σ_k weights[t, k] · src[rows[t, k]], summed in k order from zero; a row outside [0, R) adds
   * nothing. The MoE combine (unpermute) as one gather-sum: no atomics, so the same bits on every run.
   */
  weightedGather: Record<string, never>;
  /**
   * The cotangent of one input of `weightedGather`, inputs [src [R, ...rest], rows [T, K] i32, weights [T, K],
   * g [T, ...rest]] (g the cotangent of its output). `wrt` 'src': out [R, ...rest], out[r] = Σ over the (t, k)
   * with rows[t, k] = r, in (t, k) order from zero, of weights[t, k] · g[t] (src gives only R). `wrt`
   * 'weights': out [T, K] = <g[t], src[rows[t, k]]>, summed in element order (weights unused). Rows outside
   * [0, R) receive nothing and give 0. Applied only by weightedGather's VJP, inside backward: one pass each
   * where the composite took mul, scatterAdd and slice, or gather, mul, sum and where.
   */
  weightedGatherGrad: { wrt: 'src' | 'weights' };
  /** Permutes axes. */
  transpose: { perm: number[] };
  /** A contiguous box starting at `begin` of extent `size`. */
  slice: { begin: number[]; size: number[] };
  /** Zero padding before and after each axis (the adjoint of slice). */
  pad: { before: number[]; after: number[] };
  /** Joins inputs along `axis`. */
  concat: { axis: number };
  /** Repeats size-1 (or missing leading) axes to `shape`. */
  broadcastTo: { shape: number[] };
  /** Converts dtype: float to i32 truncates toward zero, anything to bool is `x != 0`. */
  cast: { dtype: DType };
  /**
   * Counter-based random numbers (Philox4x32-10 keyed by seed and stream): element i reads block
   * `counter + floor(i / 4)`, word `i % 4`. `uniform` in [0, 1), `normal` standard, `int` in [low, high).
   */
  random: { dist: RandomDist; seed: number; stream: number; counter: number; low: number; high: number };
  /** A tensor of one value. */
  fill: { value: number };
  /** Same storage, new shape (a view: no kernel). */
  reshape: { shape: number[] };
}

export type PrimName = keyof PrimitiveAttrs;

/** Primitives computed by a backend kernel (`reshape` is a view handled by the engine). */
export type KernelPrim = Exclude<PrimName, 'reshape'>;

/** Every primitive name, for coverage checks (the `satisfies` clause keeps it in step with the interface). */
export const PRIMITIVE_NAMES = [
  'unary',
  'binary',
  'glu',
  'gluGrad',
  'compare',
  'where',
  'reduce',
  'argReduce',
  'softmax',
  'logSoftmax',
  'matmul',
  'groupedMatmul',
  'groupedMatmulGradW',
  'topk',
  'routerTopK',
  'argsort',
  'bucketSort',
  'cumsum',
  'bincount',
  'gather',
  'scatterAdd',
  'weightedGather',
  'weightedGatherGrad',
  'transpose',
  'slice',
  'pad',
  'concat',
  'broadcastTo',
  'cast',
  'random',
  'fill',
  'reshape',
] as const satisfies readonly PrimName[];

type Missing = Exclude<PrimName, (typeof PRIMITIVE_NAMES)[number]>;
/** Compile-time check that PRIMITIVE_NAMES lists every primitive. */
export const primitiveNamesComplete: [Missing] extends [never] ? true : Missing = true;

import type { AnyHostArray } from '../../dtype.js';
import type { PrimitiveAttrs } from '../../primitives.js';
import type { KernelInput, KernelOutput } from '../backend.js';
import { unaryKernel } from './elementwise.js';
import { softmaxKernel } from './reduce.js';
import { WASM_MIN, wasmVector } from './wasm-vector.js';

/** `a` (at index ai) ranks before `b` (at bi): larger first, NaN before every number, ties to the lower index. */
function before(a: number, ai: number, b: number, bi: number): boolean {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return an && (!bn || ai < bi);
  return a > b || (a === b && ai < bi);
}

/** The best of `values[from..to)` not yet `picked`, by the `topk` order; marks and returns it. */
function pick(values: Float32Array, from: number, to: number, picked: Uint8Array): number {
  let best = -1;
  for (let j = from; j < to; j++) {
    if (!picked[j] && (best < 0 || before(values[j] as number, j, values[best] as number, best))) best = j;
  }
  picked[best] = 1;
  return best;
}

/**
 * The K best of `key` by the `topk` order, best first, into `top` (indices), in one pass: each key is compared
 * with the K-th best so far and, when it ranks before it, inserted in place. The order is total (ties go to
 * the lower index), so this is the K successive best picks. Keys come in index order, so a later key ranks
 * before the K-th best only when it is NaN or larger: most keys are dismissed by one comparison.
 */
function selectTopK(key: Float32Array, k: number, top: Int32Array): void {
  let count = 0;
  let kth = Number.NaN;
  for (let j = 0; j < key.length; j++) {
    const v = key[j] as number;
    if (count === k) {
      // A NaN K-th best ranks before every later key; v <= kth is false for a NaN v, which ranks first.
      if (Number.isNaN(kth) || v <= kth) continue;
    } else count++;
    let at = count - 1;
    while (at > 0) {
      const prev = top[at - 1] as number;
      if (!before(v, j, key[prev] as number, prev)) break;
      top[at] = prev;
      at--;
    }
    top[at] = j;
    if (count === k) kth = key[top[k - 1] as number] as number;
  }
}

/**
 * Sets the keys of the experts outside the `topGroups` best groups to -inf, as the unfused group-limited
 * selection masks them: group scores are the float64 sums of each group's `groupScoreTopN` best keys (best
 * first, as `sum` reduces them), rounded to f32, and groups rank by the `topk` order.
 */
function maskGroups(
  key: Float32Array,
  { groups, topGroups, groupScoreTopN }: PrimitiveAttrs['routerTopK'],
  picked: Uint8Array,
  groupScore: Float32Array,
  groupPicked: Uint8Array,
): void {
  const per = key.length / groups;
  picked.fill(0);
  for (let g = 0; g < groups; g++) {
    let acc = 0;
    for (let c = 0; c < groupScoreTopN; c++) acc += key[pick(key, g * per, (g + 1) * per, picked)] as number;
    groupScore[g] = acc;
  }
  groupPicked.fill(0);
  for (let c = 0; c < topGroups; c++) pick(groupScore, 0, groups, groupPicked);
  for (let g = 0; g < groups; g++) {
    if (!groupPicked[g]) key.fill(Number.NEGATIVE_INFINITY, g * per, (g + 1) * per);
  }
}

/**
 * The fused router top-k (`routerTopK`): per row of logits [T, E], the scores (by the `softmax` or the
 * `sigmoid` unary kernel, or the logits themselves with score `'none'`); the selection keys (the scores, plus the bias [E] rounded
 * to f32 as `add` computes it); the keys of the experts outside the best groups masked to -inf; then the K
 * best keys by the `topk` order, written as [T, 2K] (their scores, divided by the float64 sum of the K
 * rounded to f32 with `normalize`, then the K indices as floats).
 */
export function routerTopKKernel(
  [x, b]: readonly KernelInput<AnyHostArray>[],
  attrs: PrimitiveAttrs['routerTopK'],
  _out: KernelOutput,
): AnyHostArray {
  const { k, score, normalize, groups, topGroups } = attrs;
  const logits = x as KernelInput<AnyHostArray>;
  const bias = attrs.bias ? (b as KernelInput<AnyHostArray>).data : null;
  const [t, e] = logits.shape as [number, number];
  const dst = new Float32Array(t * 2 * k);
  // Every row's scores by the kernels the unfused ops run, so both select the same experts.
  const scores = (
    score === 'none'
      ? logits.data
      : score === 'softmax'
        ? softmaxKernel([logits], { axis: 1 })
        : unaryKernel([logits], { fn: 'sigmoid' }, { shape: [t, e], dtype: 'f32' })
  ) as Float32Array;
  const ownKeys = bias !== null || topGroups < groups;
  const keys = ownKeys ? new Float32Array(e) : scores;
  // Without a bias or a group limit the keys are the scores: every row's selection in one WebAssembly call.
  const wasm = !ownKeys && k > 0 && t * e >= WASM_MIN ? wasmVector() : null;
  const picks = wasm ? new Int32Array(t * k) : null;
  if (wasm && picks) wasm.topk(scores, t, e, k, picks);
  const top = new Int32Array(k);
  const chosen = picks ?? top;
  const picked = new Uint8Array(e);
  const groupScore = new Float32Array(groups);
  const groupPicked = new Uint8Array(groups);
  for (let r = 0; r < t; r++) {
    const p = scores.subarray(r * e, (r + 1) * e);
    let key = p;
    if (ownKeys) {
      key = keys;
      for (let j = 0; j < e; j++) key[j] = (p[j] as number) + (bias ? (bias[j] as number) : 0);
      if (topGroups < groups) maskGroups(key, attrs, picked, groupScore, groupPicked);
    }
    if (!picks) selectTopK(key, k, top);
    const at = picks ? r * k : 0;
    let total = 0;
    const o = r * 2 * k;
    for (let c = 0; c < k; c++) {
      const best = chosen[at + c] as number;
      dst[o + c] = p[best] as number;
      dst[o + k + c] = best;
      total += p[best] as number;
    }
    if (normalize) {
      const sum = Math.fround(total);
      for (let c = 0; c < k; c++) dst[o + c] = (dst[o + c] as number) / sum;
    }
  }
  return dst;
}

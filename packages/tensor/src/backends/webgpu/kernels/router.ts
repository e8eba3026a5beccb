import type { PrimitiveAttrs } from '../../../primitives.js';
import type { KernelTable } from '../../backend.js';
import { launch } from '../launch.js';
import type { GpuRuntime } from '../runtime.js';
import { Meta, main1d, memo, PRELUDE, storage } from '../wgsl.js';
import { FLOAT_FNS } from './elementwise.js';

/** What selects a shader variant: the score, the normalisation, the bias and the group mask's words. */
interface RouterVariant {
  score: 'softmax' | 'sigmoid' | 'none';
  normalize: boolean;
  bias: boolean;
  /** u32 words of the per-thread mask of kept groups; 0 without a group limit. */
  groupWords: number;
}

/**
 * The group limit: `topGroups` selection passes over the groups, each group's score recomputed as the f32 sum
 * of its `groupScoreTopN` best keys (best first, the order in which `sum` folds them), then a bit mask of the
 * kept groups (slots 3 experts per group, 4 groups, 5 topGroups, 6 groupScoreTopN).
 */
function groupMaskCode(): string {
  return `
  var kept: array<u32, GROUP_WORDS>;
  {
    var prev = 0.0;
    var prevAt = NONE;
    for (var c = 0u; c < u(5u); c++) {
      var best = 0.0;
      var bestAt = NONE;
      for (var g = 0u; g < u(4u); g++) {
        let v = groupScore(base, g, m, s);
        let after = prevAt == NONE || before(prev, prevAt, v, g);
        if (after && (bestAt == NONE || before(v, g, best, bestAt))) { best = v; bestAt = g; }
      }
      kept[bestAt >> 5u] |= 1u << (bestAt & 31u);
      prev = best;
      prevAt = bestAt;
    }
  }`;
}

/**
 * The fused router top-k, one thread per token row of logits [T, E] (slots 1 E, 2 K): the softmax's max and
 * sum in two passes (as the `softmax` kernel computes them); the selection key of expert j is its score, plus
 * the f32 bias bs[j] when there is one; with a group limit the keys of the experts outside the kept groups
 * are -inf (as the unfused selection masks them). Then K selection passes, each taking the best key ranked
 * after the previous pick (larger first, NaN first, ties to the lower index: the `topk` order), so nothing but
 * the row's logits (and the bias) is read and no scratch memory is needed beyond the group mask. Scores are
 * recomputed per pass (router E, K and group counts are small). Writes [T, 2K]: the chosen scores (not keys),
 * then the indices as f32.
 */
export function routerTopKCode({ score, normalize, bias, groupWords }: RouterVariant): string {
  const prob = {
    softmax: 'fn prob(x: f32, m: f32, s: f32) -> f32 { return exp(x - m) / s; }',
    sigmoid: 'fn prob(x: f32, m: f32, s: f32) -> f32 { return sigmoid_(x); }',
    none: 'fn prob(x: f32, m: f32, s: f32) -> f32 { return x; }',
  }[score];
  const stats =
    score === 'softmax'
      ? `  var m = -3.4028234663852886e38;
  var seenInf = false;
  for (var j = 0u; j < e; j++) { let v = xs[base + j]; m = max(m, v); if (v > 3.4028234663852886e38) { seenInf = true; } }
  if (seenInf) { m = f32bits(0x7f800000u); }
  if (isnan_(m) || abs(m) > 3.4028234663852886e38) { m = 0.0; }
  var s = 0.0;
  for (var j = 0u; j < e; j++) { s += exp(xs[base + j] - m); }`
      : '  let m = 0.0;\n  let s = 1.0;';
  const inputs: [string, string][] = bias
    ? [
        ['xs', 'f32'],
        ['bs', 'f32'],
      ]
    : [['xs', 'f32']];
  const grouped = groupWords > 0;
  const groupFns = grouped
    ? `
const GROUP_WORDS = ${groupWords}u;
// The score of group g: the f32 sum of its u(6) best keys, best first.
fn groupScore(base: u32, g: u32, m: f32, s: f32) -> f32 {
  let first = g * u(3u);
  let end = first + u(3u);
  var acc = 0.0;
  var prev = 0.0;
  var prevAt = NONE;
  for (var c = 0u; c < u(6u); c++) {
    var best = 0.0;
    var bestAt = NONE;
    for (var j = first; j < end; j++) {
      let v = key(base, j, m, s);
      let after = prevAt == NONE || before(prev, prevAt, v, j);
      if (after && (bestAt == NONE || before(v, j, best, bestAt))) { best = v; bestAt = j; }
    }
    acc = acc + best;
    prev = best;
    prevAt = bestAt;
  }
  return acc;
}`
    : '';
  const selectionKey = grouped
    ? `select(f32bits(0xff800000u), key(base, j, m, s), ((kept[(j / u(3u)) >> 5u] >> ((j / u(3u)) & 31u)) & 1u) != 0u)`
    : 'key(base, j, m, s)';
  return `${PRELUDE}${FLOAT_FNS}${storage(inputs, ['ys', 'f32'])}
const NONE = 0xffffffffu;
${prob}
fn key(base: u32, j: u32, m: f32, s: f32) -> f32 { return prob(xs[base + j], m, s)${bias ? ' + bs[j]' : ''}; }
// a (at ai) ranks before b (at bi).
fn before(a: f32, ai: u32, b: f32, bi: u32) -> bool {
  if (isnan_(a) || isnan_(b)) { return isnan_(a) && (!isnan_(b) || ai < bi); }
  return a > b || (a == b && ai < bi);
}${groupFns}
${main1d(`  let e = u(1u);
  let k = u(2u);
  let base = i * e;
  let o = i * 2u * k;
${stats}${grouped ? groupMaskCode() : ''}
  var prev = 0.0;
  var prevAt = NONE;
  var total = 0.0;
  for (var c = 0u; c < k; c++) {
    var best = 0.0;
    var bestAt = NONE;
    for (var j = 0u; j < e; j++) {
      let v = ${selectionKey};
      let after = prevAt == NONE || before(prev, prevAt, v, j);
      if (after && (bestAt == NONE || before(v, j, best, bestAt))) { best = v; bestAt = j; }
    }
    let w = prob(xs[base + bestAt], m, s);
    ys[o + c] = w;
    ys[o + k + c] = f32(bestAt);
    total += w;
    prev = best;
    prevAt = bestAt;
  }${
    normalize
      ? `
  for (var c = 0u; c < k; c++) { ys[o + c] = ys[o + c] / total; }`
      : ''
  }`)}`;
}

const routerCode = memo(
  (score: RouterVariant['score'], normalize: boolean, bias: boolean, groupWords: number) =>
    routerTopKCode({ score, normalize, bias, groupWords }),
);

export function routerKernels(rt: GpuRuntime): Pick<KernelTable<GPUBuffer>, 'routerTopK'> {
  return {
    routerTopK: (inputs, attrs: PrimitiveAttrs['routerTopK'], out) => {
      const { k, score, normalize, bias, groups, topGroups, groupScoreTopN } = attrs;
      const [t, e] = inputs[0]!.shape as [number, number];
      const meta = new Meta()
        .u32(1, e)
        .u32(2, k)
        .u32(3, e / groups)
        .u32(4, groups)
        .u32(5, topGroups)
        .u32(6, groupScoreTopN);
      return launch(
        rt,
        routerCode(score, normalize, bias, topGroups < groups ? Math.ceil(groups / 32) : 0),
        meta,
        inputs.map((x) => x.data),
        out,
        k === 0 ? 0 : t,
      );
    },
  };
}

import type { KernelTable } from '../../backend.js';
import { launch } from '../launch.js';
import type { GpuRuntime } from '../runtime.js';
import { Meta, main1d, PRELUDE, storage } from '../wgsl.js';
import { FLOAT_FNS } from './elementwise.js';

/**
 * The fused router top-k, one thread per token row of logits [T, E] (slots 1 E, 2 K): the softmax's max and
 * sum in two passes (as the `softmax` kernel computes them), then K selection passes, each taking the best
 * score ranked after the previous pick (larger first, NaN first, ties to the lower index: the `topk` order),
 * so nothing but the row's logits is read and no per-row scratch is needed. Scores are recomputed per pass
 * (K·E exponentials a row: the router's E and K are small). Writes [T, 2K]: weights, then indices as f32.
 */
export function routerTopKCode(score: 'softmax' | 'sigmoid', normalize: boolean): string {
  const prob =
    score === 'softmax'
      ? 'fn prob(x: f32, m: f32, s: f32) -> f32 { return exp(x - m) / s; }'
      : 'fn prob(x: f32, m: f32, s: f32) -> f32 { return sigmoid_(x); }';
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
  return `${PRELUDE}${FLOAT_FNS}${storage([['xs', 'f32']], ['ys', 'f32'])}
${prob}
// a (at ai) ranks before b (at bi).
fn before(a: f32, ai: u32, b: f32, bi: u32) -> bool {
  if (isnan_(a) || isnan_(b)) { return isnan_(a) && (!isnan_(b) || ai < bi); }
  return a > b || (a == b && ai < bi);
}
${main1d(`  let e = u(1u);
  let k = u(2u);
  let base = i * e;
  let o = i * 2u * k;
${stats}
  var prev = 0.0;
  var prevAt = 0xffffffffu;
  var total = 0.0;
  for (var c = 0u; c < k; c++) {
    var best = 0.0;
    var bestAt = 0xffffffffu;
    for (var j = 0u; j < e; j++) {
      let p = prob(xs[base + j], m, s);
      let after = prevAt == 0xffffffffu || before(prev, prevAt, p, j);
      if (after && (bestAt == 0xffffffffu || before(p, j, best, bestAt))) { best = p; bestAt = j; }
    }
    ys[o + c] = best;
    ys[o + k + c] = f32(bestAt);
    total += best;
    prev = best;
    prevAt = bestAt;
  }${
    normalize
      ? `
  for (var c = 0u; c < k; c++) { ys[o + c] = ys[o + c] / total; }`
      : ''
  }`)}`;
}

export function routerKernels(rt: GpuRuntime): Pick<KernelTable<GPUBuffer>, 'routerTopK'> {
  const codes = new Map<string, string>();
  return {
    routerTopK: ([x], { k, score, normalize }, out) => {
      const [t, e] = x!.shape as [number, number];
      const key = `${score}:${normalize}`;
      let code = codes.get(key);
      if (code === undefined) codes.set(key, (code = routerTopKCode(score, normalize)));
      return launch(rt, code, new Meta().u32(1, e).u32(2, k), [x!.data], out, k === 0 ? 0 : t);
    },
  };
}

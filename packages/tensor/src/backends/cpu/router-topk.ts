import type { AnyHostArray } from '../../dtype.js';
import type { KernelInput, KernelOutput } from '../backend.js';

/** `a` (at index ai) ranks before `b` (at bi): larger first, NaN before every number, ties to the lower index. */
function before(a: number, ai: number, b: number, bi: number): boolean {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return an && (!bn || ai < bi);
  return a > b || (a === b && ai < bi);
}

const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/**
 * The fused router top-k (`routerTopK`): per row of logits [T, E], the scores (softmax as the `softmax`
 * kernel computes it: max-shifted exponentials summed in float64, or sigmoid), rounded to f32, then the K
 * best by the `topk` order, written as [T, 2K] (K weights, then K indices as floats).
 */
export function routerTopKKernel(
  [x]: readonly KernelInput<AnyHostArray>[],
  { k, score, normalize }: { k: number; score: 'softmax' | 'sigmoid'; normalize: boolean },
  _out: KernelOutput,
): AnyHostArray {
  const src = (x as KernelInput<AnyHostArray>).data;
  const [t, e] = (x as KernelInput<AnyHostArray>).shape as [number, number];
  const dst = new Float32Array(t * 2 * k);
  const p = new Float32Array(e);
  const picked = new Uint8Array(e);
  for (let r = 0; r < t; r++) {
    const base = r * e;
    if (score === 'softmax') {
      let m = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < e; j++) m = Math.max(m, src[base + j] as number);
      if (!Number.isFinite(m)) m = 0;
      let s = 0;
      for (let j = 0; j < e; j++) {
        const v = (src[base + j] as number) - m;
        s += v < -746 ? 0 : Math.exp(v);
      }
      for (let j = 0; j < e; j++) {
        const v = (src[base + j] as number) - m;
        p[j] = (v < -746 ? 0 : Math.exp(v)) / s;
      }
    } else {
      for (let j = 0; j < e; j++) p[j] = sigmoid(src[base + j] as number);
    }
    picked.fill(0);
    let total = 0;
    const o = r * 2 * k;
    for (let c = 0; c < k; c++) {
      let best = -1;
      for (let j = 0; j < e; j++) {
        if (!picked[j] && (best < 0 || before(p[j] as number, j, p[best] as number, best))) best = j;
      }
      picked[best] = 1;
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

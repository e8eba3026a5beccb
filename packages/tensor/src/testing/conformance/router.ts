// routerTopK: softmax or sigmoid scores over E, the K best per row (ties to the lower index), optionally
// normalised, against a float64 host reference.

import { routerTopK } from '../../index.js';
import { type Case, check, EXACT, type Input, lit, type Own, scoped, uniform } from './helpers.js';

/** The reference: scores in float64, the topk order (larger first, ties to the lower index). */
function routerRef(x: Input, k: number, score: 'softmax' | 'sigmoid', normalize: boolean) {
  const [t, e] = x.shape as [number, number];
  const weights: number[] = [];
  const indices: number[] = [];
  for (let r = 0; r < t; r++) {
    const row = x.v.slice(r * e, (r + 1) * e);
    const m = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
    const p = row.map((v) => (score === 'softmax' ? Math.exp(v - m) / z : 1 / (1 + Math.exp(-v))));
    const order = p.map((_, j) => j).sort((a, b) => (p[b] as number) - (p[a] as number) || a - b);
    const chosen = order.slice(0, k);
    const total = chosen.reduce((s, j) => s + (p[j] as number), 0);
    for (const j of chosen) {
      indices.push(j);
      weights.push(normalize ? (p[j] as number) / total : (p[j] as number));
    }
  }
  return { weights, indices };
}

function routerCase(
  name: string,
  make: (own: Own) => Promise<Input>,
  k: number,
  score: 'softmax' | 'sigmoid',
  normalize: boolean,
): Case {
  return [
    'routerTopK',
    `${score}${normalize ? ' normalised' : ''} k = ${k} ${name}`,
    scoped(async (own, tol) => {
      const x = await make(own);
      const { weights, indices } = own(() => routerTopK(x.t, k, { score, normalize }));
      const ref = routerRef(x, k, score, normalize);
      const shape = [x.shape[0] as number, k];
      await check('routerTopK indices', indices, 'i32', shape, ref.indices, EXACT);
      await check('routerTopK weights', weights, 'f32', shape, ref.weights, tol);
    }),
  ];
}

/** Rows with tied logits: the lower expert index wins. */
const TIED = [0.5, 2, 2, -1, 2, 0.5, 0.5, 0.5, 1, 1];

export const ROUTER_CASES: Case[] = (['softmax', 'sigmoid'] as const).flatMap((score): Case[] => [
  routerCase('[5, 8]', (own) => uniform(own, 930, [5, 8], -3, 3), 2, score, false),
  routerCase('[5, 8]', (own) => uniform(own, 930, [5, 8], -3, 3), 2, score, true),
  routerCase('ties go to the lower index [2, 5]', (own) => lit(own, TIED, [2, 5]), 3, score, true),
  routerCase('k = E [3, 4]', (own) => uniform(own, 931, [3, 4]), 4, score, false),
  routerCase('k = 0 [3, 4]', (own) => uniform(own, 932, [3, 4]), 0, score, false),
  routerCase('one expert [4, 1]', (own) => uniform(own, 933, [4, 1]), 1, score, true),
  routerCase('no tokens [0, 6]', (own) => lit(own, [], [0, 6]), 2, score, true),
  routerCase('64 experts, top-6 [7, 64]', (own) => uniform(own, 934, [7, 64], -4, 4), 6, score, true),
]);

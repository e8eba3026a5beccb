// routerTopK: softmax, sigmoid or given scores over E, selection keys with an optional bias, an optional group limit,
// the K best keys per row (ties to the lower index), their scores optionally normalised, against a float64
// host reference.

import { type RouterGroupLimit, type RouterScore, routerTopK } from '../../index.js';
import { type Case, check, EXACT, type Input, lit, type Own, scoped, uniform } from './helpers.js';

interface RouterOptions {
  score: RouterScore;
  normalize: boolean;
  groupLimit?: RouterGroupLimit;
}

/** Host order, the `topk` order: NaN first, then larger first, ties (±0 included) to the lower index. */
function ranked(values: readonly number[], among: readonly number[]): number[] {
  return [...among].sort((a, b) => {
    const [va, vb] = [values[a] as number, values[b] as number];
    const [na, nb] = [Number.isNaN(va), Number.isNaN(vb)];
    if (na || nb) return na && nb ? a - b : na ? -1 : 1;
    return vb - va || a - b;
  });
}

/**
 * The reference in float64: scores, keys = scores + bias, groups ranked by the sum of their top-N keys, the
 * K best keys among the kept groups' experts, weighted by their scores.
 */
function routerRef(x: Input, k: number, options: RouterOptions, bias: readonly number[] | undefined) {
  const [t, e] = x.shape as [number, number];
  const weights: number[] = [];
  const indices: number[] = [];
  const experts = Array.from({ length: e }, (_, j) => j);
  for (let r = 0; r < t; r++) {
    const row = x.v.slice(r * e, (r + 1) * e);
    const m = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
    const p = row.map((v) => {
      if (options.score === 'none') return v;
      return options.score === 'softmax' ? Math.exp(v - m) / z : 1 / (1 + Math.exp(-v));
    });
    const key = p.map((v, j) => v + (bias?.[j] ?? 0));
    let pool = experts;
    if (options.groupLimit) {
      const { groups, topGroups, groupScoreTopN } = options.groupLimit;
      const per = e / groups;
      const groupScore = Array.from({ length: groups }, (_, g) =>
        ranked(key, experts.slice(g * per, (g + 1) * per))
          .slice(0, groupScoreTopN)
          .reduce((s, j) => s + (key[j] as number), 0),
      );
      const kept = new Set(ranked(groupScore, [...groupScore.keys()]).slice(0, topGroups));
      pool = experts.filter((j) => kept.has(Math.floor(j / per)));
    }
    const chosen = ranked(key, pool).slice(0, k);
    const total = chosen.reduce((s, j) => s + (p[j] as number), 0);
    for (const j of chosen) {
      indices.push(j);
      weights.push(options.normalize ? (p[j] as number) / total : (p[j] as number));
    }
  }
  return { weights, indices };
}

function describeOptions({ score, normalize, groupLimit }: RouterOptions, bias: boolean): string {
  const group = groupLimit
    ? ` groups ${groupLimit.topGroups} of ${groupLimit.groups} by top-${groupLimit.groupScoreTopN}`
    : '';
  return `${score}${normalize ? ' normalised' : ''}${bias ? ' biased' : ''}${group}`;
}

function routerCase(
  name: string,
  make: (own: Own) => Promise<Input>,
  k: number,
  options: RouterOptions,
  makeBias?: (own: Own) => Promise<Input>,
): Case {
  return [
    'routerTopK',
    `${describeOptions(options, makeBias !== undefined)} k = ${k} ${name}`,
    scoped(async (own, tol) => {
      const x = await make(own);
      const bias = makeBias ? await makeBias(own) : undefined;
      const { weights, indices } = own(() =>
        routerTopK(x.t, k, { ...options, ...(bias ? { bias: bias.t } : {}) }),
      );
      const ref = routerRef(x, k, options, bias?.v);
      const shape = [x.shape[0] as number, k];
      await check('routerTopK indices', indices, 'i32', shape, ref.indices, EXACT);
      await check('routerTopK weights', weights, 'f32', shape, ref.weights, tol);
    }),
  ];
}

/** Rows with tied logits: the lower expert index wins. */
const TIED = [0.5, 2, 2, -1, 2, 0.5, 0.5, 0.5, 1, 1];

/**
 * Equal scores (zero logits) and a bias with exact sums: the groups of two tie pairwise (0 with 2, 1 with 3 by
 * their top-2 sums; 0, 2 and 3 by their max), and expert 7 ties with the kept experts but sits in a dropped
 * group: the lower group wins, and no expert outside the kept groups is chosen.
 */
const TIED_BIAS = [0.5, 0.5, 0.25, 0.25, 0.5, 0.5, 0, 0.5];

const V3 = { groups: 4, topGroups: 2, groupScoreTopN: 2 };

/**
 * Given scores with NaN (first in the order, the lower index first among them), a NaN arriving after the K
 * best are full, and -0 tied with +0 (the lower index wins): the CPU selection's one-comparison shortcut.
 */
const NAN_AND_ZEROS = [0, -0, 1, Number.NaN, 0.5, Number.NaN, 1, -0, 0, 0.25, 2, Number.NaN];

export const ROUTER_CASES: Case[] = (['softmax', 'sigmoid', 'none'] as const).flatMap((score): Case[] => [
  routerCase('[5, 8]', (own) => uniform(own, 930, [5, 8], -3, 3), 2, { score, normalize: false }),
  routerCase('[5, 8]', (own) => uniform(own, 930, [5, 8], -3, 3), 2, { score, normalize: true }),
  routerCase('ties go to the lower index [2, 5]', (own) => lit(own, TIED, [2, 5]), 3, {
    score,
    normalize: true,
  }),
  routerCase('k = E [3, 4]', (own) => uniform(own, 931, [3, 4]), 4, { score, normalize: false }),
  routerCase('k = 0 [3, 4]', (own) => uniform(own, 932, [3, 4]), 0, { score, normalize: false }),
  routerCase('one expert [4, 1]', (own) => uniform(own, 933, [4, 1]), 1, { score, normalize: true }),
  routerCase('no tokens [0, 6]', (own) => lit(own, [], [0, 6]), 2, { score, normalize: true }),
  routerCase('64 experts, top-6 [7, 64]', (own) => uniform(own, 934, [7, 64], -4, 4), 6, {
    score,
    normalize: true,
  }),
  routerCase(
    '[6, 8]',
    (own) => uniform(own, 935, [6, 8], -3, 3),
    3,
    { score, normalize: true },
    (own) => uniform(own, 936, [8], -0.5, 0.5),
  ),
  routerCase('[9, 16]', (own) => uniform(own, 937, [9, 16], -3, 3), 4, {
    score,
    normalize: true,
    groupLimit: V3,
  }),
  routerCase(
    '[9, 16]',
    (own) => uniform(own, 937, [9, 16], -3, 3),
    4,
    { score, normalize: false, groupLimit: V3 },
    (own) => uniform(own, 938, [16], -0.5, 0.5),
  ),
  routerCase(
    'one expert per group [5, 12]',
    (own) => uniform(own, 939, [5, 12], -3, 3),
    3,
    { score, normalize: true, groupLimit: { groups: 12, topGroups: 5, groupScoreTopN: 1 } },
    (own) => uniform(own, 940, [12], -0.5, 0.5),
  ),
  routerCase(
    'whole-group sums, 40 groups [3, 80]',
    (own) => uniform(own, 941, [3, 80], -3, 3),
    6,
    { score, normalize: true, groupLimit: { groups: 40, topGroups: 33, groupScoreTopN: 2 } },
    (own) => uniform(own, 942, [80], -0.5, 0.5),
  ),
  routerCase(
    'every group kept [4, 8]',
    (own) => uniform(own, 943, [4, 8], -3, 3),
    2,
    { score, normalize: true, groupLimit: { groups: 2, topGroups: 2, groupScoreTopN: 1 } },
    (own) => uniform(own, 944, [8], -0.5, 0.5),
  ),
  ...(score === 'none'
    ? [1, 2, 4].map((k) =>
        routerCase('NaN first, ±0 tied [3, 4]', (own) => lit(own, NAN_AND_ZEROS, [3, 4]), k, {
          score,
          normalize: false,
        }),
      )
    : []),
  ...[1, 2].map((groupScoreTopN) =>
    routerCase(
      'tied keys and groups go to the lower index [2, 8]',
      (own) => lit(own, new Array<number>(16).fill(0), [2, 8]),
      5,
      { score, normalize: true, groupLimit: { groups: 4, topGroups: 3, groupScoreTopN } },
      (own) => lit(own, TIED_BIAS, [8]),
    ),
  ),
]);

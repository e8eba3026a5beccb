// weightedGather: out[t] = Σ_k weights[t, k] · src[rows[t, k]] against a float64 reference, with K = 0, 1, 2
// and 6, T = 0, rows out of range on both sides and repeated, rank-1 and rank-3 sources, 16-bit storage, and
// sizes past the CPU's WebAssembly thresholds (the source copied whole, and rows staged). weightedGatherGrad,
// its cotangents in src and in weights, against float64 references on the same kinds of rows.

import { type DType, weightedGather } from '../../index.js';
import { weightedGatherGrad } from '../../ops/weighted-gather.js';
import { castRef } from '../reference.js';
import {
  bf16Tol,
  type Case,
  check,
  f16Tol,
  type Input,
  lit,
  type Own,
  randint,
  scoped,
  uniform,
} from './helpers.js';

/** The float64 reference: [T, ...rest] as a flat list. */
function weightedGatherRef(src: Input, rows: Input, weights: Input): { shape: number[]; values: number[] } {
  const r = src.shape[0] as number;
  const rest = src.shape.slice(1);
  const width = rest.reduce((a, b) => a * b, 1);
  const [t, k] = rows.shape as [number, number];
  const values = new Array<number>(t * width).fill(0);
  for (let i = 0; i < t; i++) {
    for (let kk = 0; kk < k; kk++) {
      const row = rows.v[i * k + kk] as number;
      if (row < 0 || row >= r) continue;
      const w = weights.v[i * k + kk] as number;
      for (let j = 0; j < width; j++) {
        values[i * width + j] = (values[i * width + j] as number) + w * (src.v[row * width + j] as number);
      }
    }
  }
  return { shape: [t, ...rest], values };
}

function weightedGatherCase(
  name: string,
  make: (own: Own) => Promise<[Input, Input, Input]>,
  dtype: DType = 'f32',
): Case {
  return [
    'weightedGather',
    name,
    scoped(async (own, tol) => {
      const [src, rows, weights] = await make(own);
      const y = own(() => weightedGather(src.t, rows.t, weights.t));
      const ref = weightedGatherRef(src, rows, weights);
      const values = ref.values.map((v) => castRef(v, dtype));
      const t = dtype === 'f16' ? f16Tol(tol) : dtype === 'bf16' ? bf16Tol(tol) : tol;
      await check('weightedGather', y, dtype, ref.shape, values, t);
    }),
  ];
}

const idx = (own: Own, values: number[], shape: number[]) => lit(own, values, shape, 'i32');

/** bf16 src [3, 2] and weights [2, 2], rows [2, 2]. */
const bf16Inputs = (own: Own) =>
  Promise.all([
    lit(own, [0.1, -0.2, 0.3, 0.7, 1.5, -2], [3, 2], 'bf16'),
    idx(own, [2, 0, 1, 1], [2, 2]),
    lit(own, [0.5, -1, 2, 0.25], [2, 2], 'bf16'),
  ]);

export const WEIGHTED_GATHER_CASES: Case[] = [
  weightedGatherCase('K = 1: src [5, 3], rows [4, 1]', (own) =>
    Promise.all([uniform(own, 1700, [5, 3]), idx(own, [4, 0, 2, 4], [4, 1]), uniform(own, 1701, [4, 1])]),
  ),
  weightedGatherCase('K = 2 with a repeated row', (own) =>
    Promise.all([
      uniform(own, 1702, [6, 4]),
      idx(own, [1, 1, 5, 0, 3, 2], [3, 2]),
      uniform(own, 1703, [3, 2]),
    ]),
  ),
  weightedGatherCase('K = 6 with random rows', (own) =>
    Promise.all([uniform(own, 1704, [9, 5]), randint(own, 1705, [7, 6], 0, 9), uniform(own, 1706, [7, 6])]),
  ),
  weightedGatherCase('K = 0 gives zeros', (own) =>
    Promise.all([uniform(own, 1707, [4, 3]), idx(own, [], [3, 0]), lit(own, [], [3, 0])]),
  ),
  weightedGatherCase('T = 0 gives an empty result', (own) =>
    Promise.all([uniform(own, 1708, [4, 3]), idx(own, [], [0, 2]), lit(own, [], [0, 2])]),
  ),
  weightedGatherCase('rows out of range (negative and >= R) add nothing, even with a NaN weight', (own) =>
    Promise.all([
      uniform(own, 1709, [4, 3]),
      idx(own, [-1, 2, 4, 0, 3, 9, -7, 4], [4, 2]),
      lit(own, [Number.NaN, 0.5, Number.POSITIVE_INFINITY, -1.5, 2, 1, 0.25, -3], [4, 2]),
    ]),
  ),
  weightedGatherCase('rank-1 src [6]', (own) =>
    Promise.all([uniform(own, 1710, [6]), idx(own, [5, 0, 0, 3, 6, 2], [3, 2]), uniform(own, 1711, [3, 2])]),
  ),
  weightedGatherCase('rank-3 src [5, 2, 3]', (own) =>
    Promise.all([
      uniform(own, 1712, [5, 2, 3]),
      randint(own, 1713, [4, 3], -1, 6),
      uniform(own, 1714, [4, 3]),
    ]),
  ),
  weightedGatherCase('rows of width 0: src [3, 0]', (own) =>
    Promise.all([lit(own, [], [3, 0]), idx(own, [2, 0], [2, 1]), lit(own, [1, 2], [2, 1])]),
  ),
  weightedGatherCase('[300, 64] gathered by [200, 4], past the WebAssembly threshold', (own) =>
    Promise.all([
      uniform(own, 1715, [300, 64]),
      randint(own, 1716, [200, 4], -3, 303),
      uniform(own, 1717, [200, 4]),
    ]),
  ),
  weightedGatherCase('[120, 37] gathered by [64, 3], rows of an odd width (staged)', (own) =>
    Promise.all([
      uniform(own, 1718, [120, 37]),
      randint(own, 1719, [64, 3], -2, 122),
      uniform(own, 1720, [64, 3]),
    ]),
  ),
  weightedGatherCase(
    'f16 src with f32 weights promotes to f32',
    (own) =>
      Promise.all([
        lit(own, [0.1, -0.2, 0.3, 0.7, 1.5, -2], [3, 2], 'f16'),
        idx(own, [2, 0, 1, 1], [2, 2]),
        lit(own, [0.5, -1, 2, 0.25], [2, 2]),
      ]),
    'f32',
  ),
  weightedGatherCase('bf16 src and weights store rounded', bf16Inputs, 'bf16'),
];

/** The float64 references of weightedGatherGrad: [R, ...rest] for 'src', [T, K] for 'weights'. */
function weightedGatherGradRef(
  [src, rows, weights, g]: Input[],
  wrt: 'src' | 'weights',
): { shape: number[]; values: number[] } {
  const [x, ids, w, gv] = [src as Input, (rows as Input).v, (weights as Input).v, (g as Input).v];
  const r = x.shape[0] as number;
  const width = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const [t, k] = (rows as Input).shape as [number, number];
  const values = new Array<number>(wrt === 'src' ? r * width : t * k).fill(0);
  for (let a = 0; a < t * k; a++) {
    const row = ids[a] as number;
    if (row < 0 || row >= r) continue;
    const o = Math.floor(a / k) * width;
    for (let j = 0; j < width; j++) {
      const gj = gv[o + j] as number;
      if (wrt === 'src')
        values[row * width + j] = (values[row * width + j] as number) + (w[a] as number) * gj;
      else values[a] = (values[a] as number) + gj * (x.v[row * width + j] as number);
    }
  }
  return { shape: wrt === 'src' ? x.shape : [t, k], values };
}

/** A weightedGatherGrad case for each `wrt`: inputs [src, rows, weights] and g of weightedGather's output shape. */
function weightedGatherGradCases(
  name: string,
  seed: number,
  make: (own: Own) => Promise<[Input, Input, Input]>,
  dtype: DType = 'f32',
): Case[] {
  return (['src', 'weights'] as const).map(
    (wrt): Case => [
      'weightedGatherGrad',
      `wrt ${wrt}: ${name}`,
      scoped(async (own, tol) => {
        const [src, rows, weights] = await make(own);
        const g = await uniform(own, seed, [rows.shape[0] as number, ...src.shape.slice(1)]);
        const inputs = [src, rows, weights, g];
        const y = own(() => weightedGatherGrad(src.t, rows.t, weights.t, g.t, wrt));
        const ref = weightedGatherGradRef(inputs, wrt);
        const t = dtype === 'bf16' ? bf16Tol(tol) : tol;
        const values = ref.values.map((v) => castRef(v, dtype));
        await check(`weightedGatherGrad wrt ${wrt}`, y, dtype, ref.shape, values, t);
      }),
    ],
  );
}

export const WEIGHTED_GATHER_GRAD_CASES: Case[] = [
  ...weightedGatherGradCases('K = 6 with repeated rows', 1730, (own) =>
    Promise.all([uniform(own, 1731, [9, 5]), randint(own, 1732, [7, 6], 0, 9), uniform(own, 1733, [7, 6])]),
  ),
  ...weightedGatherGradCases(
    'rows out of range (negative and >= R) give and get 0, NaN weight included',
    1734,
    (own) =>
      Promise.all([
        uniform(own, 1735, [4, 3]),
        idx(own, [-1, 2, 4, 0, 3, 9, -7, 4], [4, 2]),
        lit(own, [Number.NaN, 0.5, Number.POSITIVE_INFINITY, -1.5, 2, 1, 0.25, -3], [4, 2]),
      ]),
  ),
  ...weightedGatherGradCases('rank-1 src [6]', 1736, (own) =>
    Promise.all([uniform(own, 1737, [6]), idx(own, [5, 0, 0, 3, 6, 2], [3, 2]), uniform(own, 1738, [3, 2])]),
  ),
  ...weightedGatherGradCases('rank-3 src [5, 2, 3]', 1739, (own) =>
    Promise.all([
      uniform(own, 1740, [5, 2, 3]),
      randint(own, 1741, [4, 3], -1, 6),
      uniform(own, 1742, [4, 3]),
    ]),
  ),
  ...weightedGatherGradCases('K = 0', 1743, (own) =>
    Promise.all([uniform(own, 1744, [4, 3]), idx(own, [], [3, 0]), lit(own, [], [3, 0])]),
  ),
  ...weightedGatherGradCases('rows of width 0: src [3, 0]', 1745, (own) =>
    Promise.all([lit(own, [], [3, 0]), idx(own, [2, 0], [2, 1]), lit(own, [1, 2], [2, 1])]),
  ),
  ...weightedGatherGradCases('bf16 src and weights (g cast to bf16)', 1750, bf16Inputs, 'bf16'),
  ...weightedGatherGradCases('[300, 64] gathered by [200, 4]', 1746, (own) =>
    Promise.all([
      uniform(own, 1747, [300, 64]),
      randint(own, 1748, [200, 4], -3, 303),
      uniform(own, 1749, [200, 4]),
    ]),
  ),
];

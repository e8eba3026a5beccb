// glu and gluGrad: every activation against float64 references, with odd sizes, empty and rank-0 tensors,
// large magnitudes, 16-bit storage, and sizes past 1024 (the CPU's WebAssembly path for 'silu').

import { type DType, glu } from '../../index.js';
import { gluGrad } from '../../ops/glu.js';
import { GLU_FNS, type GluFn } from '../../primitives.js';
import type { Tolerance } from '../allclose.js';
import { castRef, erfRef, UNARY_REF } from '../reference.js';
import { bf16Tol, type Case, check, f16Tol, type Input, lit, type Own, scoped, uniform } from './helpers.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** fn'(x) in float64. */
const DERIVATIVE_REF: { readonly [F in GluFn]: (x: number) => number } = {
  relu: (x) => (x > 0 ? 1 : 0),
  silu: (x) => {
    const s = 1 / (1 + Math.exp(-x));
    return s * (1 + x * (1 - s));
  },
  gelu: (x) => 0.5 * (1 + erfRef(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI),
  geluTanh: (x) => {
    const t = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x ** 3));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
  },
};

function outTol(dtype: DType, tol: Tolerance): Tolerance {
  if (dtype === 'f16') return f16Tol(tol);
  if (dtype === 'bf16') return bf16Tol(tol);
  return tol;
}

type Make = (own: Own) => Promise<Input[]>;

/** A glu case: inputs [gate, up]; the result must have `dtype` and match fn(gate) · up in float64. */
function gluCase(fn: GluFn, name: string, dtype: DType, make: Make): Case {
  return [
    'glu',
    `${fn} ${name}`,
    scoped(async (own, tol) => {
      const [gate, up] = (await make(own)) as [Input, Input];
      const y = own(() => glu(gate.t, up.t, fn));
      const ref = gate.v.map((x, i) => castRef(UNARY_REF[fn](x) * (up.v[i] as number), dtype));
      await check(`glu ${fn}`, y, dtype, gate.shape, ref, outTol(dtype, tol));
    }),
  ];
}

/** A gluGrad case: inputs [gate, up, g]; g · up · fn'(gate) or g · fn(gate) in float64. */
function gluGradCase(fn: GluFn, wrt: 'gate' | 'up', name: string, make: Make): Case {
  return [
    'gluGrad',
    `${fn} wrt ${wrt} ${name}`,
    scoped(async (own, tol) => {
      const [gate, up, g] = (await make(own)) as [Input, Input, Input];
      const y = own(() => gluGrad(gate.t, up.t, g.t, fn, wrt));
      const ref = gate.v.map((x, i) =>
        wrt === 'gate'
          ? (g.v[i] as number) * (up.v[i] as number) * DERIVATIVE_REF[fn](x)
          : (g.v[i] as number) * UNARY_REF[fn](x),
      );
      await check(`gluGrad ${fn} wrt ${wrt}`, y, 'f32', gate.shape, ref, tol);
    }),
  ];
}

/** Uniform inputs of one shape, the first (the gate) over [-4, 4), the others over [-1, 1). */
const random =
  (seed: number, shape: number[], count: number): Make =>
  (own) =>
    Promise.all(
      Array.from({ length: count }, (_, k) =>
        k === 0 ? uniform(own, seed, shape, -4, 4) : uniform(own, seed + k, shape),
      ),
    );

/** Literal inputs of one shape. */
const literal =
  (shape: number[], ...values: number[][]): Make =>
  (own) =>
    Promise.all(values.map((v) => lit(own, v, shape)));

const LARGE = [-80, -20, -3.5, -0.5, 0, 0.75, 20, 80];
const UP = [0.5, -1.25, 2, 0.75, -3, 1, -0.25, 1.5];
const COTANGENT = [1, -0.5, 0.25, 2, -1, 0.75, -1.5, 0.5];

const gluCases: Case[] = [
  ...GLU_FNS.flatMap((fn, k): Case[] => [
    gluCase(fn, 'f32 [3, 5]', 'f32', random(500 + 10 * k, [3, 5], 2)),
    gluCase(fn, 'f32 [7, 173], past 1024 elements', 'f32', random(501 + 10 * k, [7, 173], 2)),
    gluCase(fn, 'large magnitudes', 'f32', literal([2, 4], LARGE, UP)),
    gluCase(fn, 'size-0 [0, 3]', 'f32', literal([0, 3], [], [])),
  ]),
  gluCase('silu', 'rank-0', 'f32', (own) => Promise.all([lit(own, -1.5), lit(own, 2)])),
  gluCase('silu', 'f16 stores rounded', 'f16', (own) =>
    Promise.all([
      lit(own, [-2, -0.5, 0, 0.3, 1, 2.7], [2, 3], 'f16'),
      lit(own, [1, 2, 3, -1, 0.5, 7], [2, 3], 'f16'),
    ]),
  ),
  gluCase('gelu', 'bf16 stores rounded', 'bf16', (own) =>
    Promise.all([
      lit(own, [-2, -0.5, 0, 0.3, 1, 2.7], [2, 3], 'bf16'),
      lit(own, [1, 2, 3, -1, 0.5, 7], [2, 3], 'bf16'),
    ]),
  ),
  gluCase('silu', 'f16 with bf16 promotes to f32', 'f32', (own) =>
    Promise.all([lit(own, [-1, 0.3, 2], [3], 'f16'), lit(own, [0.2, -0.7, 1.1], [3], 'bf16')]),
  ),
  gluCase('relu', 'f32 with f16 promotes to f32', 'f32', (own) =>
    Promise.all([lit(own, [-1, 0.3, 2], [3]), lit(own, [0.2, -0.7, 1.1], [3], 'f16')]),
  ),
];

const gluGradCases: Case[] = GLU_FNS.flatMap((fn, k): Case[] =>
  (['gate', 'up'] as const).flatMap((wrt, j): Case[] => {
    const seed = 600 + 20 * k + 5 * j;
    return [
      gluGradCase(fn, wrt, 'f32 [3, 5]', random(seed, [3, 5], 3)),
      gluGradCase(fn, wrt, 'f32 [5, 211], past 1024 elements', random(seed + 3, [5, 211], 3)),
      gluGradCase(fn, wrt, 'large magnitudes', literal([8], LARGE, UP, COTANGENT)),
      gluGradCase(fn, wrt, 'size-0 [2, 0]', literal([2, 0], [], [], [])),
    ];
  }),
);

export const GLU_CASES: Case[] = [...gluCases, ...gluGradCases];

// Finite-difference gradient checks for every differentiable primitive and the composite ops, written once
// and run on every backend (CPU and WebGPU in Node, WebGPU in Chromium), like the conformance suite.

import type { Backend } from '../backends/backend.js';
import { createCpuBackend } from '../backends/cpu/cpu-backend.js';
import { getBackend, setBackend } from '../engine.js';
import {
  abs,
  add,
  broadcastTo,
  cast,
  concat,
  cos,
  cumsum,
  div,
  dropout,
  embedding,
  entr,
  erf,
  exp,
  Generator,
  gather,
  gelu,
  geluTanh,
  glu,
  groupedMatmul,
  groupedMatmulGradW,
  layerNorm,
  log,
  logSoftmax,
  logsumexp,
  matmul,
  max,
  maximum,
  mean,
  min,
  minimum,
  mod,
  mul,
  neg,
  pad,
  pow,
  relu,
  reshape,
  rmsNorm,
  routerTopK,
  rsqrt,
  scatterAdd,
  sigmoid,
  silu,
  sin,
  slice,
  softmax,
  softplus,
  sort,
  sqrt,
  sub,
  sum,
  type Tensor,
  takeAlongAxis,
  tanh,
  tensor,
  tidy,
  topk,
  transpose,
  variance,
  weightedGather,
  where,
} from '../index.js';
import type { GluFn } from '../primitives.js';
import { type GradcheckOptions, gradcheck } from './gradcheck.js';
import { randomTensor } from './random-tensor.js';

type Fn = (...xs: Tensor[]) => Tensor;

/** Tolerances of the backend under test while its cases run (cases run one at a time). */
let backendTolerance: GradcheckOptions = {};

/** One gradient check, runnable on any backend. */
export interface GradcheckCase {
  /** e.g. `gradcheck: matmul > transA and transB`. */
  name: string;
  /** Throws an Error describing the mismatch. */
  run(): Promise<void>;
}

let collected: { name: string; run: () => unknown }[] = [];
let prefix = '';

/** Groups the cases registered by `body` under `name` (the suite below reads like a test file). */
function describe(name: string, body: () => void): void {
  const outer = prefix;
  prefix = `${outer}${name} > `;
  body();
  prefix = outer;
}

function it(name: string, run: () => unknown): void {
  collected.push({ name: prefix + name, run });
}

/**
 * The gradcheck suite as a function of a backend: every differentiable primitive and composite checked
 * against central finite differences. `tolerance` widens gradcheck's defaults for backends whose
 * transcendental functions are less exact than the CPU's.
 */
export function gradcheckCases(backend: Backend, tolerance: GradcheckOptions = {}): GradcheckCase[] {
  collected = [];
  registerCases();
  return collected.map(({ name, run }) => ({
    name,
    async run() {
      const previous = getBackend();
      setBackend(backend);
      backendTolerance = tolerance;
      try {
        await run();
      } finally {
        setBackend(previous);
        backendTolerance = {};
      }
    },
  }));
}

/** Runs gradcheck and asserts it passed, printing gradcheck's own report on failure. */
async function check(f: Fn, inputs: Tensor[], options: GradcheckOptions = {}): Promise<void> {
  const result = await gradcheck(f, inputs, { ...backendTolerance, ...options });
  if (!result.ok || !Number.isFinite(result.maxAbsError)) throw new Error(result.message);
}

/** Uniform values in [low, high) from `new Generator(seed)`. */
export function uniform(shape: number[], seed: number, low = -1, high = 1): Tensor {
  return tidy(() => randomTensor(shape, new Generator(seed), { low, high }));
}

/** Values with magnitude in [lo, hi) and a random sign: at least `lo` away from 0. */
function awayFromZero(shape: number[], seed: number, lo = 0.2, hi = 1.2): Tensor {
  return tidy(() => {
    const g = new Generator(seed);
    const magnitude = g.uniform(shape, lo, hi);
    return where(g.bernoulli(shape, 0.5), magnitude, neg(magnitude));
  });
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * Tensors holding a random permutation of the grid {-n/2, ..., n/2} * spacing, split across `shapes`: every
 * value differs from every other by at least `spacing`, so max/min/sort/maximum have no ties near x ± eps.
 */
function distinct(shapes: number[][], seed: number, spacing = 0.1): Tensor[] {
  const sizes = shapes.map(sizeOf);
  const total = sizes.reduce((a, b) => a + b, 0);
  const order = onCpu(() => {
    const perm = new Generator(seed).permutation(total);
    const values = perm.dataSync();
    perm.dispose();
    return values;
  });
  let offset = 0;
  return shapes.map((shape, k) => {
    const n = sizes[k] as number;
    const values = Array.from({ length: n }, (_, i) => ((order[offset + i] as number) - total / 2) * spacing);
    offset += n;
    return tensor(values, { shape });
  });
}

export function i32(values: number[], shape?: number[]): Tensor {
  return tensor(values, shape ? { dtype: 'i32', shape } : { dtype: 'i32' });
}

const hostBackend = createCpuBackend();

/** Runs `fn` on a CPU backend, for test inputs computed on the host whatever backend is under test. */
function onCpu<T>(fn: () => T): T {
  const previous = getBackend();
  setBackend(hostBackend);
  try {
    return fn();
  } finally {
    setBackend(previous);
  }
}

function registerCases(): void {
  describe('gradcheck: unary', () => {
    const unaries: [string, (x: Tensor) => Tensor, (shape: number[], seed: number) => Tensor][] = [
      ['neg', neg, (s, seed) => uniform(s, seed)],
      ['exp', exp, (s, seed) => uniform(s, seed)],
      ['log', log, (s, seed) => uniform(s, seed, 0.3, 2)],
      ['sqrt', sqrt, (s, seed) => uniform(s, seed, 0.3, 2)],
      ['rsqrt', rsqrt, (s, seed) => uniform(s, seed, 0.3, 2)],
      ['tanh', tanh, (s, seed) => uniform(s, seed, -2, 2)],
      ['abs', abs, (s, seed) => awayFromZero(s, seed)],
      ['relu', relu, (s, seed) => awayFromZero(s, seed)],
      ['sigmoid', sigmoid, (s, seed) => uniform(s, seed, -3, 3)],
      ['softplus', softplus, (s, seed) => uniform(s, seed, -3, 3)],
      ['entr', entr, (s, seed) => uniform(s, seed, 0.1, 2)],
      ['gelu', gelu, (s, seed) => uniform(s, seed, -3, 3)],
      ['geluTanh', geluTanh, (s, seed) => uniform(s, seed, -3, 3)],
      ['silu', silu, (s, seed) => uniform(s, seed, -3, 3)],
      ['erf', erf, (s, seed) => uniform(s, seed, -2, 2)],
      ['sin', sin, (s, seed) => uniform(s, seed, -3, 3)],
      ['cos', cos, (s, seed) => uniform(s, seed, -3, 3)],
    ];
    unaries.forEach(([name, op, make], k) => {
      it(`${name} on [2, 3, 2]`, async () => {
        await check((x) => op(x), [make([2, 3, 2], 100 + k)]);
      });
    });

    it('composes: exp(sin(x)) * tanh(x) on a scalar and on [5]', async () => {
      await check((x) => mul(exp(sin(x)), tanh(x)), [uniform([], 1)]);
      await check((x) => mul(exp(sin(x)), tanh(x)), [uniform([5], 2)]);
    });
  });

  describe('gradcheck: glu', () => {
    const gates: [GluFn, (shape: number[], seed: number) => Tensor][] = [
      ['silu', (s, seed) => uniform(s, seed, -3, 3)],
      ['gelu', (s, seed) => uniform(s, seed, -3, 3)],
      ['geluTanh', (s, seed) => uniform(s, seed, -3, 3)],
      ['relu', (s, seed) => awayFromZero(s, seed)],
    ];
    gates.forEach(([fn, make], k) => {
      it(`${fn} on [2, 3, 2], gate and up`, async () => {
        await check(
          (gate, up) => glu(gate as Tensor, up as Tensor, fn),
          [make([2, 3, 2], 150 + 2 * k), uniform([2, 3, 2], 151 + 2 * k)],
        );
      });
    });

    it('silu with one tensor as both gate and up, and the up input alone', async () => {
      await check((x) => glu(x, x), [uniform([5], 160, -3, 3)]);
      const gate = uniform([3, 2], 161, -3, 3);
      await check((up) => glu(gate, up), [uniform([3, 2], 162)]);
      gate.dispose();
    });
  });

  describe('gradcheck: binary with broadcasting', () => {
    /** Operand shape pairs: equal shapes, both operands broadcast, and a scalar on either side. */
    const shapePairs: [number[], number[]][] = [
      [
        [2, 3],
        [2, 3],
      ],
      [
        [3, 1],
        [1, 4],
      ],
      [[2, 3], []],
      [[], [2, 3]],
      [
        [2, 1, 3],
        [4, 1],
      ],
    ];
    const label = (a: number[], b: number[]) => `[${a.join(', ')}] with [${b.join(', ')}]`;

    shapePairs.forEach(([sa, sb], k) => {
      const seed = 200 + 10 * k;
      it(`add ${label(sa, sb)}`, async () => {
        await check(add, [uniform(sa, seed), uniform(sb, seed + 1)]);
      });
      it(`sub ${label(sa, sb)}`, async () => {
        await check(sub, [uniform(sa, seed + 2), uniform(sb, seed + 3)]);
      });
      it(`mul ${label(sa, sb)}`, async () => {
        await check(mul, [uniform(sa, seed + 4), uniform(sb, seed + 5)]);
      });
      it(`div ${label(sa, sb)}`, async () => {
        await check(div, [uniform(sa, seed + 6), awayFromZero(sb, seed + 7, 0.5, 1.5)]);
      });
      it(`pow ${label(sa, sb)} (positive base)`, async () => {
        await check(pow, [uniform(sa, seed + 8, 0.5, 2), uniform(sb, seed + 9, -1.5, 2)]);
      });
      it(`maximum and minimum ${label(sa, sb)} (no ties)`, async () => {
        const [a, b] = distinct([sa, sb], seed) as [Tensor, Tensor];
        await check(maximum, [a, b]);
        await check(minimum, [a, b]);
      });
      it(`mod ${label(sa, sb)} (away from discontinuities)`, async () => {
        const [a, b] = modOperands(sa, sb, seed);
        await check(mod, [a, b]);
      });
    });

    it('a tensor times a plain number, and a number minus a tensor', async () => {
      await check((x) => mul(x, 3), [uniform([2, 2], 260)]);
      await check((x) => sub(2, x), [uniform([2, 2], 261)]);
      await check((x) => div(1, x), [awayFromZero([2, 2], 262, 0.5, 1.5)]);
      await check((x) => pow(x, 3), [uniform([2, 2], 263, 0.5, 1.5)]);
      await check((x) => pow(2, x), [uniform([2, 2], 264)]);
    });

    it('maximum against a constant (relu-like clamp) away from the kink', async () => {
      await check((x) => maximum(x, 0), [awayFromZero([3, 3], 265)]);
      await check((x) => minimum(x, 0.05), [awayFromZero([3, 3], 266)]);
    });
  });

  /**
   * Operands for floored mod, every pair of which (over the broadcast) keeps a / b at least 0.08 away from an
   * integer, so a ± eps and b ± eps never cross a discontinuity. Divisors are at least 0.8 in magnitude.
   */
  function modOperands(sa: number[], sb: number[], seed: number): [Tensor, Tensor] {
    const g = new Generator(seed);
    const draw = (n: number, lo: number, hi: number): Float32Array => {
      return onCpu(() => {
        const t = g.uniform([n], lo, hi);
        const values = t.dataSync() as Float32Array;
        t.dispose();
        return values;
      });
    };
    const bMag = draw(sizeOf(sb), 0.8, 2);
    const bSign = draw(sizeOf(sb), 0, 1);
    const b = Array.from(bMag, (m, i) => ((bSign[i] as number) < 0.5 ? -m : m));
    const safe = (a: number) =>
      b.every((d) => {
        const q = Math.fround(a) / Math.fround(d);
        const frac = q - Math.floor(q);
        return frac > 0.08 && frac < 0.92;
      });
    const a: number[] = [];
    while (a.length < sizeOf(sa)) {
      for (const candidate of draw(64, -4, 4)) {
        if (a.length < sizeOf(sa) && safe(candidate)) a.push(candidate);
      }
    }
    return [tensor(a, { shape: sa }), tensor(b, { shape: sb })];
  }

  describe('gradcheck: where', () => {
    it('grads flow to both branches, with cond, a and b broadcast', async () => {
      const cond = tidy(() => new Generator(300).bernoulli([2, 1, 4], 0.5));
      await check((a, b) => where(cond, a, b), [uniform([3, 1], 301), uniform([1, 3, 4], 302)]);
    });

    it('equal shapes, and a scalar branch', async () => {
      const cond = tidy(() => new Generator(303).bernoulli([3, 4], 0.5));
      await check((a, b) => where(cond, a, b), [uniform([3, 4], 304), uniform([3, 4], 305)]);
      await check((a, b) => where(cond, a, b), [uniform([], 306), uniform([4], 307)]);
    });

    it('with the condition passed as a bool input (not checked, not differentiated)', async () => {
      const cond = tidy(() => new Generator(308).bernoulli([2, 3], 0.5));
      await check(
        (c, a, b) => where(c as Tensor, a as Tensor, b as Tensor),
        [cond, uniform([2, 3], 309), uniform([3], 310)],
      );
    });
  });

  describe('gradcheck: reduce', () => {
    const cases: [string, number | number[] | undefined, boolean][] = [
      ['one axis', 1, false],
      ['a negative axis', -1, false],
      ['several axes', [0, 2], false],
      ['all axes', undefined, false],
      ['one axis, keepDims', 1, true],
      ['several axes, keepDims', [0, 2], true],
      ['all axes, keepDims', undefined, true],
    ];
    cases.forEach(([name, axes, keepDims], k) => {
      it(`sum over ${name}`, async () => {
        await check((x) => sum(x, axes, keepDims), [uniform([2, 3, 4], 400 + k)]);
      });
      it(`max over ${name} (no ties)`, async () => {
        const [x] = distinct([[2, 3, 4]], 410 + k) as [Tensor];
        await check((t) => max(t, axes, keepDims), [x]);
      });
      it(`min over ${name} (no ties)`, async () => {
        const [x] = distinct([[2, 3, 4]], 420 + k) as [Tensor];
        await check((t) => min(t, axes, keepDims), [x]);
      });
    });

    it('max of a scalar and of a size-1 axis', async () => {
      await check((x) => max(x), [uniform([], 430)]);
      await check((x) => max(x, 1), [uniform([3, 1], 431)]);
    });
  });

  describe('gradcheck: softmax and logSoftmax', () => {
    it('softmax along the last axis and a middle axis', async () => {
      await check((x) => softmax(x, -1), [uniform([2, 3, 4], 500, -2, 2)]);
      await check((x) => softmax(x, 1), [uniform([2, 3, 4], 501, -2, 2)]);
    });

    it('logSoftmax along the last axis and a middle axis', async () => {
      await check((x) => logSoftmax(x, -1), [uniform([2, 3, 4], 502, -2, 2)]);
      await check((x) => logSoftmax(x, 1), [uniform([2, 3, 4], 503, -2, 2)]);
    });

    it('softmax of large logits stays stable', async () => {
      await check((x) => softmax(add(x, 50), 0), [uniform([4, 2], 504, -2, 2)]);
    });
  });

  describe('gradcheck: matmul', () => {
    /** [a logical shape, b logical shape]: 1-D operands stay 1-D. */
    const shapes: [number[], number[]][] = [
      [
        [3, 4],
        [4, 2],
      ],
      [
        [2, 3, 4],
        [4, 5],
      ],
      [
        [1, 3, 4],
        [2, 4, 5],
      ],
      [[4], [4, 5]],
      [[3, 4], [4]],
      [[4], [4]],
      [[4], [2, 4, 3]],
    ];
    /** The stored shape of a logical operand under `trans` (the last two axes swapped). */
    const stored = (shape: number[], trans: boolean) =>
      trans && shape.length >= 2
        ? [...shape.slice(0, -2), shape.at(-1) as number, shape.at(-2) as number]
        : shape;

    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        shapes.forEach(([sa, sb], k) => {
          it(`[${sa.join(', ')}] @ [${sb.join(', ')}] with transA ${transA}, transB ${transB}`, async () => {
            const a = uniform(stored(sa, transA), 600 + k);
            const b = uniform(stored(sb, transB), 620 + k);
            await check((x, y) => matmul(x, y, { transA, transB }), [a, b]);
          });
        });
      }
    }

    it('the same matrix on both sides (x^T x)', async () => {
      await check((x) => matmul(x, x, { transA: true }), [uniform([3, 2], 640)]);
    });
  });

  describe('gradcheck: groupedMatmul and groupedMatmulGradW', () => {
    // Segments [0, 2), [2, 2) (empty), [2, 5); row 5 belongs to no segment and gets zeros.
    const offsets = () => i32([0, 2, 2, 5]);

    it('x and w, transW false, with an empty segment and an uncovered row', async () => {
      await check(
        (x, w, o) => groupedMatmul(x as Tensor, w as Tensor, o as Tensor),
        [uniform([6, 3], 700), uniform([3, 3, 2], 701), offsets()],
      );
    });

    it('x and w, transW true', async () => {
      await check(
        (x, w, o) => groupedMatmul(x as Tensor, w as Tensor, o as Tensor, { transW: true }),
        [uniform([6, 3], 702), uniform([3, 2, 3], 703), offsets()],
      );
    });

    it('an empty first segment, offsets captured by the closure', async () => {
      const o = i32([0, 0, 3, 6]);
      await check((x, w) => groupedMatmul(x, w, o), [uniform([6, 2], 704), uniform([3, 2, 4], 705)]);
      await check(
        (x, w) => groupedMatmul(x, w, o, { transW: true }),
        [uniform([6, 2], 706), uniform([3, 4, 2], 707)],
      );
    });

    it('groupedMatmulGradW in both x and dy', async () => {
      await check(
        (x, dy, o) => groupedMatmulGradW(x as Tensor, dy as Tensor, o as Tensor),
        [uniform([6, 3], 708), uniform([6, 2], 709), offsets()],
      );
    });
  });

  describe('gradcheck: cumsum', () => {
    const variants: [string, { exclusive?: boolean; reverse?: boolean }][] = [
      ['plain', {}],
      ['exclusive', { exclusive: true }],
      ['reverse', { reverse: true }],
      ['exclusive and reverse', { exclusive: true, reverse: true }],
    ];
    variants.forEach(([name, options], k) => {
      it(`${name} along the last axis and axis 0`, async () => {
        await check((x) => cumsum(x, -1, options), [uniform([3, 4], 800 + k)]);
        await check((x) => cumsum(x, 0, options), [uniform([3, 4], 810 + k)]);
      });
    });
  });

  describe('gradcheck: gather and scatterAdd', () => {
    it('gather with repeated indices (indices as an i32 input)', async () => {
      await check(
        (x, idx) => gather(x as Tensor, idx as Tensor),
        [uniform([4, 3], 900), i32([0, 2, 2, 3, 0])],
      );
    });

    it('gather with 2-D indices from a 1-D table', async () => {
      const idx = i32([1, 1, 0, 3, 3, 3], [2, 3]);
      await check((x) => gather(x, idx), [uniform([4], 901)]);
    });

    it('scatterAdd with duplicate indices and untouched rows', async () => {
      const idx = i32([0, 3, 3, 0, 3]);
      await check((src) => scatterAdd(src, idx, 5), [uniform([5, 2], 902)]);
    });

    it('scatterAdd with 2-D indices', async () => {
      const idx = i32([2, 0, 2, 2], [2, 2]);
      await check((src) => scatterAdd(src, idx, 3), [uniform([2, 2, 3], 903)]);
    });
  });

  describe('gradcheck: weightedGather', () => {
    it('in src and weights, with repeated rows (rows as an i32 input)', async () => {
      await check(
        (src, rows, w) => weightedGather(src as Tensor, rows as Tensor, w as Tensor),
        [uniform([5, 3], 1100), i32([0, 4, 4, 2, 1, 0, 3, 3, 2], [3, 3]), uniform([3, 3], 1101)],
      );
    });

    it('rows out of range (negative and >= R) get and give no gradient', async () => {
      const rows = i32([-1, 2, 4, 0, 3, 7, 1, 1], [4, 2]);
      await check((src, w) => weightedGather(src, rows, w), [uniform([4, 2], 1102), uniform([4, 2], 1103)]);
    });

    it('rank-1 and rank-3 src', async () => {
      const rows = i32([2, 0, 1, 2], [2, 2]);
      await check((src, w) => weightedGather(src, rows, w), [uniform([3], 1104), uniform([2, 2], 1105)]);
      await check(
        (src, w) => weightedGather(src, rows, w),
        [uniform([3, 2, 2], 1106), uniform([2, 2], 1107)],
      );
    });

    it('in src alone and in weights alone', async () => {
      const rows = i32([1, 0, 2, 1], [2, 2]);
      const [src, w] = [uniform([3, 4], 1108), uniform([2, 2], 1109)];
      await check((x) => weightedGather(x, rows, w), [src]);
      await check((x) => weightedGather(src, rows, x), [w]);
    });
  });

  describe('gradcheck: layout', () => {
    it('transpose', async () => {
      await check((x) => transpose(x, [2, 0, 1]), [uniform([2, 3, 4], 1000)]);
      await check((x) => transpose(x), [uniform([3, 2], 1001)]);
    });

    it('slice', async () => {
      await check((x) => slice(x, [1, 2], [2, -1]), [uniform([4, 5], 1002)]);
      await check((x) => slice(x, [-2]), [uniform([4, 2], 1003)]);
    });

    it('pad', async () => {
      await check(
        (x) =>
          pad(x, [
            [1, 0],
            [2, 1],
          ]),
        [uniform([2, 3], 1004)],
      );
    });

    it('concat along axes 0 and 1', async () => {
      await check(
        (a, b, c) => concat([a as Tensor, b as Tensor, c as Tensor], 1),
        [uniform([2, 1], 1005), uniform([2, 3], 1006), uniform([2, 2], 1007)],
      );
      await check(
        (a, b) => concat([a as Tensor, b as Tensor], 0),
        [uniform([1, 3], 1008), uniform([2, 3], 1009)],
      );
    });

    it('concat of a tensor with itself', async () => {
      await check((a) => concat([a, a], 0), [uniform([2, 2], 1010)]);
    });

    it('broadcastTo', async () => {
      await check((x) => broadcastTo(x, [2, 3, 4]), [uniform([3, 1], 1011)]);
      await check((x) => broadcastTo(x, [3, 2]), [uniform([], 1012)]);
    });

    it('reshape', async () => {
      await check((x) => reshape(x, [3, 4]), [uniform([2, 6], 1013)]);
      await check((x) => mul(reshape(x, [-1]), reshape(x, [6]).exp()), [uniform([2, 3], 1014)]);
    });
  });

  describe('gradcheck: cast', () => {
    // Values on a 2^-8 grid in [0.25, 0.75] and steps of 2^-6 are exact in f16; the tolerance is still loose.
    const grid = (shape: number[], seed: number) =>
      tidy(() => div(add(cast(new Generator(seed).randint(shape, 0, 128), 'f32'), 64), 256));
    const loose: GradcheckOptions = { eps: 2 ** -6, rtol: 5e-2, atol: 2e-2 };

    it('f32 to f16', async () => {
      await check((x) => cast(x, 'f16'), [grid([2, 3], 1100)], loose);
      await check((x) => mul(cast(x, 'f16'), 2), [uniform([4], 1101)], loose);
    });

    it('f16 to f32', async () => {
      const x16 = tidy(() => cast(grid([2, 3], 1102), 'f16'));
      await check((x) => cast(x, 'f32'), [x16], loose);
    });

    it('f32 to bf16', async () => {
      await check((x) => cast(x, 'bf16'), [grid([5], 1103)], { eps: 2 ** -5, rtol: 1e-1, atol: 5e-2 });
    });
  });

  describe('gradcheck: composites', () => {
    it('mean over one, several and all axes', async () => {
      await check((x) => mean(x, 1), [uniform([2, 3, 4], 1200)]);
      await check((x) => mean(x, [0, 2], true), [uniform([2, 3, 4], 1201)]);
      await check((x) => mean(x), [uniform([2, 3], 1202)]);
    });

    it('variance', async () => {
      await check((x) => variance(x, -1), [uniform([3, 4], 1203)]);
      await check((x) => variance(x), [uniform([2, 3], 1204)]);
    });

    it('logsumexp', async () => {
      await check((x) => logsumexp(x, -1), [uniform([3, 4], 1205, -2, 2)]);
      await check((x) => logsumexp(x, 0, true), [uniform([3, 4], 1206, -2, 2)]);
    });

    it('layerNorm with weight and bias', async () => {
      await check(
        (x, w, b) => layerNorm(x as Tensor, w, b),
        [uniform([3, 5], 1207, -2, 2), uniform([5], 1208), uniform([5], 1209)],
      );
    });

    it('layerNorm without affine parameters', async () => {
      await check((x) => layerNorm(x), [uniform([2, 4], 1210, -2, 2)]);
    });

    it('rmsNorm with and without weight', async () => {
      await check((x, w) => rmsNorm(x as Tensor, w), [uniform([3, 4], 1211, -2, 2), uniform([4], 1212)]);
      await check((x) => rmsNorm(x), [uniform([2, 5], 1213, -2, 2)]);
    });

    it('takeAlongAxis on the last axis and on axis 0, with repeated indices', async () => {
      const last = i32([0, 0, 3, 2, 1, 2], [3, 2]);
      await check((x) => takeAlongAxis(x, last, -1), [uniform([3, 4], 1214)]);
      const first = i32([2, 0, 1, 2, 2, 2, 0, 0], [2, 4]);
      await check((x) => takeAlongAxis(x, first, 0), [uniform([3, 4], 1215)]);
    });

    it('topk values, largest and smallest, on the last axis and axis 0', async () => {
      const [x] = distinct([[3, 5]], 1216) as [Tensor];
      await check((t) => topk(t, 2).values, [x]);
      await check((t) => topk(t, 3, { largest: false }).values, [x]);
      await check((t) => topk(t, 2, { axis: 0 }).values, [x]);
    });

    it('routerTopK weights: softmax, sigmoid and given scores, with and without normalisation', async () => {
      const [x] = distinct([[3, 6]], 1221) as [Tensor];
      for (const score of ['softmax', 'sigmoid', 'none'] as const) {
        for (const normalize of [false, true]) {
          await check((t) => routerTopK(t, 2, { score, normalize }).weights, [x]);
        }
      }
      await check((t) => routerTopK(t, 6, { normalize: true }).weights, [x]);
    });

    it('routerTopK weights with a selection bias and a group limit', async () => {
      const [x] = distinct([[3, 8]], 1222) as [Tensor];
      const bias = tensor([0.3, -0.2, 0.05, 0.4, -0.35, 0.15, -0.05, 0.25]);
      for (const score of ['softmax', 'sigmoid'] as const) {
        const groupLimit = { groups: 4, topGroups: 2, groupScoreTopN: 2 };
        await check((t) => routerTopK(t, 3, { score, normalize: true, bias, groupLimit }).weights, [x]);
      }
      const perExpert = { groups: 8, topGroups: 3, groupScoreTopN: 1 };
      await check((t) => routerTopK(t, 2, { score: 'sigmoid', bias, groupLimit: perExpert }).weights, [x]);
      bias.dispose();
    });

    it('sort values, ascending and descending, on the last axis and axis 0', async () => {
      const [x] = distinct([[3, 4]], 1217) as [Tensor];
      await check((t) => sort(t).values, [x]);
      await check((t) => sort(t, { descending: true }).values, [x]);
      await check((t) => sort(t, { axis: 0 }).values, [x]);
    });

    it('dropout with the same mask for every evaluation', async () => {
      // A fresh generator per evaluation: every call of f draws the identical mask.
      await check((x) => dropout(x, 0.4, new Generator(1218)), [uniform([4, 5], 1219)]);
      const a = tidy(() => dropout(uniform([4, 5], 1220), 0.4, new Generator(1218)));
      const zeros = Array.from(await a.data()).filter((v) => v === 0).length;
      if (zeros === 0 || zeros >= 20) throw new Error(`dropout zeroed ${zeros} of 20 values`);
      a.dispose();
    });

    it('embedding with repeated ids of rank 2', async () => {
      const ids = i32([4, 1, 1, 0, 4, 4], [2, 3]);
      await check((table) => embedding(table, ids), [uniform([5, 3], 1221)]);
    });

    it('a small MLP: softmax cross-entropy of gelu(x W1 + b1) W2', async () => {
      const labels = i32([0, 2, 1]);
      await check(
        (x, w1, b1, w2) => {
          const h = gelu(add(matmul(x as Tensor, w1 as Tensor), b1 as Tensor));
          const logp = logSoftmax(matmul(h, w2 as Tensor), -1);
          return neg(mean(takeAlongAxis(logp, reshape(labels, [3, 1]), -1)));
        },
        [uniform([3, 4], 1222), uniform([4, 5], 1223), uniform([5], 1224), uniform([5, 3], 1225)],
      );
    });
  });
}

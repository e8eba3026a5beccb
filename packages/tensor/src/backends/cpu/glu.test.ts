// The CPU glu kernels against the unfused kernels they replace: glu(a, b) is mul(unary(a), b) bit for bit
// (the JavaScript loops round fn to f32 first; the WebAssembly swiglu computes the unary silu kernel's silu),
// the cotangent of up is mul(g, unary(gate)) bit for bit, and the cotangent of the gate is close to its
// float64 value (the WebAssembly swigluGrad: the unfused silu VJP's f32 steps, bit for bit). Recycled outputs
// are written in full.
import { afterEach, describe, expect, it } from 'vitest';
import type { AnyHostArray } from '../../dtype.js';
import { philoxFill } from '../../philox.js';
import { GLU_FNS, type GluFn } from '../../primitives.js';
import type { KernelInput } from '../backend.js';
import { binaryKernel, unaryFns, unaryKernel } from './elementwise.js';
import { gluGradKernel, gluKernel } from './glu.js';
import { clearRecycled, recycle } from './host-pool.js';
import { WASM_MIN, wasmVector } from './wasm-vector.js';

type In = KernelInput<AnyHostArray>;

const SPECIALS = [
  Number.NaN,
  -0,
  0,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  1,
  -1,
  2.5,
  88.8,
  -88.8,
  104,
  -104,
  -200,
  1e30,
  -1e30,
  1e-30,
  -1e-42,
];

/** f32 [n]: uniform over [-scale, scale), every fifth element (from `offset`) a special value. */
function input(n: number, seed: number, scale: number, offset = 0): In {
  const data = new Float32Array(n);
  philoxFill(data, 'uniform', seed, 0, 0, -scale, scale);
  for (let i = offset, k = seed; i < n; i += 5, k++) data[i] = SPECIALS[k % SPECIALS.length] as number;
  return { data, shape: [n], dtype: 'f32' };
}

const out = (n: number) => ({ shape: [n], dtype: 'f32' as const });

/** The unfused forward: unary then mul, through their kernels. */
function unfused(fn: GluFn, a: In, b: In): AnyHostArray {
  const act = unaryKernel([a], { fn }, out(a.data.length));
  return binaryKernel([{ ...a, data: act }, b], { fn: 'mul' }, out(a.data.length));
}

/** Bitwise comparison, with NaN equal to NaN and -0 apart from 0. */
function expectSame(got: AnyHostArray, want: AnyHostArray, label: string): void {
  expect(got).toBeInstanceOf(Float32Array);
  expect(Array.from(got), label).toEqual(Array.from(want));
}

/** Distance in units in the last place between two f32 values of the same sign. */
function ulps(x: number, y: number): number {
  const bits = new Int32Array(new Float32Array([x, y]).buffer);
  return Math.abs((bits[0] as number) - (bits[1] as number));
}

// Sizes on either side of WASM_MIN, odd ones (a partial block of vectors), and more than one 16384-float
// chunk of the WebAssembly staging.
const SIZES = [0, 1, 37, WASM_MIN - 1, WASM_MIN, WASM_MIN + 3, 40_003];

describe('gluKernel', () => {
  it('runs WebAssembly SIMD on this engine, so the cases past WASM_MIN take it for silu', () => {
    expect(wasmVector()).not.toBeNull();
  });

  it.each(SIZES)(
    'equals mul(unary(gate), up) bit for bit for every fn, special values included (n = %i)',
    (n) => {
      for (const fn of GLU_FNS) {
        const [a, b] = [input(n, 1, 6), input(n, 2, 3, 2)];
        expectSame(gluKernel([a, b], { fn }, out(n)), unfused(fn, a, b), fn);
        // Large gates too: where silu's exp overflows and underflows.
        const big = input(n, 3, 120);
        expectSame(gluKernel([big, b], { fn }, out(n)), unfused(fn, big, b), `${fn}, large gates`);
      }
    },
  );

  // The unary silu kernel is within 3 ulp of silu; 3 ulp of a factor are up to 6 of the product (when the
  // factor's significand is near 2 and the product's near 1), and the two products round once each.
  it('silu past WASM_MIN is within 7 ulp of the scalar definition, special values exact', () => {
    const n = 40_003;
    const [a, b] = [input(n, 4, 90), input(n, 5, 3, 1)];
    const got = gluKernel([a, b], { fn: 'silu' }, out(n));
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const want = Math.fround(Math.fround(unaryFns.silu(a.data[i] as number)) * (b.data[i] as number));
      const g = got[i] as number;
      if (Number.isNaN(want) || !Number.isFinite(want) || want === 0) expect(g, `element ${i}`).toBe(want);
      else if (Math.abs(want) >= 2 ** -126) worst = Math.max(worst, ulps(g, want));
      else expect(Math.abs(g - want)).toBeLessThan(1e-42);
    }
    expect(worst).toBeLessThanOrEqual(7);
  });
});

describe('gluGradKernel', () => {
  it.each(SIZES)("wrt 'up' equals mul(g, unary(gate)) bit for bit for every fn (n = %i)", (n) => {
    for (const fn of GLU_FNS) {
      const [x, u, g] = [input(n, 6, 6), input(n, 7, 3, 1), input(n, 8, 2, 3)];
      const act = unaryKernel([x], { fn }, out(n));
      const want = binaryKernel([g, { ...x, data: act }], { fn: 'mul' }, out(n));
      expectSame(gluGradKernel([x, u, g], { fn, wrt: 'up' }, out(n)), want, fn);
    }
  });

  /** fn'(x) in float64, and the size of its terms (which bounds the f32 evaluation's error). */
  const REF: { readonly [F in GluFn]: (x: number) => { d: number; scale: number } } = {
    relu: (x) => ({ d: x > 0 ? 1 : 0, scale: 1 }),
    silu: (x) => {
      const s = unaryFns.sigmoid(x);
      return { d: s * (1 + x * (1 - s)), scale: s * (1 + Math.abs(x * (1 - s))) };
    },
    gelu: (x) => {
      const pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
      const cdf = 0.5 * (1 + unaryFns.erf(x * Math.SQRT1_2));
      return { d: cdf + x * pdf, scale: cdf + Math.abs(x * pdf) };
    },
    geluTanh: (x) => {
      const c = Math.sqrt(2 / Math.PI);
      const t = Math.tanh(c * (x + 0.044715 * x * x * x));
      const tail = 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
      return { d: 0.5 * (1 + t) + tail, scale: 0.5 * (1 + t) + Math.abs(tail) };
    },
  };

  it.each(SIZES)("wrt 'gate' is (g · up) · fn'(gate) to a few ulp for every fn (n = %i)", (n) => {
    for (const fn of GLU_FNS) {
      const [x, u, g] = [input(n, 9, 6), input(n, 10, 3, 1), input(n, 11, 2, 3)];
      const got = gluGradKernel([x, u, g], { fn, wrt: 'gate' }, out(n));
      for (let i = 0; i < n; i++) {
        const gu = (g.data[i] as number) * (u.data[i] as number);
        const { d, scale } = REF[fn](x.data[i] as number);
        const want = Math.fround(gu * d);
        const v = got[i] as number;
        if (!Number.isFinite(want) || !Number.isFinite(gu) || !Number.isFinite(x.data[i] as number)) {
          expect(v, `${fn} element ${i}: x ${x.data[i]}, g·u ${gu}`).toBe(want);
        } else {
          // A few ulp of each term, plus a few of the smallest subnormal where sigmoid(x), g · up or the
          // result is subnormal in f32.
          const tiny = 2 ** -149 * (4 + scale + 4 * Math.abs(gu) * (1 + Math.abs(x.data[i] as number)));
          const bound = 8 * 2 ** -24 * Math.abs(gu) * scale + tiny;
          expect(Math.abs(v - want), `${fn} element ${i}: x ${x.data[i]}, g·u ${gu}`).toBeLessThanOrEqual(
            bound,
          );
        }
      }
    }
  });

  it("silu wrt 'gate' past WASM_MIN is the unfused VJP's f32 arithmetic bit for bit", () => {
    // The unfused path: mul's VJP g · up, then silu's VJP times sigmoid(x) · (1 + x · (1 - sigmoid(x))), each
    // step an f32 kernel (sigmoid the WebAssembly one at this size).
    const n = 40_003;
    const [x, u, g] = [input(n, 12, 90), input(n, 13, 3, 1), input(n, 14, 2, 3)];
    const f = (data: AnyHostArray): In => ({ data, shape: [n], dtype: 'f32' });
    const c = (v: number) => f(new Float32Array(n).fill(v));
    const mul = (a: In, b: In) => f(binaryKernel([a, b], { fn: 'mul' }, out(n)));
    const s = f(unaryKernel([x], { fn: 'sigmoid' }, out(n)));
    const oneMinus = f(binaryKernel([c(1), s], { fn: 'sub' }, out(n)));
    const inner = f(binaryKernel([mul(x, oneMinus), c(1)], { fn: 'add' }, out(n)));
    const want = mul(mul(g, u), mul(s, inner));
    expectSame(gluGradKernel([x, u, g], { fn: 'silu', wrt: 'gate' }, out(n)), want.data, 'silu');
  });
});

describe('recycled outputs', () => {
  afterEach(() => clearRecycled());

  // The glu kernels write into recycled arrays without zeroing them (overwrittenF32): with a NaN-filled array
  // of the output's length (1 MiB, so the pool keeps it) first in the pool, every element must be written.
  it.each(['silu', 'gelu'] as const)('%s writes every element of a recycled output', (fn) => {
    const n = 1 << 18;
    const [a, b, g] = [input(n, 15, 6), input(n, 16, 3), input(n, 17, 2)];
    const clean = [gluKernel([a, b], { fn }, out(n)), gluGradKernel([a, b, g], { fn, wrt: 'gate' }, out(n))];
    const poisoned = (kernel: () => AnyHostArray) => {
      clearRecycled();
      recycle(new Float32Array(n).fill(Number.NaN));
      return kernel();
    };
    expectSame(
      poisoned(() => gluKernel([a, b], { fn }, out(n))),
      clean[0] as AnyHostArray,
      fn,
    );
    expectSame(
      poisoned(() => gluGradKernel([a, b, g], { fn, wrt: 'gate' }, out(n))),
      clean[1] as AnyHostArray,
      `${fn} gate cotangent`,
    );
  });
});

// The CPU elementwise kernels' fast paths (same shape, scalar, row and column broadcasts, merged dims) against
// the generic path: each output element computed from the scalar function table through a full broadcast
// index map. Results must match bit for bit, NaN, -0 and int32 wrapping included.
import { describe, expect, it } from 'vitest';
import { type AnyHostArray, type DType, hostArray } from '../../dtype.js';
import { philoxFill } from '../../philox.js';
import type { BinaryFn, CompareFn, UnaryFn } from '../../primitives.js';
import { broadcastIndex, broadcastShapes, type Shape, sizeOf } from '../../shape.js';
import type { KernelInput } from '../backend.js';
import { broadcastPlan } from './broadcast.js';
import {
  binaryFns,
  binaryKernel,
  compareFns,
  compareKernel,
  unaryFns,
  unaryKernel,
  whereKernel,
} from './elementwise.js';
import { broadcastToKernel } from './layout.js';
import { wasmVector } from './wasm-vector.js';

type In = KernelInput<AnyHostArray>;

const SPECIALS = [Number.NaN, -0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1, -1, 2.5];

function input(shape: Shape, dtype: DType, seed: number): In {
  const n = sizeOf(shape);
  const data = hostArray(dtype, n);
  if (dtype === 'f32') {
    philoxFill(data as Float32Array, 'uniform', seed, 0, 0, -3, 3);
    for (let i = 0; i < n; i += 5) data[i] = SPECIALS[(i / 5 + seed) % SPECIALS.length] as number;
  } else if (dtype === 'i32') {
    philoxFill(data as Int32Array, 'uniform', seed, 0, 0, -7, 8);
    // Large values, so that products wrap and quotients truncate.
    for (let i = 0; i < n; i += 4) data[i] = ((i + seed) % 2 ? 1 : -1) * (65_537 + 1_000 * i);
  } else {
    for (let i = 0; i < n; i++) data[i] = (i * 7 + seed) % 3 === 0 ? 1 : 0;
  }
  return { data, shape, dtype };
}

/** The generic path: one broadcast index map per input, one call of `f` per output element. */
function generic(
  inputs: readonly In[],
  shape: Shape,
  dtype: DType,
  f: (...v: number[]) => number,
): AnyHostArray {
  const n = sizeOf(shape);
  const dst = hostArray(dtype, n);
  const maps = inputs.map((t) => broadcastIndex(t.shape, shape));
  for (let i = 0; i < n; i++) {
    dst[i] = f(...inputs.map((t, k) => t.data[(maps[k] as Int32Array | null)?.[i] ?? i] as number));
  }
  return dst;
}

/** Bitwise comparison, with NaN equal to NaN and -0 apart from 0. */
function expectSame(got: AnyHostArray, want: AnyHostArray): void {
  expect(got.constructor).toBe(want.constructor);
  expect(Array.from(got)).toEqual(Array.from(want));
}

// Pairs of operand shapes: each fast path with the broadcast on either side, dims that merge and dims that
// do not, size-1 dims, odd sizes, rank 0 and zero-size dims.
const PAIRS: [Shape, Shape][] = [
  [
    [3, 5, 7],
    [3, 5, 7],
  ],
  [[3, 5, 7], []],
  [[], [3, 5, 7]],
  [[1], [13]],
  [[11, 7], [7]],
  [[7], [11, 7]],
  [
    [11, 7],
    [11, 1],
  ],
  [
    [11, 1],
    [11, 7],
  ],
  [
    [2, 9, 3],
    [9, 1],
  ],
  [
    [5, 1],
    [1, 6],
  ],
  [
    [2, 1, 3, 1],
    [1, 4, 1, 5],
  ],
  [
    [4, 6, 3, 2],
    [6, 1, 2],
  ],
  [
    [2, 1, 6, 6],
    [2, 3, 6, 6],
  ],
  [
    [1, 1, 3],
    [2, 3, 1, 3],
  ],
  [[], []],
  [[0, 3], [3]],
  [
    [3, 0],
    [3, 1],
  ],
  [[4, 1], [0]],
];

const FLOAT_BINARY: BinaryFn[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'mod'];
const INT_BINARY: BinaryFn[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'mod'];
const COMPARE: CompareFn[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

function intForm(fn: BinaryFn): (a: number, b: number) => number {
  const f = binaryFns[fn];
  if (fn === 'mul') return Math.imul;
  if (fn === 'div' || fn === 'pow') return (a, b) => Math.trunc(f(a, b));
  return f;
}

describe('binaryKernel fast paths', () => {
  it.each(PAIRS)('f32 %j with %j matches the generic path for every function', (sa, sb) => {
    const a = input(sa, 'f32', 1);
    const b = input(sb, 'f32', 2);
    const shape = broadcastShapes('test', sa, sb);
    for (const fn of FLOAT_BINARY) {
      const y = binaryKernel([a, b], { fn }, { shape, dtype: 'f32' });
      expectSame(y, generic([a, b], shape, 'f32', binaryFns[fn]));
    }
  });

  it.each(PAIRS)('i32 %j with %j wraps like the generic path', (sa, sb) => {
    const a = input(sa, 'i32', 3);
    const b = input(sb, 'i32', 4);
    const shape = broadcastShapes('test', sa, sb);
    for (const fn of INT_BINARY) {
      const y = binaryKernel([a, b], { fn }, { shape, dtype: 'i32' });
      expectSame(y, generic([a, b], shape, 'i32', intForm(fn)));
    }
  });

  it.each(PAIRS)('bool %j with %j: and, or', (sa, sb) => {
    const a = input(sa, 'bool', 5);
    const b = input(sb, 'bool', 6);
    const shape = broadcastShapes('test', sa, sb);
    for (const fn of ['and', 'or'] as const) {
      const y = binaryKernel([a, b], { fn }, { shape, dtype: 'bool' });
      expectSame(y, generic([a, b], shape, 'bool', binaryFns[fn]));
    }
  });
});

describe('compareKernel fast paths', () => {
  it.each(PAIRS)('f32 and i32 %j with %j match the generic path', (sa, sb) => {
    for (const dtype of ['f32', 'i32'] as const) {
      const a = input(sa, dtype, 7);
      // Equal values at some positions so that eq, le and ge see both answers.
      const b = input(sb, dtype, 7);
      const shape = broadcastShapes('test', sa, sb);
      for (const fn of COMPARE) {
        const y = compareKernel([a, b], { fn }, { shape, dtype: 'bool' });
        expectSame(y, generic([a, b], shape, 'bool', compareFns[fn]));
      }
    }
  });
});

describe('whereKernel fast paths', () => {
  const TRIPLES: [Shape, Shape, Shape][] = [
    [
      [3, 5],
      [3, 5],
      [3, 5],
    ],
    [[3, 5], [3, 5], []],
    [[3, 5], [], [3, 5]],
    [[2, 1, 4, 4], [2, 3, 4, 4], []],
    [[4], [3, 4], [3, 1]],
    [
      [3, 1],
      [1, 4],
      [3, 4],
    ],
    [[], [], []],
    [[0, 2], [2], []],
  ];
  it.each(TRIPLES)('cond %j, a %j, b %j in f32 and i32', (sc, sa, sb) => {
    const c = input(sc, 'bool', 8);
    const shape = broadcastShapes('test', broadcastShapes('test', sc, sa), sb);
    for (const dtype of ['f32', 'i32'] as const) {
      const a = input(sa, dtype, 9);
      const b = input(sb, dtype, 10);
      const y = whereKernel([c, a, b], {}, { shape, dtype });
      expectSame(
        y,
        generic([c, a, b], shape, dtype, (p, x, z) => (p ? x : z)),
      );
    }
  });
});

describe('unaryKernel', () => {
  it('computes every function as its scalar definition, on odd and empty sizes', () => {
    for (const n of [0, 1, 37]) {
      const x = input([n], 'f32', 11);
      for (const fn of Object.keys(unaryFns) as UnaryFn[]) {
        const y = unaryKernel([x], { fn }, { shape: [n], dtype: 'f32' });
        expectSame(y, generic([x], [n], 'f32', unaryFns[fn]));
      }
      const b = input([n], 'bool', 12);
      expectSame(
        unaryKernel([b], { fn: 'not' }, { shape: [n], dtype: 'bool' }),
        generic([b], [n], 'bool', unaryFns.not),
      );
    }
  });
});

// Sizes from 1024 elements (and rows of at least four) take the WebAssembly SIMD kernels (wasm-vector.ts):
// the arithmetic ops stay bit for bit equal to the scalar definitions (f32 +, -, *, / are correctly rounded
// either way, maximum and minimum select the same operand); exp, silu and sigmoid use a polynomial exp and
// log and entr a polynomial log, within a few ulp.
describe('WebAssembly SIMD paths', () => {
  it('compile on this engine (Node 20 has SIMD128), so the cases below take them', () => {
    expect(wasmVector()).not.toBeNull();
  });

  const WASM_PAIRS: [Shape, Shape][] = [
    [
      [40, 64],
      [40, 64],
    ],
    [
      [40, 64],
      [40, 1],
    ],
    [
      [40, 1],
      [40, 64],
    ],
    [[40, 64], [64]],
    [
      [100, 45],
      [100, 1],
    ],
    [
      [5, 40, 9],
      [5, 1, 9],
    ],
    [[3, 20_001], []],
    [
      [2, 20_001],
      [2, 1],
    ],
    [
      [2, 20_001],
      [2, 20_001],
    ],
  ];

  it.each(WASM_PAIRS)(
    'add, sub, mul, div, maximum and minimum of %j and %j match the scalar definitions bit for bit',
    (sa, sb) => {
      const a = input(sa, 'f32', 21);
      const b = input(sb, 'f32', 22);
      const shape = broadcastShapes('test', sa, sb);
      for (const fn of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const) {
        const y = binaryKernel([a, b], { fn }, { shape, dtype: 'f32' });
        expectSame(y, generic([a, b], shape, 'f32', binaryFns[fn]));
      }
    },
  );

  // Every ordered pair of these in every mode, compared by bits: the scalar definitions return b on ties (so
  // maximum(0, -0) is -0, where f32x4.max gives +0) and the NaN operand itself, quieted by the f64 round trip
  // (where f32x4.max/min may give a canonical NaN).
  const EDGE_BITS = [
    0x7fc00000, // NaN
    0xffc00000,
    0x7fc12345, // NaN payloads
    0xffe00001,
    0x7f800001, // signalling NaNs
    0xff800123,
    0x80000000, // -0
    0x00000000,
    0x7f800000, // ±Infinity
    0xff800000,
    0x3f800000, // ±1
    0xbf800000,
    0x00000001, // ± the smallest subnormal
    0x80000001,
    0x7f7fffff, // ± the largest float
    0xff7fffff,
    0x40200000, // 2.5
  ];

  it.each([
    ['vv', [2048], [2048]],
    ['vs', [128, 17], [128, 1]],
    ['sv', [128, 1], [128, 17]],
  ] as [string, Shape, Shape][])(
    'maximum and minimum (%s) give the bits of the scalar definitions for NaN, ±0, ±Infinity pairs',
    (mode, sa, sb) => {
      const n = EDGE_BITS.length;
      const [a, b] = [input(sa, 'f32', 24), input(sb, 'f32', 25)];
      const bits = (t: AnyHostArray) => new Uint32Array(t.buffer, t.byteOffset, t.length);
      // Written as bits (a float store would quiet the signalling NaNs). vv: a cycles fastest, b once per n;
      // vs and sv: the vector side's rows are all the values, the scalar side cycles by row.
      const [va, vb] = [bits(a.data), bits(b.data)];
      for (let i = 0; i < va.length; i++) va[i] = EDGE_BITS[i % n] as number;
      for (let i = 0; i < vb.length; i++)
        vb[i] = EDGE_BITS[mode === 'vv' ? Math.floor(i / n) % n : i % n] as number;
      const shape = broadcastShapes('test', sa, sb);
      for (const fn of ['maximum', 'minimum'] as const) {
        const y = binaryKernel([a, b], { fn }, { shape, dtype: 'f32' });
        const want = generic([a, b], shape, 'f32', binaryFns[fn]);
        expect(Array.from(bits(y)), fn).toEqual(Array.from(bits(want)));
      }
    },
  );

  /** Distance in units in the last place between two f32 values of the same sign. */
  function ulps(x: number, y: number): number {
    const bits = new Int32Array(new Float32Array([x, y]).buffer);
    return Math.abs((bits[0] as number) - (bits[1] as number));
  }

  it.each([
    ['exp', 1],
    ['log', 1],
    ['entr', 2],
    ['silu', 3],
    ['sigmoid', 2],
  ] as const)('%s is within %i ulp of the scalar definition, specials exact', (fn, tolerance) => {
    const n = 40_003;
    const x = input([n], 'f32', 23);
    const data = x.data as Float32Array;
    // The whole range where the result is a normal float, then the edges and past them.
    for (let i = 1; i < n; i += 5) data[i] = ((data[i] as number) / 3) * 86;
    data.set([88.72, 88.73, -87.3, -103, -104, -120, 1e-30, -1e-30, 0.5, -0.5], 2);
    const got = unaryKernel([x], { fn }, { shape: [n], dtype: 'f32' });
    const want = generic([x], [n], 'f32', unaryFns[fn]);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const [g, w] = [got[i] as number, want[i] as number];
      if (Number.isNaN(w) || !Number.isFinite(w) || w === 0) expect(g).toBe(w);
      else if (Math.abs(w) >= 1.1754943508222875e-38) worst = Math.max(worst, ulps(g, w));
      else expect(Math.abs(g - w)).toBeLessThan(1e-42); // subnormal results: absolute error
    }
    expect(worst).toBeLessThanOrEqual(tolerance);
  });

  /** log of `values` through the kernel, padded with `pad` to the size that takes the WebAssembly path. */
  function kernelLog(values: ArrayLike<number>, pad: number): Float32Array {
    const data = new Float32Array(Math.max(values.length, 1024)).fill(pad);
    data.set(values);
    const shape = [data.length];
    return unaryKernel(
      [{ data, shape, dtype: 'f32' }],
      { fn: 'log' },
      { shape, dtype: 'f32' },
    ) as Float32Array;
  }

  // An exhaustive sweep of every positive float (bits 1 ... 0x7f7fffff) finds the log 1 ulp from the
  // correctly rounded result at most, for 0.64% of them (0.83 ulp from the exact log at worst).
  it('log is within 1 ulp of the correctly rounded log for positive floats, log(1) = 0', () => {
    const random = new Int32Array(1 << 20);
    philoxFill(random, 'int', 26, 0, 0, 1, 0x7f800000); // positive normal and subnormal bit patterns
    const nearOne: number[] = [1];
    for (let k = 1; k <= 4096; k++) nearOne.push(1 + k * 2 ** -23, 1 - k * 2 ** -24);
    const groups = {
      random: new Float32Array(random.buffer),
      nearOne,
      powers: Array.from({ length: 277 }, (_, k) => 2 ** (k - 149)),
    };
    for (const [name, values] of Object.entries(groups)) {
      const got = kernelLog(values, 1);
      let worst = 0;
      for (let i = 0; i < values.length; i++) {
        const want = Math.fround(Math.log(values[i] as number));
        if (want === 0) expect(Object.is(got[i], 0), `log(${values[i]}) is +0`).toBe(true);
        else worst = Math.max(worst, ulps(got[i] as number, want));
      }
      expect(worst, name).toBeLessThanOrEqual(1);
    }
  });

  it('log of ±0, negatives, NaN and ±Infinity is what Math.log gives, in blocks with ordinary values', () => {
    const specials = [0, -0, -1, -1.401298464324817e-45, -3.4028234663852886e38, Number.NEGATIVE_INFINITY];
    specials.push(Number.NaN, Number.POSITIVE_INFINITY, 3.4028234663852886e38, 1.401298464324817e-45, 1);
    // Spread out so that some blocks hold one special among ordinary values; 2 has an exact f32 log.
    const values = new Float32Array(4096).fill(2);
    specials.forEach((x, i) => {
      values[i] = x;
      values[100 + 37 * i] = x;
    });
    const got = kernelLog(values, 2);
    expect(Array.from(got)).toEqual(Array.from(values, (x) => Math.fround(Math.log(x))));
  });
});

describe('broadcastToKernel', () => {
  it.each([
    [[7], [4, 7]],
    [
      [4, 1],
      [4, 7],
    ],
    [[], [3, 2]],
    [
      [2, 1, 3],
      [5, 2, 4, 3],
    ],
    [[3], [0, 3]],
    [
      [1, 5],
      [1, 5],
    ],
  ] as [Shape, Shape][])('%j to %j matches the generic path in f32, i32 and bool', (from, to) => {
    for (const dtype of ['f32', 'i32', 'bool'] as const) {
      const x = input(from, dtype, 13);
      expectSame(
        broadcastToKernel([x], {}, { shape: to, dtype }),
        generic([x], to, dtype, (v) => v),
      );
    }
  });
});

describe('broadcastPlan', () => {
  it('merges same-shape and scalar operands into one row', () => {
    expect(
      broadcastPlan(
        [
          [3, 5, 7],
          [3, 5, 7],
        ],
        [3, 5, 7],
      ),
    ).toMatchObject({ dims: [105], rows: 1 });
    expect(broadcastPlan([[3, 5, 7], []], [3, 5, 7])).toMatchObject({ dims: [105], strides: [[1], [0]] });
  });

  it('turns suffix and column broadcasts into rows', () => {
    expect(broadcastPlan([[8, 64, 64], [64]], [8, 64, 64])).toMatchObject({
      dims: [512, 64],
      strides: [
        [64, 1],
        [0, 1],
      ],
    });
    expect(
      broadcastPlan(
        [
          [8, 64, 64],
          [8, 64, 1],
        ],
        [8, 64, 64],
      ),
    ).toMatchObject({
      dims: [512, 64],
      strides: [
        [64, 1],
        [1, 0],
      ],
    });
  });

  it('drops size-1 dims and gives a scalar output one row of one', () => {
    expect(broadcastPlan([[1, 3, 1], [1]], [1, 3, 1])).toMatchObject({ dims: [3], strides: [[1], [0]] });
    expect(broadcastPlan([[], [1, 1]], [1, 1])).toMatchObject({ dims: [1], rows: 1, row: 1 });
  });
});

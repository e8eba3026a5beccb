// unary, binary, compare and where: every function, i32 and bool paths, broadcasting and edge shapes.

import {
  abs,
  add,
  cos,
  type DType,
  div,
  entr,
  equal,
  erf,
  exp,
  floor,
  gelu,
  geluTanh,
  greater,
  greaterEqual,
  less,
  lessEqual,
  log,
  logicalAnd,
  logicalNot,
  logicalOr,
  maximum,
  minimum,
  mod,
  mul,
  neg,
  notEqual,
  pow,
  relu,
  rsqrt,
  sigmoid,
  sign,
  silu,
  sin,
  softplus,
  sqrt,
  sub,
  type Tensor,
  type TensorLike,
  tanh,
  where,
} from '../../index.js';
import type { BinaryFn, CompareFn, UnaryFn } from '../../primitives.js';
import type { Tolerance } from '../allclose.js';
import {
  BINARY_I32_REF,
  BINARY_REF,
  COMPARE_REF,
  castRef,
  elementwise,
  UNARY_REF,
  wrapI32,
} from '../reference.js';
import {
  bf16Tol,
  type Case,
  check,
  EXACT,
  f16Tol,
  type Input,
  lit,
  type Own,
  randint,
  scoped,
  uniform,
} from './helpers.js';

const UNARY_OPS: { readonly [F in UnaryFn]: (x: Tensor) => Tensor } = {
  neg,
  exp,
  log,
  sqrt,
  rsqrt,
  tanh,
  abs,
  sign,
  relu,
  sigmoid,
  softplus,
  entr,
  gelu,
  geluTanh,
  silu,
  erf,
  sin,
  cos,
  floor,
  not: logicalNot,
};

const BINARY_OPS: { readonly [F in BinaryFn]: (a: TensorLike, b: TensorLike) => Tensor } = {
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  mod,
  and: logicalAnd,
  or: logicalOr,
};

const COMPARE_OPS: { readonly [F in CompareFn]: (a: TensorLike, b: TensorLike) => Tensor } = {
  eq: equal,
  ne: notEqual,
  lt: less,
  le: lessEqual,
  gt: greater,
  ge: greaterEqual,
};

/** Functions whose domain is the positive reals. */
const POSITIVE_ONLY: ReadonlySet<UnaryFn> = new Set(['log', 'sqrt', 'rsqrt', 'entr']);
const GENERAL = [-3.5, -1.5, -0.5, 0, 0.25, 1, 2.5, 4];
const POSITIVE = [0.01, 0.1, 0.5, 1, 2, 3.5, 10, 100];

/** Rounds a float64 result to what an output of `dtype` holds. */
const into = (dtype: DType) => (v: number) => (dtype === 'i32' ? wrapI32(v) : castRef(v, dtype));

function outTol(dtype: DType, tol: Tolerance): Tolerance {
  if (dtype === 'f16') return f16Tol(tol);
  if (dtype === 'bf16') return bf16Tol(tol);
  return dtype === 'f32' ? tol : EXACT;
}

/** A unary case: `make` builds the input, the result must have `dtype` and match the reference. */
function unaryCase(fn: UnaryFn, name: string, dtype: DType, make: (own: Own) => Promise<Input>): Case {
  return [
    'unary',
    `${fn} ${name}`,
    scoped(async (own, tol) => {
      const x = await make(own);
      const y = own(() => UNARY_OPS[fn](x.t));
      await check(fn, y, dtype, x.shape, x.v.map(UNARY_REF[fn]).map(into(dtype)), outTol(dtype, tol));
    }),
  ];
}

const unaryCases: Case[] = [
  ...(Object.keys(UNARY_OPS) as UnaryFn[])
    .filter((fn) => fn !== 'not')
    .flatMap((fn): Case[] => {
      const positive = POSITIVE_ONLY.has(fn);
      return [
        unaryCase(fn, 'f32 literal [2, 4]', 'f32', (own) => lit(own, positive ? POSITIVE : GENERAL, [2, 4])),
        unaryCase(fn, 'f32 random [3, 5]', 'f32', (own) =>
          positive ? uniform(own, 11, [3, 5], 0.05, 8) : uniform(own, 12, [3, 5], -4, 4),
        ),
      ];
    }),
  unaryCase('not', 'bool [2, 3]', 'bool', (own) => lit(own, [true, false, false, true, true, false], [2, 3])),
  unaryCase('not', 'bool size-0 [0, 3]', 'bool', (own) => lit(own, [], [0, 3], 'bool')),
  unaryCase('not', 'bool rank-0', 'bool', (own) => lit(own, true)),
  unaryCase('exp', 'size-0 [0, 3]', 'f32', (own) => lit(own, [], [0, 3])),
  unaryCase('sqrt', 'size-0 [2, 0]', 'f32', (own) => lit(own, [], [2, 0])),
  unaryCase('tanh', 'rank-0', 'f32', (own) => lit(own, 0.75)),
  unaryCase('sigmoid', 'size-1 [1, 1, 1]', 'f32', (own) => lit(own, [-2], [1, 1, 1])),
  unaryCase('sigmoid', 'large magnitudes', 'f32', (own) => lit(own, [-80, -20, 20, 80], [4])),
  unaryCase('softplus', 'large magnitudes', 'f32', (own) => lit(own, [-80, -20, 20, 80], [4])),
  unaryCase('entr', '0, -0, negatives, +Infinity and tiny values', 'f32', (own) =>
    lit(own, [0, -0, -2, -1e-30, Number.POSITIVE_INFINITY, 1e-30, 1, 0.5], [8]),
  ),
  unaryCase('erf', 'tails', 'f32', (own) => lit(own, [-6, -3.2, -2.9, 2.9, 3.2, 6], [6])),
  unaryCase('floor', 'negative halves', 'f32', (own) => lit(own, [-2.5, -2, -0.5, 0.5, 1.999, 2], [6])),
  unaryCase('sign', 'zero', 'f32', (own) => lit(own, [-0.001, 0, 0.001], [3])),
  unaryCase('neg', 'i32 with the wrapping minimum', 'i32', (own) =>
    lit(own, [-2147483648, -5, 0, 7, 2147483647], [5], 'i32'),
  ),
  unaryCase('abs', 'i32', 'i32', (own) => lit(own, [-9, -1, 0, 1, 9, -2147483647], [2, 3], 'i32')),
  unaryCase('sign', 'i32', 'i32', (own) => lit(own, [-9, 0, 4], [3], 'i32')),
  unaryCase('relu', 'i32', 'i32', (own) => lit(own, [-9, 0, 4, -1], [2, 2], 'i32')),
  unaryCase('abs', 'bool input computes in i32', 'i32', (own) => lit(own, [true, false, true], [3])),
  unaryCase('floor', 'i32 input computes in f32', 'f32', (own) => lit(own, [-3, 0, 5], [3], 'i32')),
  unaryCase('exp', 'f16 stores rounded', 'f16', (own) => lit(own, [-2, -0.5, 0, 0.3, 1, 2.7], [2, 3], 'f16')),
  unaryCase('tanh', 'bf16 stores rounded', 'bf16', (own) =>
    lit(own, [-2, -0.5, 0, 0.3, 1, 2.7], [2, 3], 'bf16'),
  ),
];

/**
 * A binary case: the reference is `BINARY_REF` (or the wrapping i32 version), broadcast over the inputs,
 * rounded into the result dtype.
 */
function binaryCase(
  fn: BinaryFn,
  name: string,
  dtype: DType,
  make: (own: Own) => Promise<[Input, Input]>,
  operands?: (a: Input, b: Input) => [TensorLike, TensorLike],
): Case {
  return [
    'binary',
    `${fn} ${name}`,
    scoped(async (own, tol) => {
      const [a, b] = await make(own);
      const [x, y] = operands ? operands(a, b) : [a.t, b.t];
      const z = own(() => BINARY_OPS[fn](x, y));
      const f =
        dtype === 'i32' && fn in BINARY_I32_REF
          ? BINARY_I32_REF[fn as keyof typeof BINARY_I32_REF]
          : BINARY_REF[fn];
      const ref = elementwise(
        [a, b].map((t) => ({ values: t.v, shape: t.shape })),
        f,
      );
      await check(fn, z, dtype, ref.shape, ref.values.map(into(dtype)), outTol(dtype, tol));
    }),
  ];
}

const both =
  (ma: (own: Own) => Promise<Input>, mb: (own: Own) => Promise<Input>) =>
  async (own: Own): Promise<[Input, Input]> => [await ma(own), await mb(own)];

/** A number operand: the input's single value as a plain JS number (a weak scalar). */
const asNumber = (t: Input): number => t.v[0] as number;

const ARITH: BinaryFn[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'mod'];

function arithInputs(fn: BinaryFn, seed: number, aShape: number[], bShape: number[]) {
  if (fn === 'pow')
    return both(
      (o) => uniform(o, seed, aShape, 0.1, 3),
      (o) => uniform(o, seed + 1, bShape, -2, 2),
    );
  if (fn === 'div' || fn === 'mod') {
    return both(
      (o) => uniform(o, seed, aShape, -3, 3),
      (o) => uniform(o, seed + 1, bShape, 0.5, 3),
    );
  }
  return both(
    (o) => uniform(o, seed, aShape, -3, 3),
    (o) => uniform(o, seed + 1, bShape, -3, 3),
  );
}

const binaryCases: Case[] = [
  ...ARITH.flatMap((fn, i): Case[] => [
    binaryCase(fn, 'f32 [3, 4] with [3, 4]', 'f32', arithInputs(fn, 100 + 2 * i, [3, 4], [3, 4])),
    binaryCase(fn, 'f32 broadcast [2, 1] with [3]', 'f32', arithInputs(fn, 200 + 2 * i, [2, 1], [3])),
  ]),
  binaryCase('add', 'broadcast [2, 1, 3] with [4, 1]', 'f32', arithInputs('add', 300, [2, 1, 3], [4, 1])),
  binaryCase('mul', 'broadcast [1, 3] with [2, 1]', 'f32', arithInputs('mul', 302, [1, 3], [2, 1])),
  binaryCase('sub', 'rank-0 tensor with [2, 3]', 'f32', arithInputs('sub', 304, [], [2, 3])),
  binaryCase('maximum', 'rank-0 with rank-0', 'f32', arithInputs('maximum', 306, [], [])),
  binaryCase('add', 'size-0 [0, 3] with [3]', 'f32', arithInputs('add', 308, [0, 3], [3])),
  binaryCase('mul', 'size-0 broadcast [1, 3] with [0, 1]', 'f32', arithInputs('mul', 310, [1, 3], [0, 1])),
  binaryCase('add', 'size-1 [1] with [1, 1]', 'f32', arithInputs('add', 312, [1], [1, 1])),
  binaryCase(
    'div',
    'by a number operand',
    'f32',
    both(
      (o) => uniform(o, 314, [2, 3]),
      (o) => lit(o, 4),
    ),
    (a, b) => [a.t, asNumber(b)],
  ),
  binaryCase(
    'sub',
    'number minus tensor',
    'f32',
    both(
      (o) => lit(o, 1),
      (o) => uniform(o, 316, [2, 3]),
    ),
    (a, b) => [asNumber(a), b.t],
  ),
  binaryCase(
    'pow',
    'by the number 2',
    'f32',
    both(
      (o) => uniform(o, 318, [5], -3, 3),
      (o) => lit(o, 2),
    ),
    (a, b) => [a.t, asNumber(b)],
  ),
  binaryCase('pow', 'negative bases with integer exponents', 'f32', (own) =>
    Promise.all([lit(own, [-2, -2, -1.5, -3, 0, 2], [6]), lit(own, [3, 2, 2, 0, 2, -1], [6])]),
  ),
  binaryCase('maximum', 'ties', 'f32', (own) =>
    Promise.all([lit(own, [1, 2, -3, 0], [4]), lit(own, [1, 3, -3, -0.5], [4])]),
  ),
  binaryCase('minimum', 'ties', 'f32', (own) =>
    Promise.all([lit(own, [1, 2, -3, 0], [4]), lit(own, [1, 3, -3, -0.5], [4])]),
  ),
  binaryCase('mod', 'f32 floored with negative operands', 'f32', (own) =>
    Promise.all([
      lit(own, [-7, 7, -7, 7, -5.5, 5.5, 0, -0.5, -6], [9]),
      lit(own, [3, -3, -3, 3, 2, -2, 3, 2, 3], [9]),
    ]),
  ),
  binaryCase('mod', 'i32 floored with negative operands', 'i32', (own) =>
    Promise.all([
      lit(own, [-7, 7, -7, 7, -6, 0, 2147483647, -2147483648, 1], [9], 'i32'),
      lit(own, [3, -3, -3, 3, 3, 5, 10, 10, -1], [9], 'i32'),
    ]),
  ),
  binaryCase('add', 'i32 wraps on overflow', 'i32', (own) =>
    Promise.all([
      lit(own, [2147483647, -2147483648, 5, -5], [4], 'i32'),
      lit(own, [1, -1, -7, 12], [4], 'i32'),
    ]),
  ),
  binaryCase('sub', 'i32 broadcast [2, 1] with [3]', 'i32', (own) =>
    Promise.all([randint(own, 320, [2, 1], -50, 50), randint(own, 321, [3], -50, 50)]),
  ),
  binaryCase('mul', 'i32 wraps on overflow', 'i32', (own) =>
    Promise.all([
      // The last two products exceed 2^53, so a float multiply would lose their low bits before wrapping.
      lit(own, [65536, 2147483647, -7, 46341, 3, 2147483647, 123456789], [7], 'i32'),
      lit(own, [65536, 2, 6, 46341, -4, 2147483647, -987654321], [7], 'i32'),
    ]),
  ),
  binaryCase('maximum', 'i32', 'i32', (own) =>
    Promise.all([randint(own, 322, [3, 4], -9, 9), randint(own, 323, [3, 4], -9, 9)]),
  ),
  binaryCase('minimum', 'i32 broadcast [4] with [3, 1]', 'i32', (own) =>
    Promise.all([randint(own, 324, [4], -9, 9), randint(own, 325, [3, 1], -9, 9)]),
  ),
  binaryCase(
    'add',
    'i32 with a number operand stays i32',
    'i32',
    both(
      (o) => randint(o, 326, [5], -9, 9),
      (o) => lit(o, 3),
    ),
    (a, b) => [a.t, asNumber(b)],
  ),
  binaryCase('div', 'i32 by i32 is true division in f32', 'f32', (own) =>
    Promise.all([lit(own, [7, -7, 1, 0], [4], 'i32'), lit(own, [2, 2, 3, 5], [4], 'i32')]),
  ),
  binaryCase('pow', 'i32 computes in f32', 'f32', (own) =>
    Promise.all([lit(own, [2, 3, 4], [3], 'i32'), lit(own, [3, 2, 0], [3], 'i32')]),
  ),
  binaryCase('add', 'i32 with f32 promotes to f32', 'f32', (own) =>
    Promise.all([lit(own, [1, -2, 3], [3], 'i32'), lit(own, [0.5, 0.25, -0.125], [3])]),
  ),
  binaryCase('add', 'bool with bool counts in i32', 'i32', (own) =>
    Promise.all([lit(own, [true, true, false], [3]), lit(own, [true, false, false], [3])]),
  ),
  binaryCase('add', 'f16 with f16 stores rounded f16', 'f16', (own) =>
    Promise.all([lit(own, [0.1, 1000, -3.3, 2049], [4], 'f16'), lit(own, [0.2, 0.3, 1.1, 1], [4], 'f16')]),
  ),
  binaryCase('mul', 'bf16 with bf16 stores rounded bf16', 'bf16', (own) =>
    Promise.all([lit(own, [0.1, 1000, -3.3, 7], [4], 'bf16'), lit(own, [0.2, 0.3, 1.1, 1.01], [4], 'bf16')]),
  ),
  binaryCase('add', 'f16 with bf16 promotes to f32', 'f32', (own) =>
    Promise.all([lit(own, [0.1, 3], [2], 'f16'), lit(own, [0.2, 0.3], [2], 'bf16')]),
  ),
  binaryCase('and', 'bool broadcast [2, 3] with [3]', 'bool', (own) =>
    Promise.all([
      lit(own, [true, true, false, false, true, false], [2, 3]),
      lit(own, [true, false, true], [3]),
    ]),
  ),
  binaryCase('or', 'bool broadcast [2, 1] with [1, 2]', 'bool', (own) =>
    Promise.all([lit(own, [true, false], [2, 1]), lit(own, [false, true], [1, 2])]),
  ),
  binaryCase('and', 'bool rank-0 with [4]', 'bool', (own) =>
    Promise.all([lit(own, true), lit(own, [true, false, true, false], [4])]),
  ),
  binaryCase('or', 'bool size-0', 'bool', (own) =>
    Promise.all([lit(own, [], [0], 'bool'), lit(own, [true], [1])]),
  ),
];

/** A comparison case: bool results from `COMPARE_REF` over broadcast inputs. */
function compareCase(fn: CompareFn, name: string, make: (own: Own) => Promise<[Input, Input]>): Case {
  return [
    'compare',
    `${fn} ${name}`,
    scoped(async (own) => {
      const [a, b] = await make(own);
      const z = own(() => COMPARE_OPS[fn](a.t, b.t));
      const ref = elementwise(
        [a, b].map((t) => ({ values: t.v, shape: t.shape })),
        COMPARE_REF[fn],
      );
      await check(fn, z, 'bool', ref.shape, ref.values, EXACT);
    }),
  ];
}

const COMPARES: CompareFn[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

const compareCases: Case[] = [
  ...COMPARES.flatMap((fn): Case[] => [
    compareCase(fn, 'f32 broadcast [2, 3] with [3], with ties', (own) =>
      Promise.all([lit(own, [1, 2, 3, 3, 2.5, -1], [2, 3]), lit(own, [1, 2.5, 3], [3])]),
    ),
    compareCase(fn, 'i32 broadcast [3, 1] with [4], with ties', (own) =>
      Promise.all([lit(own, [-1, 0, 2], [3, 1], 'i32'), lit(own, [-1, 0, 1, 2], [4], 'i32')]),
    ),
  ]),
  compareCase('eq', 'f32 with i32 promotes', (own) =>
    Promise.all([lit(own, [2, 2.5, -3, 0], [4]), lit(own, [2, 2, -3, 1], [4], 'i32')]),
  ),
  compareCase('eq', 'bool with bool', (own) =>
    Promise.all([lit(own, [true, false, true, false], [4]), lit(own, [true, true, false, false], [4])]),
  ),
  compareCase('lt', 'rank-0 with rank-0', (own) => Promise.all([lit(own, 1.5), lit(own, 2)])),
  compareCase('ge', 'size-0 [0, 3] with [1, 3]', (own) =>
    Promise.all([lit(own, [], [0, 3]), lit(own, [1, 2, 3], [1, 3])]),
  ),
  compareCase('gt', 'f16 values', (own) =>
    Promise.all([lit(own, [0.1, 0.2, 1000.3], [3], 'f16'), lit(own, [0.1, 0.1, 1000], [3], 'f16')]),
  ),
];

/** A where case: `cond ? a : b` with all three broadcast; `dtype` is the result's. */
function whereCase(
  name: string,
  dtype: DType,
  make: (own: Own) => Promise<[Input, Input, Input]>,
  operands?: (c: Input, a: Input, b: Input) => [TensorLike, TensorLike],
): Case {
  return [
    'where',
    name,
    scoped(async (own, tol) => {
      const [c, a, b] = await make(own);
      const [x, y] = operands ? operands(c, a, b) : [a.t, b.t];
      const z = own(() => where(c.t, x, y));
      const ref = elementwise(
        [c, a, b].map((t) => ({ values: t.v, shape: t.shape })),
        (cv, av, bv) => (cv !== 0 ? av : bv),
      );
      await check('where', z, dtype, ref.shape, ref.values.map(into(dtype)), outTol(dtype, tol));
    }),
  ];
}

const boolMask = (own: Own, seed: number, shape: number[]): Promise<Input> =>
  uniform(own, seed, shape, 0, 1).then((u) =>
    lit(
      own,
      u.v.map((v) => v < 0.5),
      shape,
      'bool',
    ),
  );

const whereCases: Case[] = [
  whereCase('f32 same shape [3, 4]', 'f32', (own) =>
    Promise.all([boolMask(own, 400, [3, 4]), uniform(own, 401, [3, 4]), uniform(own, 402, [3, 4])]),
  ),
  whereCase('broadcast cond [2, 1], a [3], b rank-0', 'f32', (own) =>
    Promise.all([lit(own, [true, false], [2, 1]), uniform(own, 403, [3]), lit(own, -7)]),
  ),
  whereCase('broadcast cond [2, 1, 1] with a [3, 4] and b [4]', 'f32', (own) =>
    Promise.all([lit(own, [false, true], [2, 1, 1]), uniform(own, 404, [3, 4]), uniform(own, 405, [4])]),
  ),
  whereCase(
    'number operands',
    'f32',
    (own) => Promise.all([lit(own, [true, false, false, true], [2, 2]), lit(own, 1.5), lit(own, -2)]),
    (_c, a, b) => [asNumber(a), asNumber(b)],
  ),
  whereCase('i32 values', 'i32', (own) =>
    Promise.all([
      boolMask(own, 406, [5]),
      randint(own, 407, [5], -100, 100),
      randint(own, 408, [5], -100, 100),
    ]),
  ),
  whereCase('bool values', 'bool', (own) =>
    Promise.all([
      lit(own, [true, false, true], [3]),
      lit(own, [false, false, true], [3]),
      lit(own, [true, true, false], [3]),
    ]),
  ),
  whereCase('i32 with f32 promotes to f32', 'f32', (own) =>
    Promise.all([lit(own, [true, false], [2]), lit(own, [3, 4], [2], 'i32'), lit(own, [0.5, 0.25], [2])]),
  ),
  whereCase('size-0 cond [0, 2]', 'f32', (own) =>
    Promise.all([lit(own, [], [0, 2], 'bool'), uniform(own, 409, [2]), uniform(own, 410, [1, 2])]),
  ),
  whereCase('rank-0 everywhere', 'f32', (own) => Promise.all([lit(own, false), lit(own, 3), lit(own, 4)])),
  whereCase('f16 values', 'f16', (own) =>
    Promise.all([
      lit(own, [true, false], [2]),
      lit(own, [0.1, 0.2], [2], 'f16'),
      lit(own, [0.3, 0.4], [2], 'f16'),
    ]),
  ),
];

export const ELEMENTWISE_CASES: Case[] = [...unaryCases, ...binaryCases, ...compareCases, ...whereCases];

import type { DType } from '../../../dtype.js';
import type { BinaryFn, CompareFn, UnaryFn } from '../../../primitives.js';
import { sizeOf } from '../../../shape.js';
import type { KernelTable } from '../../backend.js';
import { launch } from '../launch.js';
import type { GpuRuntime } from '../runtime.js';
import {
  broadcastStrides,
  checkRank,
  Meta,
  main1d,
  memo,
  PRELUDE,
  storage,
  type WgslType,
  wgslType,
} from '../wgsl.js';

/** Float helpers with the CPU backend's semantics (stable sigmoid/softplus/tanh, erf to 1.2e-7). */
export const FLOAT_FNS = /* wgsl */ `
fn erf_(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}
fn sigmoid_(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}
fn tanh_(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn softplus_(x: f32) -> f32 { return max(x, 0.0) + log(1.0 + exp(-abs(x))); }
fn nan_() -> f32 { return f32bits(0x7fc00000u); }
fn entr_(x: f32) -> f32 {
  if (x > 0.0) { return -x * log(x); }
  if (x == 0.0) { return 0.0; }
  if (x < 0.0) { return f32bits(0xff800000u); }
  return x;
}
fn pow_(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a < 0.0) {
    if (fract(b) != 0.0) { return nan_(); }
    let r = exp2(b * log2(-a));
    return select(r, -r, abs(b) % 2.0 == 1.0);
  }
  if (a == 0.0) { return select(0.0, f32bits(0x7f800000u), b < 0.0); }
  return exp2(b * log2(a));
}
`;

/** The WGSL expression of each float unary function of `x` (also the activations of the glu kernels). */
export const FLOAT_UNARY: Record<Exclude<UnaryFn, 'not'>, string> = {
  neg: '-x',
  exp: 'exp(x)',
  log: 'log(x)',
  sqrt: 'sqrt(x)',
  rsqrt: 'inverseSqrt(x)',
  tanh: 'tanh_(x)',
  abs: 'abs(x)',
  sign: 'sign(x)',
  relu: 'select(0.0, x, x > 0.0)',
  sigmoid: 'sigmoid_(x)',
  softplus: 'softplus_(x)',
  entr: 'entr_(x)',
  gelu: '0.5 * x * (1.0 + erf_(x * 0.70710678118654752))',
  geluTanh: '0.5 * x * (1.0 + tanh_(0.79788456080286536 * (x + 0.044715 * x * x * x)))',
  silu: 'x * sigmoid_(x)',
  erf: 'erf_(x)',
  sin: 'sin(x)',
  cos: 'cos(x)',
  floor: 'floor(x)',
};

const INT_UNARY: Partial<Record<UnaryFn, string>> = {
  neg: '-x',
  abs: 'abs(x)',
  sign: 'sign(x)',
  relu: 'max(x, 0)',
};

function unaryExpr(fn: UnaryFn, dtype: DType): string {
  if (fn === 'not') return 'select(0u, 1u, x == 0u)';
  const expr = dtype === 'i32' ? INT_UNARY[fn] : FLOAT_UNARY[fn];
  if (!expr) throw new Error(`no ${fn} for ${dtype}`);
  return expr;
}

function binaryExpr(fn: BinaryFn, t: 'f32' | 'i32' | 'u32'): string {
  const f = t === 'f32';
  switch (fn) {
    case 'add':
      return 'a + b';
    case 'sub':
      return 'a - b';
    case 'mul':
      return 'a * b';
    case 'div':
      return 'a / b';
    case 'pow':
      return 'pow_(a, b)';
    case 'maximum':
      return f ? 'select(b, a, a > b || isnan_(a))' : 'max(a, b)';
    case 'minimum':
      return f ? 'select(b, a, a < b || isnan_(a))' : 'min(a, b)';
    case 'mod':
      return f
        ? 'a - b * floor(a / b)'
        : 'select(a % b, a % b + b, b != 0 && a % b != 0 && ((a % b < 0) != (b < 0)))';
    case 'and':
      return 'select(0u, 1u, a != 0u && b != 0u)';
    case 'or':
      return 'select(0u, 1u, a != 0u || b != 0u)';
  }
}

const COMPARE: Record<CompareFn, string> = { eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=' };

/** Shape and broadcast strides of up to three inputs: slots 1 (rank), 2.. (shape), 10.., 18.., 26.. (strides). */
function broadcastMeta(outShape: readonly number[], inShapes: readonly (readonly number[])[]): Meta {
  checkRank('broadcast', outShape);
  const meta = new Meta().u32(1, outShape.length).list(2, outShape);
  for (const [k, s] of inShapes.entries()) meta.list(10 + 8 * k, broadcastStrides(s, outShape));
  return meta;
}

/**
 * How output element i reads each input, one letter an input: `i` (the input has the output's shape), `0` (a
 * single value) or `s` (through the broadcast strides of `broadcastMeta`). The two short forms skip the
 * per-dimension index arithmetic, which made same-shape binary ops 4-6x slower than unary ones on
 * SwiftShader (1M elements: add 128 ms, log 20 ms).
 */
function access(outShape: readonly number[], inShapes: readonly (readonly number[])[]): string {
  return inShapes
    .map((shape) =>
      sizeOf(shape) === 1
        ? '0'
        : shape.length === outShape.length && shape.every((d, j) => d === outShape[j])
          ? 'i'
          : 's',
    )
    .join('');
}

/** `let oK = ...;`, the element of input K read for output element i, for each letter of `access`. */
function offsets(at: string): string {
  return [...at]
    .map(
      (a, k) =>
        `  let o${k} = ${a === '0' ? '0u' : a === 'i' ? 'i' : `stridedOffset(i, u(1u), 2u, ${10 + 8 * k}u)`};`,
    )
    .join('\n');
}

const unaryCode = memo(
  (fn: UnaryFn, dtype: DType) =>
    `${PRELUDE}${FLOAT_FNS}${storage([['xs', wgslType(dtype)]], ['ys', wgslType(dtype)])}${main1d(
      `  let x = xs[i];\n  ys[i] = ${unaryExpr(fn, dtype)};`,
    )}`,
);

const binaryCode = memo(
  (fn: BinaryFn, t: WgslType, out: WgslType, at: string) =>
    `${PRELUDE}${FLOAT_FNS}${storage(
      [
        ['as_', t],
        ['bs', t],
      ],
      ['ys', out],
    )}${main1d(`${offsets(at)}\n  let a = as_[o0];\n  let b = bs[o1];\n  ys[i] = ${binaryExpr(fn, t)};`)}`,
);

const compareCode = memo(
  (fn: CompareFn, t: WgslType, at: string) =>
    `${PRELUDE}${storage(
      [
        ['as_', t],
        ['bs', t],
      ],
      ['ys', 'u32'],
    )}${main1d(`${offsets(at)}\n  ys[i] = select(0u, 1u, as_[o0] ${COMPARE[fn]} bs[o1]);`)}`,
);

const whereCode = memo(
  (t: WgslType, at: string) =>
    `${PRELUDE}${storage(
      [
        ['cs', 'u32'],
        ['as_', t],
        ['bs', t],
      ],
      ['ys', t],
    )}${main1d(`${offsets(at)}\n  ys[i] = select(bs[o2], as_[o1], cs[o0] != 0u);`)}`,
);

const castCode = memo((from: WgslType, to: WgslType) => {
  let expr = 'x';
  if (to === 'u32')
    expr =
      from === 'f32'
        ? 'select(0u, 1u, x != 0.0 || isnan_(x))'
        : from === 'i32'
          ? 'select(0u, 1u, x != 0)'
          : 'x';
  else if (to === 'i32') {
    expr =
      from === 'f32'
        ? 'select(select(select(i32(trunc(x)), 2147483647, x >= 2147483647.0), -2147483647 - 1, x <= -2147483648.0), 0, isnan_(x))'
        : 'i32(x)';
  } else if (from !== 'f32') expr = 'f32(x)';
  return `${PRELUDE}${storage([['xs', from]], ['ys', to])}${main1d(`  let x = xs[i];\n  ys[i] = ${expr};`)}`;
});

const fillCode = memo(
  (t: WgslType) =>
    `${PRELUDE}${storage([], ['ys', t])}${main1d(`  ys[i] = ${t === 'f32' ? 'uf(1u)' : t === 'i32' ? 'ui(1u)' : 'u(1u)'};`)}`,
);

const broadcastCode = memo(
  (t: WgslType, at: string) =>
    `${PRELUDE}${storage([['xs', t]], ['ys', t])}${main1d(`${offsets(at)}\n  ys[i] = xs[o0];`)}`,
);

export function elementwiseKernels(
  rt: GpuRuntime,
): Pick<KernelTable<GPUBuffer>, 'unary' | 'binary' | 'compare' | 'where' | 'cast' | 'fill' | 'broadcastTo'> {
  return {
    unary: ([x], { fn }, out) =>
      launch(rt, unaryCode(fn, x!.dtype), new Meta(), [x!.data], out, sizeOf(out.shape)),
    binary: ([a, b], { fn }, out) => {
      const inShapes = [a!.shape, b!.shape];
      const code = binaryCode(fn, wgslType(a!.dtype), wgslType(out.dtype), access(out.shape, inShapes));
      const meta = broadcastMeta(out.shape, inShapes);
      return launch(rt, code, meta, [a!.data, b!.data], out, sizeOf(out.shape));
    },
    compare: ([a, b], { fn }, out) => {
      const inShapes = [a!.shape, b!.shape];
      const code = compareCode(fn, wgslType(a!.dtype), access(out.shape, inShapes));
      const meta = broadcastMeta(out.shape, inShapes);
      return launch(rt, code, meta, [a!.data, b!.data], out, sizeOf(out.shape));
    },
    where: ([c, a, b], _attrs, out) => {
      const inShapes = [c!.shape, a!.shape, b!.shape];
      const code = whereCode(wgslType(a!.dtype), access(out.shape, inShapes));
      const meta = broadcastMeta(out.shape, inShapes);
      return launch(rt, code, meta, [c!.data, a!.data, b!.data], out, sizeOf(out.shape));
    },
    cast: ([x], { dtype }, out) =>
      launch(
        rt,
        castCode(wgslType(x!.dtype), wgslType(dtype)),
        new Meta(),
        [x!.data],
        out,
        sizeOf(out.shape),
      ),
    fill: (_inputs, { value }, out) => {
      const t = wgslType(out.dtype);
      const meta = new Meta();
      if (t === 'f32') meta.f32(1, value);
      else if (t === 'i32') meta.i32(1, value);
      else meta.u32(1, value ? 1 : 0);
      return launch(rt, fillCode(t), meta, [], out, sizeOf(out.shape));
    },
    broadcastTo: ([x], _attrs, out) => {
      const code = broadcastCode(wgslType(x!.dtype), access(out.shape, [x!.shape]));
      return launch(rt, code, broadcastMeta(out.shape, [x!.shape]), [x!.data], out, sizeOf(out.shape));
    },
  };
}

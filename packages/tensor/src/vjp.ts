import { isFloat } from './dtype.js';
import { invariant } from './errors.js';
import { cast } from './ops/cast.js';
import { scalar, zeros } from './ops/creation.js';
import * as ew from './ops/elementwise.js';
import { gluGrad } from './ops/glu.js';
import { gather, rowStarts, scatterAdd } from './ops/indexing.js';
import { broadcastTo, pad, reshape, slice, split, transpose } from './ops/layout.js';
import { groupedMatmul, groupedMatmulGradW, matmul } from './ops/linalg.js';
import { softmax } from './ops/nn.js';
import { sum } from './ops/reduce.js';
import { cumsum } from './ops/scan.js';
import { weightedGatherGrad } from './ops/weighted-gather.js';
import type { PrimitiveAttrs, PrimName, UnaryFn } from './primitives.js';
import type { Tensor } from './tensor.js';

/**
 * A VJP rule: given the cotangent `g` of the output, the saved inputs and output, and which inputs need a
 * gradient, return one cotangent per input (null where it is not needed or not defined). Written with ops,
 * so it runs on every backend.
 */
export type Rule<P extends PrimName> = (
  g: Tensor,
  inputs: readonly Tensor[],
  out: Tensor,
  attrs: PrimitiveAttrs[P],
  needs: readonly boolean[],
) => (Tensor | null)[];

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Sums a broadcast cotangent back to `shape`. */
function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  return reshape(sum(g, axes, false), shape);
}

function unaryDerivative(fn: UnaryFn, x: Tensor, y: Tensor): Tensor | null {
  switch (fn) {
    case 'neg':
      return scalar(-1, y.dtype);
    case 'exp':
      return y;
    case 'log':
      return ew.reciprocal(x);
    case 'sqrt':
      return ew.div(0.5, y);
    case 'rsqrt':
      return ew.mul(ew.mul(y, ew.mul(y, y)), -0.5);
    case 'tanh':
      return ew.sub(1, ew.mul(y, y));
    case 'abs':
      return ew.sign(x);
    case 'relu':
      return cast(ew.greater(x, 0), x.dtype);
    case 'sigmoid':
      return ew.mul(y, ew.sub(1, y));
    case 'softplus':
      return ew.sigmoid(x);
    case 'entr':
      return ew.neg(ew.add(ew.log(x), 1));
    case 'gelu': {
      const cdf = ew.mul(ew.add(ew.erf(ew.mul(x, Math.SQRT1_2)), 1), 0.5);
      const pdf = ew.mul(ew.exp(ew.mul(ew.mul(x, x), -0.5)), INV_SQRT_2PI);
      return ew.add(cdf, ew.mul(x, pdf));
    }
    case 'geluTanh': {
      const x2 = ew.mul(x, x);
      const t = ew.tanh(ew.mul(ew.mul(x, ew.add(ew.mul(x2, 0.044715), 1)), SQRT_2_OVER_PI));
      const dInner = ew.mul(ew.add(ew.mul(x2, 3 * 0.044715), 1), SQRT_2_OVER_PI);
      return ew.add(
        ew.mul(ew.add(t, 1), 0.5),
        ew.mul(ew.mul(ew.mul(x, 0.5), ew.sub(1, ew.mul(t, t))), dInner),
      );
    }
    case 'silu': {
      const s = ew.sigmoid(x);
      return ew.mul(s, ew.add(ew.mul(x, ew.sub(1, s)), 1));
    }
    case 'erf':
      return ew.mul(ew.exp(ew.neg(ew.mul(x, x))), 2 / Math.sqrt(Math.PI));
    case 'sin':
      return ew.cos(x);
    case 'cos':
      return ew.neg(ew.sin(x));
    case 'sign':
    case 'floor':
    case 'not':
      return null;
  }
}

/** Where a tie between a and b gives each half of the gradient. */
function tieSplit(winner: Tensor, tie: Tensor, dtype: Tensor['dtype']): Tensor {
  return ew.where(winner, 1, ew.where(tie, 0.5, 0)).cast(dtype);
}

const notDifferentiable = (name: string) => (): never => {
  invariant(false, 'backward', `${name} has integer outputs and is never recorded`);
};

/** The rule of a primitive that only backward applies (under noGrad), so no node of it is ever recorded. */
const backwardOnly = (name: string) => (): never => {
  invariant(false, 'backward', `${name} is applied only inside backward and is never recorded`);
};

/** One VJP rule per primitive. */
export const vjpRules: { readonly [P in PrimName]: Rule<P> } = {
  unary: (g, [x], y, { fn }) => {
    const d = unaryDerivative(fn, x as Tensor, y);
    return [d ? ew.mul(g, d) : null];
  },
  binary: (g, [a, b], y, { fn }, needs) => {
    const ta = a as Tensor;
    const tb = b as Tensor;
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    switch (fn) {
      case 'add':
        ga = g;
        gb = g;
        break;
      case 'sub':
        ga = g;
        gb = needs[1] ? ew.neg(g) : null;
        break;
      case 'mul':
        ga = needs[0] ? ew.mul(g, tb) : null;
        gb = needs[1] ? ew.mul(g, ta) : null;
        break;
      case 'div':
        ga = needs[0] ? ew.div(g, tb) : null;
        gb = needs[1] ? ew.neg(ew.div(ew.mul(g, y), tb)) : null;
        break;
      case 'pow':
        ga = needs[0] ? ew.mul(g, ew.mul(tb, ew.pow(ta, ew.sub(tb, 1)))) : null;
        gb = needs[1] ? ew.mul(g, ew.mul(y, ew.where(ew.greater(ta, 0), ew.log(ta), 0))) : null;
        break;
      case 'maximum':
      case 'minimum': {
        const aWins = fn === 'maximum' ? ew.greater(ta, tb) : ew.less(ta, tb);
        const tie = ew.equal(ta, tb);
        ga = needs[0] ? ew.mul(g, tieSplit(aWins, tie, g.dtype)) : null;
        gb = needs[1] ? ew.mul(g, tieSplit(ew.logicalNot(ew.logicalOr(aWins, tie)), tie, g.dtype)) : null;
        break;
      }
      case 'mod':
        ga = g;
        gb = needs[1] ? ew.neg(ew.mul(g, ew.floor(ew.div(ta, tb)))) : null;
        break;
      case 'and':
      case 'or':
        return [null, null];
    }
    return [ga && sumTo(ga, ta.shape), gb && sumTo(gb, tb.shape)];
  },
  glu: (g, [gate, up], _y, { fn }, needs) => [
    needs[0] ? gluGrad(gate as Tensor, up as Tensor, g, fn, 'gate') : null,
    needs[1] ? gluGrad(gate as Tensor, up as Tensor, g, fn, 'up') : null,
  ],
  gluGrad: backwardOnly('gluGrad'),
  compare: () => [null, null],
  where: (g, [cond, a, b], _y, _attrs, needs) => {
    const c = cond as Tensor;
    return [
      null,
      needs[1] ? sumTo(ew.where(c, g, 0), (a as Tensor).shape) : null,
      needs[2] ? sumTo(ew.where(c, 0, g), (b as Tensor).shape) : null,
    ];
  },
  reduce: (g, [x], y, { fn, axes }) => {
    const t = x as Tensor;
    const keepShape = t.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const gk = reshape(g, keepShape);
    if (fn === 'sum') return [broadcastTo(gk, t.shape)];
    const mask = cast(ew.equal(t, reshape(y, keepShape)), g.dtype);
    return [ew.mul(ew.div(gk, sum(mask, axes, true)), mask)];
  },
  argReduce: notDifferentiable('argReduce'),
  softmax: (g, _inputs, y, { axis }) => [ew.mul(y, ew.sub(g, sum(ew.mul(g, y), axis, true)))],
  logSoftmax: (g, _inputs, y, { axis }) => [ew.sub(g, ew.mul(ew.exp(y), sum(g, axis, true)))],
  matmul: (g, [a, b], _y, { transA, transB }, needs) => {
    const ta = a as Tensor;
    const tb = b as Tensor;
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (needs[0]) {
      ga = transA ? matmul(tb, g, { transA: transB, transB: true }) : matmul(g, tb, { transB: !transB });
      ga = sumTo(ga, ta.shape);
    }
    if (needs[1]) {
      gb = transB ? matmul(g, ta, { transA: true, transB: transA }) : matmul(ta, g, { transA: !transA });
      gb = sumTo(gb, tb.shape);
    }
    return [ga, gb];
  },
  groupedMatmul: (g, [x, w, offsets], _y, { transW }, needs) => {
    const o = offsets as Tensor;
    const gx = needs[0] ? groupedMatmul(g, w as Tensor, o, { transW: !transW }) : null;
    const gw = needs[1]
      ? transW
        ? groupedMatmulGradW(g, x as Tensor, o)
        : groupedMatmulGradW(x as Tensor, g, o)
      : null;
    return [gx, gw, null];
  },
  groupedMatmulGradW: (g, [x, dy, offsets], _y, _attrs, needs) => {
    const o = offsets as Tensor;
    return [
      needs[0] ? groupedMatmul(dy as Tensor, g, o, { transW: true }) : null,
      needs[1] ? groupedMatmul(x as Tensor, g, o) : null,
      null,
    ];
  },
  topk: notDifferentiable('topk'),
  routerTopK: (g, [logits], y, { k, score, normalize, bias }) => {
    // Scores recomputed; the weight cotangent goes through the normalisation, onto the chosen experts, then
    // back through the softmax (or sigmoid; with score 'none' the scores are the input). The selection bias and the group limit only choose the experts
    // (read from y): the bias gets no gradient.
    const l = logits as Tensor;
    const [t, e] = l.shape as [number, number];
    const p = score === 'none' ? l : score === 'softmax' ? softmax(l, -1) : ew.sigmoid(l);
    const idx = cast(slice(y, [0, k], [t, k]), 'i32');
    // Row-major positions of the chosen experts in [T, E].
    const flat = reshape(ew.add(idx, rowStarts(t, e)), [t * k]);
    let gr = slice(g, [0, 0], [t, k]);
    if (normalize) {
      const w = slice(y, [0, 0], [t, k]);
      const total = sum(reshape(gather(reshape(p, [t * e]), flat), [t, k]), -1, true);
      gr = ew.div(ew.sub(gr, sum(ew.mul(gr, w), -1, true)), total);
    }
    const gp = reshape(scatterAdd(reshape(gr, [t * k]), flat, t * e), [t, e]);
    const gl =
      score === 'none'
        ? gp
        : score === 'softmax'
          ? ew.mul(p, ew.sub(gp, sum(ew.mul(gp, p), -1, true)))
          : ew.mul(gp, ew.mul(p, ew.sub(1, p)));
    return bias ? [gl, null] : [gl];
  },
  argsort: notDifferentiable('argsort'),
  bucketSort: notDifferentiable('bucketSort'),
  bincount: notDifferentiable('bincount'),
  cumsum: (g, _inputs, _y, { axis, exclusive, reverse }) => [
    cumsum(g, axis, { exclusive, reverse: !reverse }),
  ],
  gather: (g, [x, idx]) => [scatterAdd(g, idx as Tensor, (x as Tensor).shape[0] as number), null],
  scatterAdd: (g, [, idx]) => [gather(g, idx as Tensor), null],
  weightedGather: (g, [src, rows, weights], _y, _attrs, needs) => {
    // Out-of-range rows contribute nothing forward, so they get no gradient and give their weight none.
    const [x, idx, w] = [src, rows, weights] as [Tensor, Tensor, Tensor];
    return [
      needs[0] ? weightedGatherGrad(x, idx, w, g, 'src') : null,
      null,
      needs[2] ? weightedGatherGrad(x, idx, w, g, 'weights') : null,
    ];
  },
  weightedGatherGrad: backwardOnly('weightedGatherGrad'),
  transpose: (g, _inputs, _y, { perm }) => {
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => {
      inverse[p] = i;
    });
    return [transpose(g, inverse)];
  },
  slice: (g, [x], _y, { begin, size }) => {
    const shape = (x as Tensor).shape;
    return [
      pad(
        g,
        begin.map((b, i) => [b, (shape[i] as number) - b - (size[i] as number)] as [number, number]),
      ),
    ];
  },
  pad: (g, [x], _y, { before }) => [slice(g, before, (x as Tensor).shape)],
  concat: (g, inputs, _y, { axis }, needs) => {
    const parts = split(
      g,
      inputs.map((t) => t.shape[axis] as number),
      axis,
    );
    return parts.map((p, i) => (needs[i] ? p : null));
  },
  broadcastTo: (g, [x]) => [sumTo(g, (x as Tensor).shape)],
  cast: (g, [x]) => [isFloat((x as Tensor).dtype) ? cast(g, (x as Tensor).dtype) : null],
  random: () => [],
  fill: () => [],
  reshape: (g, [x]) => [reshape(g, (x as Tensor).shape)],
};

import { sizeOf, stridesOf } from '../../../shape.js';
import type { KernelTable } from '../../backend.js';
import { launch, run } from '../launch.js';
import type { GpuRuntime } from '../runtime.js';
import { checkRank, Meta, main1d, memo, PRELUDE, storage, type WgslType, wgslType } from '../wgsl.js';

/** Copies x (rank at slot 1, shape at 2.., strides at 10..) permuted: used by transpose and by reductions. */
const permuteCode = memo(
  (t: WgslType) =>
    `${PRELUDE}${storage([['xs', t]], ['ys', t])}${main1d('  ys[i] = xs[stridedOffset(i, u(1u), 2u, 10u)];')}`,
);

/** Copies the window of x at base (slot 18) with sizes at 2.. and x's strides at 10... */
const sliceCode = memo(
  (t: WgslType) =>
    `${PRELUDE}${storage([['xs', t]], ['ys', t])}${main1d('  ys[i] = xs[u(18u) + stridedOffset(i, u(1u), 2u, 10u)];')}`,
);

/** Zero-pads x: out shape at 2.., x's shape at 10.., the padding before at 18.., x's strides at 26... */
const padCode = memo(
  (t: WgslType) =>
    `${PRELUDE}${storage([['xs', t]], ['ys', t])}${main1d(`  var rem = i;
  var off = 0u;
  var inside = true;
  for (var d = i32(u(1u)) - 1; d >= 0; d--) {
    let k = u32(d);
    let c = i32(rem % u(2u + k)) - i32(u(18u + k));
    rem = rem / u(2u + k);
    if (c < 0 || c >= i32(u(10u + k))) { inside = false; }
    off += u32(max(c, 0)) * u(26u + k);
  }
  ys[i] = select(${t === 'f32' ? '0.0' : t === 'i32' ? '0' : '0u'}, xs[off], inside);`)}`,
);

/** Writes x into the output at offset 18 through the output's strides (10..): one input of a concat. */
const concatCode = memo(
  (t: WgslType) =>
    `${PRELUDE}${storage([['xs', t]], ['ys', t])}${main1d('  ys[u(18u) + stridedOffset(i, u(1u), 2u, 10u)] = xs[i];')}`,
);

/** Runs the permutation kernel: the result has axes `perm` of `shape`; the caller owns the new buffer. */
export function permuteBuffer(
  rt: GpuRuntime,
  x: GPUBuffer,
  shape: readonly number[],
  dtype: Parameters<typeof wgslType>[0],
  perm: readonly number[],
): GPUBuffer {
  checkRank('transpose', shape);
  const inStrides = stridesOf(shape);
  const meta = new Meta()
    .u32(1, shape.length)
    .list(
      2,
      perm.map((p) => shape[p] as number),
    )
    .list(
      10,
      perm.map((p) => inStrides[p] as number),
    );
  return launch(
    rt,
    permuteCode(wgslType(dtype)),
    meta,
    [x],
    { shape: perm.map((p) => shape[p] as number), dtype },
    sizeOf(shape),
  );
}

export function layoutKernels(
  rt: GpuRuntime,
): Pick<KernelTable<GPUBuffer>, 'transpose' | 'slice' | 'pad' | 'concat'> {
  return {
    transpose: ([x], { perm }) => permuteBuffer(rt, x!.data, x!.shape, x!.dtype, perm),
    slice: ([x], { begin, size }, out) => {
      checkRank('slice', x!.shape);
      const strides = stridesOf(x!.shape);
      const base = begin.reduce((acc, b, d) => acc + b * (strides[d] as number), 0);
      const meta = new Meta().u32(1, size.length).list(2, size).list(10, strides).u32(18, base);
      return launch(rt, sliceCode(wgslType(x!.dtype)), meta, [x!.data], out, sizeOf(out.shape));
    },
    pad: ([x], { before }, out) => {
      checkRank('pad', out.shape);
      const rank = out.shape.length;
      const meta = new Meta()
        .u32(1, rank)
        .list(2, out.shape)
        .list(10, x!.shape)
        .list(18, before)
        .list(26, stridesOf(x!.shape));
      return launch(rt, padCode(wgslType(x!.dtype)), meta, [x!.data], out, sizeOf(out.shape));
    },
    concat: (inputs, { axis }, out) => {
      checkRank('concat', out.shape);
      const code = concatCode(wgslType(out.dtype));
      const result = rt.alloc(sizeOf(out.shape) * 4);
      const outStrides = stridesOf(out.shape);
      let offset = 0;
      for (const x of inputs) {
        const meta = new Meta()
          .u32(1, x.shape.length)
          .list(2, x.shape)
          .list(10, outStrides)
          .u32(18, offset * (outStrides[axis] as number));
        run(rt, code, meta, [x.data, result], sizeOf(x.shape));
        offset += x.shape[axis] as number;
      }
      return result;
    },
  };
}

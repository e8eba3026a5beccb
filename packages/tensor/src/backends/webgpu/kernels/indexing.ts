import { sizeOf } from '../../../shape.js';
import type { KernelTable } from '../../backend.js';
import { launch, run } from '../launch.js';
import type { GpuRuntime } from '../runtime.js';
import { Meta, main1d, memo, PRELUDE, storage, type WgslType, wgslType } from '../wgsl.js';

/** Float atomic add through a compare-exchange loop on the bits (WGSL has integer atomics only). */
const ATOMIC_ADD_F32 = /* wgsl */ `
fn atomicAddF32(at: u32, value: f32) {
  var old = atomicLoad(&ys[at]);
  loop {
    let r = atomicCompareExchangeWeak(&ys[at], old, bitcast<u32>(bitcast<f32>(old) + value));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
`;

const gatherCode = memo(
  (t: WgslType) =>
    `${PRELUDE}${storage(
      [
        ['xs', t],
        ['ids', 'i32'],
      ],
      ['ys', t],
    )}${main1d(`  let w = u(1u);
  let r = ids[i / w];
  if (r < 0 || u32(r) >= u(2u)) { ys[i] = ${t === 'f32' ? '0.0' : t === 'i32' ? '0' : '0u'}; return; }
  ys[i] = xs[u32(r) * w + i % w];`)}`,
);

const scatterAddCode = memo(
  (float: boolean) =>
    `${PRELUDE}${storage(
      [
        ['xs', float ? 'f32' : 'i32'],
        ['ids', 'i32'],
      ],
      ['ys', float ? 'atomic<u32>' : 'atomic<i32>'],
    )}${float ? ATOMIC_ADD_F32 : ''}${main1d(`  let w = u(1u);
  let r = ids[i / w];
  if (r < 0 || u32(r) >= u(2u)) { return; }
  let at = u32(r) * w + i % w;
  ${float ? 'atomicAddF32(at, xs[i]);' : 'atomicAdd(&ys[at], xs[i]);'}`)}`,
);

const WEIGHTED_GATHER = `${PRELUDE}${storage(
  [
    ['xs', 'f32'],
    ['ids', 'i32'],
    ['ws', 'f32'],
  ],
  ['ys', 'f32'],
)}${main1d(`  let w = u(1u);
  let k = u(3u);
  let t = i / w;
  let j = i % w;
  var acc = 0.0;
  for (var kk = 0u; kk < k; kk++) {
    let r = ids[t * k + kk];
    if (r >= 0 && u32(r) < u(2u)) { acc = acc + ws[t * k + kk] * xs[u32(r) * w + j]; }
  }
  ys[i] = acc;`)}`;

// weightedGatherGrad 'src': one thread per (t, k, j) adds weights[t, k] · g[t, j] into its row j (float
// atomics, as scatterAdd); 'weights': one thread per (t, k) sums g[t, j] · src[row, j] over j in order.
const WEIGHTED_GATHER_GRAD_SRC = `${PRELUDE}${storage(
  [
    ['gs', 'f32'],
    ['ids', 'i32'],
    ['ws', 'f32'],
  ],
  ['ys', 'atomic<u32>'],
)}${ATOMIC_ADD_F32}${main1d(`  let w = u(1u);
  let a = i / w;
  let j = i % w;
  let r = ids[a];
  if (r < 0 || u32(r) >= u(2u)) { return; }
  atomicAddF32(u32(r) * w + j, ws[a] * gs[(a / u(3u)) * w + j]);`)}`;

const WEIGHTED_GATHER_GRAD_WEIGHTS = `${PRELUDE}${storage(
  [
    ['xs', 'f32'],
    ['ids', 'i32'],
    ['gs', 'f32'],
  ],
  ['ys', 'f32'],
)}${main1d(`  let w = u(1u);
  let r = ids[i];
  if (r < 0 || u32(r) >= u(2u)) { ys[i] = 0.0; return; }
  let x0 = u32(r) * w;
  let g0 = (i / u(3u)) * w;
  var acc = 0.0;
  for (var j = 0u; j < w; j++) { acc = acc + gs[g0 + j] * xs[x0 + j]; }
  ys[i] = acc;`)}`;

const BINCOUNT = `${PRELUDE}${storage([['xs', 'i32']], ['ys', 'atomic<i32>'])}${main1d(`  let v = xs[i];
  if (v >= 0 && u32(v) < u(1u)) { atomicAdd(&ys[u32(v)], 1); }`)}`;

export function indexingKernels(
  rt: GpuRuntime,
): Pick<
  KernelTable<GPUBuffer>,
  'gather' | 'scatterAdd' | 'weightedGather' | 'weightedGatherGrad' | 'bincount'
> {
  return {
    gather: ([x, idx], _attrs, out) => {
      const code = gatherCode(wgslType(x!.dtype));
      const width = sizeOf(x!.shape.slice(1));
      const meta = new Meta().u32(1, Math.max(width, 1)).u32(2, x!.shape[0] as number);
      return launch(rt, code, meta, [x!.data, idx!.data], out, sizeOf(out.shape));
    },
    scatterAdd: ([src, idx], { rows }, out) => {
      const float = wgslType(src!.dtype) === 'f32';
      const width = sizeOf(out.shape.slice(1));
      const result = rt.alloc(sizeOf(out.shape) * 4);
      rt.clear(result);
      run(
        rt,
        scatterAddCode(float),
        new Meta().u32(1, Math.max(width, 1)).u32(2, rows),
        [src!.data, idx!.data, result],
        sizeOf(src!.shape),
      );
      return result;
    },
    // One thread per output element (t, j): its K terms in k order from zero, no atomics, so the same bits on
    // every run (unlike scatterAdd's compare-exchange adds). Rows outside [0, R) add nothing.
    weightedGather: ([src, rows, weights], _attrs, out) => {
      const width = sizeOf(src!.shape.slice(1));
      const k = rows!.shape[1] as number;
      const meta = new Meta()
        .u32(1, Math.max(width, 1))
        .u32(2, src!.shape[0] as number)
        .u32(3, k);
      return launch(
        rt,
        WEIGHTED_GATHER,
        meta,
        [src!.data, rows!.data, weights!.data],
        out,
        sizeOf(out.shape),
      );
    },
    weightedGatherGrad: ([src, rows, weights, g], { wrt }, out) => {
      const width = sizeOf(src!.shape.slice(1));
      const [t, k] = rows!.shape as [number, number];
      const meta = (w: number) =>
        new Meta()
          .u32(1, w)
          .u32(2, src!.shape[0] as number)
          .u32(3, Math.max(k, 1));
      if (wrt === 'weights') {
        return launch(
          rt,
          WEIGHTED_GATHER_GRAD_WEIGHTS,
          meta(width),
          [src!.data, rows!.data, g!.data],
          out,
          t * k,
        );
      }
      const result = rt.alloc(sizeOf(out.shape) * 4);
      rt.clear(result);
      run(
        rt,
        WEIGHTED_GATHER_GRAD_SRC,
        meta(Math.max(width, 1)),
        [g!.data, rows!.data, weights!.data, result],
        t * k * width,
      );
      return result;
    },
    bincount: ([x], { length }) => {
      const result = rt.alloc(length * 4);
      rt.clear(result);
      run(rt, BINCOUNT, new Meta().u32(1, length), [x!.data, result], sizeOf(x!.shape));
      return result;
    },
  };
}

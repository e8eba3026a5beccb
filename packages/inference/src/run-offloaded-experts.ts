// Shape letters: D model width, F expert hidden width, E experts, R routed rows, N rows of one expert.
import { activation } from '@switchyard/nn';
import {
  concat,
  fromHost,
  groupedMatmul,
  mul,
  noGrad,
  slice,
  type Tensor,
  tidy,
  zeros,
} from '@switchyard/tensor';
import type { DeviceExpert, ExpertCache } from './expert-cache.js';
import { type ExpertLayerInfo, expertKey } from './expert-store.js';
import type { StackedExperts } from './moe-blocks.js';

/** One expert on its rows: act(x w1) w2, or (act(x w1) * (x w3)) w2; the grouped matmul of GroupedExperts. */
function expertRows(x_ND: Tensor, w: DeviceExpert, act: (x: Tensor) => Tensor): Tensor {
  return tidy(() => {
    const offsets_2 = fromHost([0, x_ND.shape[0] as number], [2], 'i32');
    let h_NF = act(groupedMatmul(x_ND, w.w1, offsets_2));
    if (w.w3) h_NF = mul(h_NF, groupedMatmul(x_ND, w.w3, offsets_2));
    return groupedMatmul(h_NF, w.w2, offsets_2);
  });
}

/**
 * The experts of an offloaded MoE layer on the dispatcher's rows: each expert that kept rows is acquired
 * from the cache (protected from eviction until the layer is done), applied to its segment, and released;
 * segments of experts that kept nothing, and rows after the last segment, come out zero, as
 * `GroupedExperts.forward` gives them. Experts are applied one at a time, so a budget of one expert is enough.
 *
 * @param routed_RD rows grouped by expert (the dispatcher's buffer).
 * @param counts per-expert row counts [E] read on the host; `kept` the assignments each expert kept [E].
 * @returns [R, D].
 */
export async function runOffloadedExperts(
  info: ExpertLayerInfo,
  experts: Pick<StackedExperts, 'activation'>,
  cache: ExpertCache,
  routed_RD: Tensor,
  counts: ArrayLike<number>,
  kept: ArrayLike<number>,
  protect: ReadonlySet<string>,
): Promise<Tensor> {
  const [r, d] = routed_RD.shape as [number, number];
  const act = activation(experts.activation);
  const pieces: Tensor[] = [];
  let row = 0;
  try {
    for (let e = 0; e < info.numExperts; e++) {
      const n = counts[e] as number;
      if (n === 0) continue;
      if ((kept[e] as number) === 0) pieces.push(zeros([n, d], routed_RD.dtype));
      else {
        const w = await cache.acquire(info, e, protect);
        try {
          const start = row;
          pieces.push(noGrad(() => tidy(() => expertRows(slice(routed_RD, [start, 0], [n, d]), w, act))));
        } finally {
          cache.release(info, e);
        }
      }
      row += n;
    }
    if (row < r || pieces.length === 0) pieces.push(zeros([r - row, d], routed_RD.dtype));
    return pieces.length === 1 ? (pieces.pop() as Tensor) : tidy(() => concat(pieces, 0));
  } finally {
    for (const p of pieces) p.dispose();
  }
}

/** The keys of the experts of a layer that kept rows. */
export function activeExperts(info: ExpertLayerInfo, kept: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let e = 0; e < info.numExperts; e++) if ((kept[e] as number) > 0) out.push(e);
  return out;
}

/** `expertKey` of each expert of a layer. */
export function expertKeys(info: ExpertLayerInfo, experts: readonly number[]): Set<string> {
  return new Set(experts.map((e) => expertKey(info.stack, info.layer, e)));
}

import { GroupedExperts, SharedExperts } from '@switchyard/experts';
import { MoELayer } from '@switchyard/moe';
import { TopKRouter } from '@switchyard/routers';
import type { Generator } from '@switchyard/tensor';
import type { MoEShape } from './moe-shape.js';

/**
 * The Switchyard layer for a shape: a softmax top-K `TopKRouter` (renormalised for Mixtral), SwiGLU
 * `GroupedExperts` on the grouped-matmul path, a dropless `LocalDispatcher`, and `SharedExperts` when S > 0.
 * Built on the active backend.
 */
export function switchyardMoE(s: MoEShape, generator: Generator): MoELayer {
  const shared =
    s.shared > 0
      ? new SharedExperts({
          dModel: s.dModel,
          dHidden: s.dHidden,
          numShared: s.shared,
          activation: 'silu',
          gated: true,
          generator,
        })
      : undefined;
  return new MoELayer({
    router: new TopKRouter({
      dModel: s.dModel,
      numExperts: s.experts,
      topK: s.topK,
      normalize: s.normalize,
      generator,
    }),
    experts: new GroupedExperts({
      numExperts: s.experts,
      dModel: s.dModel,
      dHidden: s.dHidden,
      activation: 'silu',
      gated: true,
      generator,
    }),
    ...(shared ? { shared } : {}),
  });
}

import { MoELayer } from '@switchyard/moe';
import type { ExpertParallelGroups } from './all-to-all-dispatcher.js';
import { ExpertParallelLayer, type ExpertParallelOptions } from './expert-parallel-layer.js';

/** A model to make expert-parallel: an `MoELayer`, or any module holding some (found by walking its fields). */
export type ModuleTree = MoELayer | { namedModules(): readonly (readonly [string, unknown])[] };

/**
 * Makes every MoE layer of an already built model expert-parallel over `groups`, in place: each `MoELayer`
 * keeps this rank's experts only (`placement.slots[rank]`, and 1/P of their hidden width over an
 * expert-tensor group) and gets an `AllToAllDispatcher`. Every rank builds the same model (same config and
 * seed) and applies the same call. Returns the layers by dotted module name ('' for a bare MoELayer).
 *
 * - Inference with the model's own, unchanged `forward`: on worker ranks, inside `noGrad`, each MoE layer's
 *   dispatch and combine block on the other ranks (`AllToAllDispatcher.dispatch`).
 * - Training: drive each returned `ExpertParallelLayer` with `await forward(x)`, the local `loss.backward()`,
 *   then `await backward()` in reverse layer order (the tensor tape cannot wait for other ranks inside a
 *   model-wide `backward()`); then all-reduce the replicated parameters' gradients with `allReduceGradients`
 *   (over `groups.expert`, and over the data-parallel group for data-parallel replicas).
 *
 * `options` may be a function of the layer's name, for per-layer placements (load-aware placements come from
 * each layer's own routing statistics).
 *
 * @example
 * ```ts
 * const model = buildModel(tinyPreset('mixtral-8x7b'), { generator: new Generator(0) });
 * applyExpertParallel(model, { expert: comm });
 * const { logits } = noGrad(() => model.forward({ ids })); // experts spread over the ranks
 * ```
 */
export function applyExpertParallel(
  model: ModuleTree,
  groups: ExpertParallelGroups,
  options: ExpertParallelOptions | ((name: string, layer: MoELayer) => ExpertParallelOptions) = {},
): Map<string, ExpertParallelLayer> {
  const found: [string, MoELayer][] =
    model instanceof MoELayer
      ? [['', model]]
      : model
          .namedModules()
          .flatMap(([name, m]) => (m instanceof MoELayer ? [[name, m] as [string, MoELayer]] : []));
  return new Map(
    found.map(([name, layer]) => [
      name,
      new ExpertParallelLayer(layer, groups, typeof options === 'function' ? options(name, layer) : options),
    ]),
  );
}

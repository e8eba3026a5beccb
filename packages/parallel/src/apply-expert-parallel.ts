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
 * - Worker ranks (`launchWorkers`: blocking collectives): the model's own, unchanged `forward` runs each MoE
 *   layer's dispatch and combine across the ranks, for inference (inside `noGrad`) and for training: the
 *   collectives are custom-gradient nodes whose backward runs the adjoint collective, so one
 *   `loss.backward()` per rank fills every gradient. Every rank must call `backward()` (on a loss that depends
 *   on every MoE layer). Afterwards the experts hold the gradient of the sum of the ranks' losses, with each
 *   replica's share when a placement replicates experts: call `sumReplicaGradients(layers.values())`. Every
 *   other parameter (attention, router, shared experts, embeddings) holds its rank's share: sum (or average)
 *   it with `allReduceGradients` over `groups.expert` (and over the data-parallel group for data-parallel
 *   replicas; expert shards over the ranks holding the same shard).
 * - Any communicator, virtual ranks included: drive each returned `ExpertParallelLayer` with
 *   `await forward(x)`, the local `loss.backward()`, then `await backward()` in reverse layer order. There the
 *   model's own `forward` refuses with UNSUPPORTED, since ranks that share a thread cannot block.
 *
 * `options` may be a function of the layer's name, for per-layer placements (load-aware placements come from
 * each layer's own routing statistics).
 *
 * @example
 * ```ts
 * // One worker rank's training step (`launchWorkers` runs it on every rank with its own batch).
 * const model = buildModel(tinyPreset('mixtral-8x7b'), { generator: new Generator(0) }); // same on every rank
 * const layers = applyExpertParallel(model, { expert: comm }); // this rank keeps its experts
 * const out = model.forward({ ids }); // all-to-alls inside every MoE layer
 * const loss = crossEntropy(out.logits, labels);
 * loss.backward(); // the adjoint all-to-alls run here, on every rank
 * await sumReplicaGradients(layers.values()); // replicated experts (none with the default placement)
 * const experts = new Set([...layers.values()].flatMap((l) => l.layer.experts.parameters()));
 * await allReduceGradients(model.parameters().filter((p) => !experts.has(p)), comm, { average: false });
 * // ... optimizer step
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

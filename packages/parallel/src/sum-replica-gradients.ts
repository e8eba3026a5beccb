// Shape letters: L local expert slots, K replicated experts.
import { fromHost, gather, keep, scatterAdd, tidy, where, zerosLike } from '@switchyard/tensor';
import type { ExpertParallelLayer } from './expert-parallel-layer.js';
import { asStackedExperts } from './shard-experts.js';
import { withBackend } from './with-backend.js';

/**
 * Replicated experts (a placement with replicas, such as `loadAwarePlacement`'s hot experts) saw different
 * tokens on each rank hosting them: replaces each replica's gradient (rows of the local `w1`, `w2`, `w3`) by
 * the sum over its replicas, so that the replicas hold the full gradient and stay equal after the optimizer
 * step. Layers without replicas cost nothing. Every rank of the expert groups must call it with the same
 * layers in the same order (the map `applyExpertParallel` returns).
 *
 * Run it after the model-wide `loss.backward()` of expert-parallel training through a model's own forward
 * (worker ranks), next to `allReduceGradients` of the replicated dense parameters.
 * `ExpertParallelLayer.backward` already does it for its layer.
 *
 * @example
 * ```ts
 * const layers = applyExpertParallel(model, { expert: comm }, { placement });
 * loss.backward();
 * await sumReplicaGradients(layers.values());
 * ```
 */
export async function sumReplicaGradients(layers: Iterable<ExpertParallelLayer>): Promise<void> {
  for (const ep of layers) {
    if (ep.placement.replicated) await sumLayerReplicas(ep);
  }
}

async function sumLayerReplicas(ep: ExpertParallelLayer): Promise<void> {
  const comm = ep.groups.expert;
  const { placement } = ep;
  const replicated = placement.hosts.flatMap((h, e) => (h.length > 1 ? [e] : []));
  const index = new Map(replicated.map((e, k) => [e, k]));
  const slots = placement.slots[comm.rank] as readonly number[];
  const mine = slots.flatMap((e, slot) => (index.has(e) ? [{ slot, k: index.get(e) as number }] : []));
  const experts = asStackedExperts('sumReplicaGradients', ep.layer.experts);
  for (const w of [experts.w1, experts.w2, experts.w3]) {
    if (!w?.requiresGrad) continue;
    const grad = w.grad ?? withBackend(comm.backend, () => zerosLike(w));
    // This rank's replicas' gradients, each at its expert's index among the replicated experts: [K, ...].
    const contribution = withBackend(comm.backend, () =>
      tidy(() =>
        scatterAdd(
          gather(
            grad,
            fromHost(
              mine.map((m) => m.slot),
              [mine.length],
              'i32',
            ),
          ),
          fromHost(
            mine.map((m) => m.k),
            [mine.length],
            'i32',
          ),
          replicated.length,
        ),
      ),
    );
    const total = await comm.allReduce(contribution, 'sum');
    contribution.dispose();
    const summed = withBackend(comm.backend, () =>
      tidy(() => {
        const k_L = slots.map((e) => index.get(e) ?? -1);
        const fromTotal = gather(
          total,
          fromHost(
            k_L.map((k) => Math.max(k, 0)),
            [slots.length],
            'i32',
          ),
        );
        const shape = [slots.length, ...w.shape.slice(1).map(() => 1)];
        return where(
          fromHost(
            k_L.map((k) => (k >= 0 ? 1 : 0)),
            shape,
            'bool',
          ),
          fromTotal,
          grad,
        );
      }),
    );
    total.dispose();
    if (grad !== w.grad) grad.dispose();
    w.zeroGrad();
    w.grad = keep(summed);
  }
}

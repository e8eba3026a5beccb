import {
  cast,
  concat,
  keep,
  reshape,
  SwitchyardError,
  slice,
  type Tensor,
  tidy,
  zeros,
} from '@switchyard/tensor';
import type { Communicator } from './communicator.js';
import { withBackend } from './with-backend.js';

/** Options of `allReduceGradients`. */
export interface AllReduceGradientsOptions {
  /** Divide the sum by the group size (data parallelism over equal batches: the gradient of the mean loss). Default true. */
  average?: boolean;
}

/**
 * Data-parallel gradient synchronisation: replaces the `.grad` of every parameter that requires grad by its
 * sum (or mean) over the group, as DDP's all-reduce does. All gradients travel in one flat f32 bucket, so the
 * group pays one collective per call; a parameter without a gradient counts as zeros. Every rank must pass the
 * same parameters in the same order (the same model's `parameters()`).
 *
 * With expert parallelism, run it for the replicated parameters (router, shared experts, attention) over the
 * ranks that hold them, and for expert shards over the ranks that hold the same shard.
 */
export async function allReduceGradients(
  parameters: readonly Tensor[],
  group: Communicator,
  options: AllReduceGradientsOptions = {},
): Promise<void> {
  const params = parameters.filter((p) => p.requiresGrad);
  if (params.length === 0) return;
  for (const p of params) {
    if (p.grad && p.grad.shape.join() !== p.shape.join()) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        'allReduceGradients',
        `a gradient does not match its parameter`,
      );
    }
  }
  const flat = withBackend(group.backend, () =>
    tidy(() =>
      concat(
        params.map((p) => reshape(cast(p.grad ?? zeros(p.shape, p.dtype), 'f32'), [-1])),
        0,
      ),
    ),
  );
  const reduced = await group.allReduce(flat, options.average === false ? 'sum' : 'mean');
  flat.dispose();
  withBackend(group.backend, () => {
    let offset = 0;
    for (const p of params) {
      const g = tidy(() => cast(reshape(slice(reduced, [offset], [p.size]), p.shape), p.dtype));
      offset += p.size;
      p.zeroGrad();
      p.grad = keep(g);
    }
  });
  reduced.dispose();
}

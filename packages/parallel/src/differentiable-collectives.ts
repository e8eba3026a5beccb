// Blocking collectives as custom-gradient functions of @switchyard/tensor: on worker ranks a collective's
// adjoint runs synchronously inside `loss.backward()`, so a model's own forward and one backward train
// expert-parallel.
// Shape letters: N rows, D row width.
import { concat, customGrad, SwitchyardError, slice, type Tensor } from '@switchyard/tensor';
import type { AllToAllResult, Communicator, SyncCollectives } from './communicator.js';

function blocking(op: string, comm: Communicator): SyncCollectives {
  if (!comm.sync) {
    throw new SwitchyardError(
      'UNSUPPORTED',
      op,
      'this communicator has no blocking collectives (virtual ranks share one thread); use ExpertParallelLayer.forward, which awaits them',
    );
  }
  return comm.sync;
}

/**
 * `comm.sync.allToAll(x, sendSplits)` whose backward sends the rows' cotangents back where they came from: an
 * all-to-all with the received splits. The node always runs in `backward()` (zero cotangents when none
 * arrived), since every rank must take part in the adjoint exchange.
 */
export function allToAllWithGrad(
  op: string,
  comm: Communicator,
  x_ND: Tensor,
  sendSplits: readonly number[],
): AllToAllResult {
  const sync = blocking(op, comm);
  let recvSplits: readonly number[] = [];
  const y = customGrad(
    (x: Tensor) => {
      const out = sync.allToAll(x, sendSplits);
      const received = out.recvSplits;
      recvSplits = received;
      return { value: out.y, backward: (dy: Tensor) => [sync.allToAll(dy, received).y] };
    },
    { name: 'allToAll', alwaysRun: true },
  )(x_ND);
  return { y, recvSplits };
}

/**
 * `comm.sync.allGather(x)` (every rank's rows [N_r, ...rest]) whose backward is a reduce-scatter: the
 * cotangents of all parts, concatenated, summed over the ranks, this rank's rows kept.
 */
export function allGatherWithGrad(op: string, comm: Communicator, x_ND: Tensor): Tensor[] {
  const sync = blocking(op, comm);
  return customGrad(
    (x: Tensor) => {
      const parts = sync.allGather(x);
      const start = parts.slice(0, comm.rank).reduce((n, p) => n + (p.shape[0] as number), 0);
      const rows = x.shape[0] as number;
      return {
        value: parts,
        backward: (dys: Tensor[]) => [slice(sync.allReduce(concat(dys, 0), 'sum'), [start], [rows])],
      };
    },
    { name: 'allGather', alwaysRun: true },
  )(x_ND);
}

/** `comm.sync.allReduce(x, 'sum')` whose backward is the same all-reduce of the cotangent. */
export function allReduceWithGrad(op: string, comm: Communicator, x: Tensor): Tensor {
  const sync = blocking(op, comm);
  return customGrad(
    (t: Tensor) => ({
      value: sync.allReduce(t, 'sum'),
      backward: (dy: Tensor) => [sync.allReduce(dy, 'sum')],
    }),
    { name: 'allReduce', alwaysRun: true },
  )(x);
}

// Expert-parallel dispatch written once as a generator of the waits it needs (host reads and collectives),
// run either asynchronously (any communicator, any backend) or blocking (worker ranks on the CPU, inside the
// synchronous MoELayer.forward, where the collectives are differentiable).
import type { AnyHostArray, Tensor } from '@switchyard/tensor';
import type { AllToAllResult, Communicator } from './communicator.js';
import { allGatherWithGrad, allReduceWithGrad, allToAllWithGrad } from './differentiable-collectives.js';

type Effect =
  | { readonly kind: 'read'; readonly x: Tensor }
  | {
      readonly kind: 'allToAll';
      readonly comm: Communicator;
      readonly x: Tensor;
      readonly splits: readonly number[];
    }
  | { readonly kind: 'allGather'; readonly comm: Communicator; readonly x: Tensor }
  | { readonly kind: 'allReduce'; readonly comm: Communicator; readonly x: Tensor };

/** A computation that pauses at host reads and collectives. */
export type Steps<T> = Generator<Effect, T, unknown>;

export function* read(x: Tensor): Steps<AnyHostArray> {
  return (yield { kind: 'read', x }) as AnyHostArray;
}

export function* allToAll(comm: Communicator, x: Tensor, splits: readonly number[]): Steps<AllToAllResult> {
  return (yield { kind: 'allToAll', comm, x, splits }) as AllToAllResult;
}

export function* allGather(comm: Communicator, x: Tensor): Steps<Tensor[]> {
  return (yield { kind: 'allGather', comm, x }) as Tensor[];
}

export function* allReduce(comm: Communicator, x: Tensor): Steps<Tensor> {
  return (yield { kind: 'allReduce', comm, x }) as Tensor;
}

function performAsync(e: Effect): Promise<unknown> {
  if (e.kind === 'read') return e.x.data();
  if (e.kind === 'allToAll') return e.comm.allToAll(e.x, e.splits);
  if (e.kind === 'allGather') return e.comm.allGather(e.x);
  return e.comm.allReduce(e.x, 'sum');
}

/** Blocking, and differentiable: each collective's adjoint runs inside the caller's `backward()`. */
function performSync(op: string, e: Effect): unknown {
  if (e.kind === 'read') return e.x.dataSync();
  if (e.kind === 'allToAll') return allToAllWithGrad(op, e.comm, e.x, e.splits);
  if (e.kind === 'allGather') return allGatherWithGrad(op, e.comm, e.x);
  return allReduceWithGrad(op, e.comm, e.x);
}

/** Runs `steps`, awaiting each read and collective. */
export async function runAsync<T>(steps: Steps<T>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    let value: unknown;
    try {
      value = await performAsync(next.value);
    } catch (error) {
      next = steps.throw(error);
      continue;
    }
    next = steps.next(value);
  }
  return next.value;
}

/**
 * Runs `steps` to the end without yielding to the event loop (blocking collectives, synchronous reads). The
 * collectives are recorded for autograd (`customGrad`) when their input requires grad.
 */
export function runSync<T>(op: string, steps: Steps<T>): T {
  let next = steps.next();
  while (!next.done) {
    let value: unknown;
    try {
      value = performSync(op, next.value);
    } catch (error) {
      next = steps.throw(error);
      continue;
    }
    next = steps.next(value);
  }
  return next.value;
}

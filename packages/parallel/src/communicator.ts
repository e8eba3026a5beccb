import type { Backend, Tensor } from '@switchyard/tensor';

/** How `allReduce` combines the ranks' tensors, elementwise. */
export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';

/** What `allToAll` returns on each rank. */
export interface AllToAllResult {
  /** The rows every rank sent here, rank 0's first: [Σ recvSplits, ...rest]. */
  readonly y: Tensor;
  /** How many rows came from each rank of the group. */
  readonly recvSplits: readonly number[];
}

/**
 * Blocking versions of the collectives a dispatcher needs, for transports that can block a thread while they
 * wait (worker threads). With them `MoELayer.forward`, which is synchronous, can run expert-parallel.
 * Tensors must be readable synchronously (the CPU backend).
 */
export interface SyncCollectives {
  allToAll(x: Tensor, sendSplits: readonly number[]): AllToAllResult;
  allReduce(x: Tensor, op?: ReduceOp): Tensor;
  allGather(x: Tensor): Tensor[];
}

/**
 * A process group: `size` ranks that run the same program and meet in collectives. Every member must call the
 * same collectives in the same order (as in MPI and NCCL); each call returns a promise that settles once this
 * rank's part is done. Groups are values passed explicitly (there is no global world); `split` derives
 * subgroups (expert-parallel, data-parallel, tensor-parallel) from a parent.
 *
 * Tensors received are created on this rank's `backend`. A failed rank (an exception, a worker that exited,
 * a timeout) makes every pending and later collective of every rank reject with `BACKEND_UNAVAILABLE`, so a
 * group never hangs.
 *
 * Implementations: `createVirtualCluster` (in-process ranks, each with its own backend: tests and WebGPU) and
 * `launchWorkers` (one rank per worker thread over shared memory: real parallelism on the machine's cores).
 */
export interface Communicator {
  /** This rank's index in the group, 0 ≤ rank < size. */
  readonly rank: number;
  readonly size: number;
  /** The backend this rank's tensors live on. */
  readonly backend: Backend;
  /**
   * Sends `sendSplits[r]` consecutive rows of `x` [N, ...rest] to rank r (N = Σ sendSplits) and receives the
   * rows every rank sent here, concatenated in rank order (variable split sizes, MPI's alltoallv).
   */
  allToAll(x: Tensor, sendSplits: readonly number[]): Promise<AllToAllResult>;
  /**
   * Combines `x` elementwise over the ranks (every rank passes the same shape and dtype); each rank gets the
   * result. Ranks are combined in rank order, so every rank gets bitwise the same tensor.
   */
  allReduce(x: Tensor, op?: ReduceOp): Promise<Tensor>;
  /** Every rank's `x` (shapes may differ), indexed by rank. */
  allGather(x: Tensor): Promise<Tensor[]>;
  /** `root`'s tensor on every rank; the other ranks pass null. */
  broadcast(x: Tensor | null, root: number): Promise<Tensor>;
  /** Resolves once every rank has called it. */
  barrier(): Promise<void>;
  /** Blocking collectives where the transport supports them (worker ranks), else null. */
  readonly sync: SyncCollectives | null;
  /**
   * A subgroup of the ranks that passed the same `color`, ordered by `key` (default: rank), as MPI_Comm_split.
   * Every rank of this group must call it.
   */
  split(color: number, key?: number): Promise<Communicator>;
}

import { type Backend, createCpuBackend, SwitchyardError } from '@switchyard/tensor';
import type { Communicator } from './communicator.js';
import { type HostMessage, MessageCommunicator } from './message-communicator.js';

/** Options of `createVirtualCluster`. */
export interface VirtualClusterOptions {
  /** Number of ranks, each on a fresh CPU backend; or give `backends`. */
  size?: number;
  /** One backend per rank (e.g. several `createWebGPUBackend()` devices). */
  backends?: readonly Backend[];
  /** A collective that waits longer than this for the other ranks rejects on every rank. Default 60 000 ms. */
  timeoutMs?: number;
}

interface Meeting {
  readonly messages: (readonly HostMessage[] | undefined)[];
  readonly waiters: {
    member: number;
    resolve: (m: HostMessage[]) => void;
    reject: (e: Error) => void;
  }[];
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The shared state of one virtual cluster: pending collectives by group and sequence number, and failure. */
class VirtualWorld {
  readonly timeoutMs: number;
  readonly meetings = new Map<string, Meeting>();
  failure: SwitchyardError | null = null;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  meet(key: string, members: readonly number[], member: number, messages: readonly HostMessage[]) {
    if (this.failure) return Promise.reject(this.failure);
    let meeting = this.meetings.get(key);
    if (!meeting) {
      meeting = { messages: new Array(members.length).fill(undefined), waiters: [], timer: undefined };
      this.meetings.set(key, meeting);
      const m = meeting;
      meeting.timer = setTimeout(() => {
        const missing = members.filter((_, i) => m.messages[i] === undefined);
        this.fail(
          new SwitchyardError(
            'BACKEND_UNAVAILABLE',
            'VirtualCommunicator',
            `timed out after ${this.timeoutMs} ms waiting for rank(s) ${missing.join(', ')} in a collective`,
          ),
        );
      }, this.timeoutMs);
    }
    // Copies, so that ranks never share host memory (as separate devices would not).
    meeting.messages[member] = messages.map((m) => ({ ...m, data: m.data.slice() }));
    const promise = new Promise<HostMessage[]>((resolve, reject) => {
      meeting.waiters.push({ member, resolve, reject });
    });
    if (meeting.messages.every((m) => m !== undefined)) {
      clearTimeout(meeting.timer);
      this.meetings.delete(key);
      for (const w of meeting.waiters) {
        w.resolve(meeting.messages.map((from) => (from as HostMessage[])[w.member] as HostMessage));
      }
    }
    return promise;
  }

  /** Rejects every pending and later collective with `error`. */
  fail(error: SwitchyardError): void {
    this.failure ??= error;
    for (const meeting of this.meetings.values()) {
      clearTimeout(meeting.timer);
      for (const w of meeting.waiters) w.reject(this.failure);
    }
    this.meetings.clear();
  }
}

/** One in-process rank. Created by `createVirtualCluster`. */
export class VirtualCommunicator extends MessageCommunicator {
  readonly #world: VirtualWorld;
  readonly #backend: Backend;
  readonly #id: string;
  /** World ranks of this group's members. */
  readonly #members: readonly number[];
  #seq = 0;
  #splits = 0;

  /** @internal */
  constructor(world: VirtualWorld, backend: Backend, id: string, members: readonly number[], rank: number) {
    super(rank, members.length, false);
    this.#world = world;
    this.#backend = backend;
    this.#id = id;
    this.#members = members;
  }

  get backend(): Backend {
    return this.#backend;
  }

  /** Makes every pending and later collective of the cluster reject (what `runVirtualRanks` does on failure). */
  abort(reason: string): void {
    this.#world.fail(new SwitchyardError('BACKEND_UNAVAILABLE', 'VirtualCommunicator', reason));
  }

  protected exchange(messages: readonly HostMessage[]): Promise<HostMessage[]> {
    return this.#world.meet(`${this.#id}#${this.#seq++}`, this.#members, this.rank, messages);
  }

  protected subgroup(members: readonly number[], color: number): Communicator {
    const id = `${this.#id}/${this.#splits++}:${color}`;
    const world = members.map((m) => this.#members[m] as number);
    return new VirtualCommunicator(this.#world, this.#backend, id, world, members.indexOf(this.rank));
  }
}

/**
 * In-process ranks for tests and for WebGPU: rank r's tensors live on its own backend (a fresh CPU backend
 * each by default, or the given devices), and collectives copy host values between them as a network would.
 * All ranks share one thread, so run their programs concurrently with `runVirtualRanks` (each awaits at its
 * collectives) and wrap each rank's synchronous tensor work in `withBackend(comm.backend, ...)`.
 *
 * @example
 * ```ts
 * const comms = createVirtualCluster({ size: 2 });
 * const sums = await runVirtualRanks(comms, async (comm) => {
 *   const x = withBackend(comm.backend, () => full([2], comm.rank + 1));
 *   return (await comm.allReduce(x)).dataSync(); // [3, 3] on both ranks
 * });
 * ```
 */
export function createVirtualCluster(options: VirtualClusterOptions): VirtualCommunicator[] {
  const { size, backends, timeoutMs = 60_000 } = options;
  if ((size === undefined) === (backends === undefined)) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'createVirtualCluster',
      'give exactly one of size and backends',
    );
  }
  const list = backends ?? Array.from({ length: size as number }, () => createCpuBackend());
  if (!Number.isInteger(list.length) || list.length < 1) {
    throw new SwitchyardError('INVALID_ARGUMENT', 'createVirtualCluster', `size must be >= 1, got ${size}`);
  }
  if (!(timeoutMs > 0)) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'createVirtualCluster',
      `timeoutMs must be > 0, got ${timeoutMs}`,
    );
  }
  const world = new VirtualWorld(timeoutMs);
  const members = list.map((_, r) => r);
  return list.map((backend, r) => new VirtualCommunicator(world, backend, 'world', members, r));
}

/**
 * Runs `fn` on every rank concurrently and resolves with each rank's result. When a rank throws, the cluster
 * is aborted, so every other rank's pending or next collective rejects instead of waiting forever; the
 * returned promise then rejects with the first rank's error.
 */
export async function runVirtualRanks<C extends Communicator & { abort(reason: string): void }, R>(
  comms: readonly C[],
  fn: (comm: C) => Promise<R>,
): Promise<R[]> {
  let first: { rank: number; error: unknown } | null = null;
  const settled = await Promise.allSettled(
    comms.map(async (comm) => {
      try {
        return await fn(comm);
      } catch (error) {
        if (!first) {
          first = { rank: comm.rank, error };
          comm.abort(`rank ${comm.rank} of ${comm.size} failed: ${(error as Error).message}`);
        }
        throw error;
      }
    }),
  );
  if (first) throw (first as { error: unknown }).error;
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}

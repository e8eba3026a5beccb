import { type Backend, getBackend } from '@switchyard/tensor';
import type { Communicator } from './communicator.js';
import { type HostMessage, MessageCommunicator } from './message-communicator.js';
import type { WorkerTransport } from './worker-transport.js';

/**
 * One rank per worker thread, over shared memory (see `launchWorkers`). Its tensors live on the worker's
 * active backend. Collectives block the worker thread while they wait (never the main thread), so the
 * returned promises are already settled when they come back, and `sync` offers the same collectives without
 * promises (what lets `MoELayer.forward` run expert-parallel inside `noGrad`).
 */
export class WorkerCommunicator extends MessageCommunicator {
  readonly #transport: WorkerTransport;
  readonly #id: string;
  /** World ranks of this group's members. */
  readonly #members: readonly number[];
  #seq = 0;
  #splits = 0;

  /** @internal */
  constructor(transport: WorkerTransport, id: string, members: readonly number[], rank: number) {
    super(rank, members.length, true);
    this.#transport = transport;
    this.#id = id;
    this.#members = members;
  }

  get backend(): Backend {
    return getBackend();
  }

  protected exchange(messages: readonly HostMessage[]): Promise<HostMessage[]> {
    try {
      return Promise.resolve(this.exchangeSync(messages));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  protected override exchangeSync(messages: readonly HostMessage[]): HostMessage[] {
    return this.#transport.exchange(
      'WorkerCommunicator',
      `${this.#id}#${this.#seq++}`,
      this.#members,
      messages,
    );
  }

  protected subgroup(members: readonly number[], color: number): Communicator {
    const id = `${this.#id}/${this.#splits++}:${color}`;
    const world = members.map((m) => this.#members[m] as number);
    return new WorkerCommunicator(this.#transport, id, world, members.indexOf(this.rank));
  }
}

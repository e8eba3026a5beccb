import {
  type AnyHostArray,
  type Backend,
  type DType,
  fmtShape,
  fromHost,
  SwitchyardError,
  Tensor,
} from '@switchyard/tensor';
import type { AllToAllResult, Communicator, ReduceOp, SyncCollectives } from './communicator.js';
import { withBackend } from './with-backend.js';

/** A tensor's values on the host, as transports move them (floats travel as f32). */
export interface HostMessage {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: AnyHostArray;
}

/** One collective: what to send once the input is on the host, and how to turn what arrived into the result. */
interface Plan<T> {
  messages(data: AnyHostArray | null): HostMessage[];
  finish(received: HostMessage[]): T;
}

const EMPTY: HostMessage = { dtype: 'i32', shape: [0], data: new Int32Array(0) };
const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'mean', 'max', 'min'];

function emptyLike(data: AnyHostArray, length: number): AnyHostArray {
  return new (data.constructor as new (n: number) => AnyHostArray)(length);
}

function checkTensor(op: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new SwitchyardError('INVALID_ARGUMENT', op, 'x must be a Tensor');
  if (x.isDisposed) throw new SwitchyardError('USE_AFTER_DISPOSE', op, `x ${fmtShape(x.shape)} was disposed`);
}

/**
 * The collectives of `Communicator` written once over one transport primitive, `exchange`: every member
 * sends one message to every member (itself included) and receives one from each. Virtual ranks and worker
 * threads differ only in how `exchange` moves bytes and in how subgroups are named; a transport that can block
 * also implements `exchangeSync`, which gives the group its blocking `sync` collectives.
 */
export abstract class MessageCommunicator implements Communicator {
  readonly rank: number;
  readonly size: number;
  readonly sync: SyncCollectives | null;

  constructor(rank: number, size: number, blocking: boolean) {
    this.rank = rank;
    this.size = size;
    this.sync = blocking
      ? {
          allToAll: (x, sendSplits) => this.#runSync(this.#allToAll(x, sendSplits), x),
          allReduce: (x, op = 'sum') => this.#runSync(this.#allReduce(x, op), x),
          allGather: (x) => this.#runSync(this.#allGather(x), x),
        }
      : null;
  }

  abstract get backend(): Backend;

  /** `messages[i]` goes to member i; resolves with the message each member sent here, by member. */
  protected abstract exchange(messages: readonly HostMessage[]): Promise<HostMessage[]>;

  /** The blocking `exchange`, for transports constructed with `blocking`. */
  protected exchangeSync(_messages: readonly HostMessage[]): HostMessage[] {
    throw new SwitchyardError('UNSUPPORTED', 'Communicator', 'this transport cannot block');
  }

  /** The communicator of a subgroup: `members` are ranks of this group in their new order. */
  protected abstract subgroup(members: readonly number[], color: number): Communicator;

  async allToAll(x: Tensor, sendSplits: readonly number[]): Promise<AllToAllResult> {
    return this.#run(this.#allToAll(x, sendSplits), x);
  }

  async allReduce(x: Tensor, op: ReduceOp = 'sum'): Promise<Tensor> {
    return this.#run(this.#allReduce(x, op), x);
  }

  async allGather(x: Tensor): Promise<Tensor[]> {
    return this.#run(this.#allGather(x), x);
  }

  async broadcast(x: Tensor | null, root: number): Promise<Tensor> {
    const op = 'broadcast';
    if (!Number.isInteger(root) || root < 0 || root >= this.size) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        op,
        `root must be a rank in [0, ${this.size}), got ${root}`,
      );
    }
    let mine = EMPTY;
    if (this.rank === root) {
      if (x === null)
        throw new SwitchyardError('INVALID_ARGUMENT', op, `the root (rank ${root}) must pass a tensor`);
      checkTensor(op, x);
      mine = { dtype: x.dtype, shape: x.shape, data: await x.data() };
    }
    const received = await this.exchange(new Array<HostMessage>(this.size).fill(mine));
    return this.#tensor(received[root] as HostMessage);
  }

  async barrier(): Promise<void> {
    await this.exchange(new Array<HostMessage>(this.size).fill(EMPTY));
  }

  async split(color: number, key: number = this.rank): Promise<Communicator> {
    for (const [name, v] of [
      ['color', color],
      ['key', key],
    ] as const) {
      if (!Number.isInteger(v)) {
        throw new SwitchyardError('INVALID_ARGUMENT', 'split', `${name} must be an integer, got ${v}`);
      }
    }
    const mine = { dtype: 'i32' as const, shape: [2], data: Int32Array.of(color, key) };
    const received = await this.exchange(new Array<HostMessage>(this.size).fill(mine));
    const members = received
      .map((m, r) => ({ r, color: m.data[0] as number, key: m.data[1] as number }))
      .filter((m) => m.color === color)
      .sort((a, b) => a.key - b.key || a.r - b.r)
      .map((m) => m.r);
    return this.subgroup(members, color);
  }

  async #run<T>(plan: Plan<T>, x: Tensor): Promise<T> {
    return plan.finish(await this.exchange(plan.messages(await x.data())));
  }

  #runSync<T>(plan: Plan<T>, x: Tensor): T {
    return plan.finish(this.exchangeSync(plan.messages(x.dataSync())));
  }

  #allToAll(x: Tensor, sendSplits: readonly number[]): Plan<AllToAllResult> {
    const op = 'allToAll';
    checkTensor(op, x);
    if (x.rank < 1)
      throw new SwitchyardError('SHAPE_MISMATCH', op, `x must have rows, got ${fmtShape(x.shape)}`);
    if (!Array.isArray(sendSplits) || sendSplits.length !== this.size) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        op,
        `sendSplits must list ${this.size} row counts (one per rank), got ${JSON.stringify(sendSplits)}`,
      );
    }
    let total = 0;
    for (const s of sendSplits) {
      if (!Number.isInteger(s) || s < 0) {
        throw new SwitchyardError(
          'INVALID_ARGUMENT',
          op,
          `sendSplits must be non-negative integers, got ${s}`,
        );
      }
      total += s;
    }
    if (total !== x.shape[0]) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        op,
        `sendSplits [${sendSplits.join(', ')}] sum to ${total} but x is ${fmtShape(x.shape)}`,
      );
    }
    const rest = x.shape.slice(1);
    const row = rest.reduce((a, b) => a * b, 1);
    let like: AnyHostArray | null = null;
    return {
      messages: (data) => {
        like = data as AnyHostArray;
        let offset = 0;
        return sendSplits.map((rows) => {
          const part = like?.subarray(offset * row, (offset + rows) * row) as AnyHostArray;
          offset += rows;
          return { dtype: x.dtype, shape: [rows, ...rest], data: part };
        });
      },
      finish: (received) => {
        received.forEach((m, r) => {
          if (m.dtype !== x.dtype || m.shape.slice(1).join() !== rest.join()) {
            throw new SwitchyardError(
              'SHAPE_MISMATCH',
              op,
              `rank ${r} sent ${m.dtype} ${fmtShape(m.shape)} but this rank sends ${x.dtype} ${fmtShape(x.shape)} rows`,
            );
          }
        });
        const recvSplits = received.map((m) => m.shape[0] as number);
        const rows = recvSplits.reduce((a, b) => a + b, 0);
        const out = emptyLike(like as AnyHostArray, rows * row);
        let offset = 0;
        for (const m of received) {
          out.set(m.data, offset);
          offset += m.data.length;
        }
        return { y: this.#tensor({ dtype: x.dtype, shape: [rows, ...rest], data: out }), recvSplits };
      },
    };
  }

  #allReduce(x: Tensor, op: ReduceOp): Plan<Tensor> {
    checkTensor('allReduce', x);
    if (!REDUCE_OPS.includes(op)) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        'allReduce',
        `op must be one of ${REDUCE_OPS.join(', ')}, got '${String(op)}'`,
      );
    }
    if (x.dtype === 'bool') {
      throw new SwitchyardError(
        'DTYPE_MISMATCH',
        'allReduce',
        `cannot reduce a bool tensor ${fmtShape(x.shape)}`,
      );
    }
    return {
      messages: (data) =>
        new Array<HostMessage>(this.size).fill({
          dtype: x.dtype,
          shape: x.shape,
          data: data as AnyHostArray,
        }),
      finish: (received) => {
        for (const [r, m] of received.entries()) {
          if (m.dtype !== x.dtype || m.shape.join() !== x.shape.join()) {
            throw new SwitchyardError(
              'SHAPE_MISMATCH',
              'allReduce',
              `rank ${r} passed ${m.dtype} ${fmtShape(m.shape)} but this rank passed ${x.dtype} ${fmtShape(x.shape)}`,
            );
          }
        }
        // In rank order, in f64: every rank computes bitwise the same result.
        const out = Float64Array.from((received[0] as HostMessage).data);
        for (let r = 1; r < received.length; r++) {
          const d = (received[r] as HostMessage).data;
          for (let i = 0; i < out.length; i++) {
            const v = d[i] as number;
            const o = out[i] as number;
            out[i] = op === 'max' ? Math.max(o, v) : op === 'min' ? Math.min(o, v) : o + v;
          }
        }
        if (op === 'mean') for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / this.size;
        return this.#tensor({ dtype: x.dtype, shape: x.shape, data: out as unknown as AnyHostArray });
      },
    };
  }

  #allGather(x: Tensor): Plan<Tensor[]> {
    checkTensor('allGather', x);
    return {
      messages: (data) =>
        new Array<HostMessage>(this.size).fill({
          dtype: x.dtype,
          shape: x.shape,
          data: data as AnyHostArray,
        }),
      finish: (received) => received.map((m) => this.#tensor(m)),
    };
  }

  #tensor(m: HostMessage): Tensor {
    return withBackend(this.backend, () => fromHost(m.data, m.shape, m.dtype));
  }
}

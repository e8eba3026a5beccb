// Shape letters: T tokens, D model width, E experts, A assignments, S rows this rank sends (its kept
// assignments), R rows its local experts compute, L local expert slots, N ranks of the expert-parallel group,
// P ranks of the expert-tensor-parallel group.
import {
  type CapacityConfig,
  type Dispatcher,
  type DispatchMeta,
  type DispatchOptions,
  type DispatchResult,
  LocalDispatcher,
} from '@switchyard/moe';
import {
  concat,
  fmtShape,
  fromHost,
  gather,
  isGradEnabled,
  SwitchyardError,
  slice,
  type Tensor,
  tidy,
  zeros,
} from '@switchyard/tensor';
import { CollectiveTape } from './collective-tape.js';
import type { Communicator } from './communicator.js';
import type { ExpertPlacement } from './placement.js';
import { allGather, allReduce, allToAll, read, runAsync, runSync, type Steps } from './steps.js';
import { withBackend } from './with-backend.js';

/** The routing currency of @switchyard/routers, as moe's `Dispatcher` takes it. */
type Routing = Parameters<Dispatcher['dispatch']>[1];

/** The process groups an expert-parallel layer runs over. */
export interface ExpertParallelGroups {
  /** Expert parallelism: its N ranks host different experts (`placement.numRanks` = N). */
  expert: Communicator;
  /**
   * Expert-tensor parallelism: P ranks that host the same experts, each with 1/P of every expert's hidden
   * width; they pool their routed rows, compute partial outputs and sum them. Omit for P = 1.
   */
  expertTensor?: Communicator;
}

/** Everything `combineAsync` needs, produced by `dispatchAsync`. */
export interface ExpertParallelPlan {
  /** Rows this rank computes, grouped by local slot: [R, D]. */
  readonly routed_RD: Tensor;
  /** Rows per local slot [L], i32 (the local experts' segment sizes). */
  readonly counts_L: Tensor;
  /** This rank's assignments per expert before capacity [E], i32. */
  readonly routed_E: Tensor;
  /** This rank's assignments per expert after capacity [E], i32. */
  readonly kept_E: Tensor;
  /** @internal */
  readonly state: CombineState;
}

/** The meta `dispatch` hands to `combine` through `MoELayer.forward`. */
interface SyncMeta extends DispatchMeta {
  readonly plan?: ExpertParallelPlan;
  readonly tape?: CollectiveTape;
}

interface CombineState {
  readonly meta: DispatchMeta;
  /** For each row received from the expert-parallel exchange, its position in routed_RD (ETP: among own rows). */
  readonly pos: Int32Array;
  readonly recvSplits: readonly number[];
  /** ETP: where this rank's rows sit in the pooled buffer, and the pooled buffer's order. */
  readonly pooled: { readonly order: Int32Array; readonly start: number; readonly rows: number } | null;
}

function counting(keys: Int32Array, buckets: number): { order: Int32Array; counts: Int32Array } {
  const counts = new Int32Array(buckets);
  for (const k of keys) if (k >= 0) counts[k] = (counts[k] as number) + 1;
  const next = new Int32Array(buckets);
  for (let b = 1; b < buckets; b++) next[b] = (next[b - 1] as number) + (counts[b - 1] as number);
  const order = new Int32Array(keys.reduce((n, k) => n + (k >= 0 ? 1 : 0), 0));
  keys.forEach((k, i) => {
    if (k < 0) return;
    order[next[k] as number] = i;
    next[k] = (next[k] as number) + 1;
  });
  return { order, counts };
}

/**
 * Expert-parallel dispatch (GShard, Lepikhin et al. 2020; DeepSpeed-MoE; Megatron-Core's all-to-all token
 * dispatcher): each rank routes its own tokens, then
 *
 * 1. decides capacity globally when configured: C = ceil(A / E · factor) over the A assignments of all ranks
 *    (an all-gather of per-expert counts, or of the assignments and weights for the `probs` policy), each
 *    expert keeping the same C assignments as the single-device `LocalDispatcher` on the ranks' tokens
 *    concatenated in (expert rank, expert-tensor rank) order; dropped assignments never leave their rank;
 * 2. exchanges counts (an all-to-all of rows per destination expert), then token rows (an all-to-all with
 *    variable splits), each row going to the rank hosting its expert (`placement.hostFor`);
 * 3. groups the received rows by local expert for the experts' grouped matmul;
 *
 * and `combineAsync` reverses it: rows back to the received order, the reverse all-to-all, then the weighted
 * scatter-add of `LocalDispatcher.combine`. With an expert-tensor group, the received rows of its P ranks are
 * pooled (all-gather), each rank computes its slice of the hidden width, and the partial outputs are summed
 * (all-reduce). Outputs and gradients equal the single-device layer's on the concatenated tokens.
 *
 * Two ways to run it:
 *
 * - The synchronous `Dispatcher` methods, which `MoELayer.forward` calls, where the groups have blocking
 *   collectives (worker ranks). Each collective is then a custom-gradient node (`customGrad` of
 *   @switchyard/tensor) whose backward runs the adjoint collective (all-to-all ↔ all-to-all with the received
 *   splits, all-gather ↔ reduce-scatter, all-reduce ↔ all-reduce) inside `loss.backward()`: an unchanged model
 *   trains expert-parallel through its own `forward` and one `backward()`, and runs inference inside `noGrad`.
 *   Every rank must call `backward()` on a loss that depends on every MoE layer's output, since each rank's
 *   backward takes part in every layer's adjoint exchanges. On ranks without blocking collectives (virtual
 *   ranks sharing a thread) these methods throw UNSUPPORTED.
 * - `dispatchAsync`/`combineAsync` with a `CollectiveTape`, on any communicator: the graph is cut at each
 *   collective and the tape exchanges the gradients backwards; `ExpertParallelLayer` drives it.
 */
export class AllToAllDispatcher implements Dispatcher {
  readonly placement: ExpertPlacement;
  readonly groups: ExpertParallelGroups;
  readonly #local: LocalDispatcher;

  constructor(placement: ExpertPlacement, groups: ExpertParallelGroups, capacity: CapacityConfig = {}) {
    const op = 'AllToAllDispatcher';
    if (groups.expert.size !== placement.numRanks) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        op,
        `the placement spans ${placement.numRanks} ranks but the expert group has ${groups.expert.size}`,
      );
    }
    this.placement = placement;
    this.groups = groups;
    this.#local = new LocalDispatcher(capacity);
  }

  /** Blocking dispatch for `MoELayer.forward` on worker ranks, differentiable (see the class comment). */
  dispatch(x_TD: Tensor, routing: Routing, options: DispatchOptions): DispatchResult {
    const op = 'AllToAllDispatcher.dispatch';
    this.#checkSynchronous(op);
    const tape = new CollectiveTape(this.groups.expert.backend);
    const plan = runSync(op, this.#dispatch(x_TD, routing, options, tape));
    const meta: SyncMeta = { ...plan.state.meta, plan, tape };
    return {
      routed_RD: plan.routed_RD,
      counts_E: plan.counts_L,
      routed_E: plan.routed_E,
      kept_E: plan.kept_E,
      meta,
    };
  }

  /** Blocking combine for `MoELayer.forward`, after `dispatch`; differentiable like it. */
  combine(y_RD: Tensor, meta: DispatchMeta): Tensor {
    const op = 'AllToAllDispatcher.combine';
    this.#checkSynchronous(op);
    const { plan, tape } = meta as SyncMeta;
    if (!plan || !tape) {
      throw new SwitchyardError('INVALID_ARGUMENT', op, "meta must come from this dispatcher's dispatch");
    }
    try {
      return runSync(op, this.#combine(y_RD, plan, tape));
    } finally {
      tape.dispose();
    }
  }

  /**
   * Routes this rank's tokens to the ranks hosting their experts; see the class comment. The tape
   * back-propagates into `x_TD`'s graph after the caller's `loss.backward()`, so `x_TD` must not share graph
   * nodes with what that call traverses (give it its own view of a leaf, as `ExpertParallelLayer` does).
   */
  async dispatchAsync(
    x_TD: Tensor,
    routing: Routing,
    options: DispatchOptions,
    tape: CollectiveTape,
  ): Promise<ExpertParallelPlan> {
    return runAsync(this.#dispatch(x_TD, routing, options, tape));
  }

  /** Brings the local experts' outputs back to their tokens: the reverse of `dispatchAsync`. */
  combineAsync(y_RD: Tensor, plan: ExpertParallelPlan, tape: CollectiveTape): Promise<Tensor> {
    return runAsync(this.#combine(y_RD, plan, tape));
  }

  *#dispatch(
    x_TD: Tensor,
    routing: Routing,
    options: DispatchOptions,
    tape: CollectiveTape,
  ): Steps<ExpertParallelPlan> {
    const op = 'AllToAllDispatcher.dispatch';
    const comm = this.groups.expert;
    const { placement } = this;
    const e = placement.numExperts;
    if (routing.numExperts !== e) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        op,
        `the routing has ${routing.numExperts} experts but the placement ${e}`,
      );
    }
    if (x_TD.rank !== 2) {
      throw new SwitchyardError('SHAPE_MISMATCH', op, `x must be [T, D], got ${fmtShape(x_TD.shape)}`);
    }
    const [t, d] = x_TD.shape as [number, number];
    const expert = (yield* read(routing.expert_A)) as Int32Array;
    const token = (yield* read(routing.token_A)) as Int32Array;
    const a = expert.length;
    if (token.length !== a || routing.weight_A.size !== a) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        op,
        `routing has token_A ${fmtShape(routing.token_A.shape)}, expert_A ${fmtShape(routing.expert_A.shape)}, weight_A ${fmtShape(routing.weight_A.shape)}`,
      );
    }
    const routed = new Int32Array(e);
    for (const x of expert) routed[x] = (routed[x] as number) + 1;
    const keep =
      routing.kind === 'expert-choice' ? null : yield* this.#keep(expert, routing.weight_A, routed, options);
    const c = keep?.capacity;
    // Send plan: kept assignments sorted by destination slot (rank-major, slot order within a rank).
    const base = new Int32Array(placement.numRanks + 1);
    placement.slots.forEach((s, r) => {
      base[r + 1] = (base[r] as number) + s.length;
    });
    const slotOf = placement.slots.map((s) => new Map(s.map((x, i) => [x, i])));
    const key = new Int32Array(a);
    for (let i = 0; i < a; i++) {
      if (keep && !keep.mask[i]) {
        key[i] = -1;
        continue;
      }
      const x = expert[i] as number;
      const dest = placement.hostFor(x, comm.rank);
      key[i] = (base[dest] as number) + ((slotOf[dest] as Map<number, number>).get(x) as number);
    }
    const { order, counts: slotCounts } = counting(key, base[placement.numRanks] as number);
    const s = order.length;
    const row_A = new Int32Array(a).fill(s);
    order.forEach((assignment, row) => {
      row_A[assignment] = row;
    });
    const sendToken = Int32Array.from(order, (i) => token[i] as number);
    const sendSplits = placement.slots.map((_, r) => {
      let n = 0;
      for (let k = base[r] as number; k < (base[r + 1] as number); k++) n += slotCounts[k] as number;
      return n;
    });
    const kept = new Int32Array(e);
    for (let i = 0; i < a; i++)
      if (key[i] !== -1) kept[expert[i] as number] = (kept[expert[i] as number] as number) + 1;
    const localSlots = placement.slots[comm.rank] as readonly number[];
    const l = localSlots.length;
    // Counts, then rows.
    const countSplits = placement.slots.map((x) => x.length);
    const countsIn = withBackend(comm.backend, () => fromHost(slotCounts, [slotCounts.length], 'i32'));
    const exchanged = yield* allToAll(comm, countsIn, countSplits);
    countsIn.dispose();
    const recvCounts = (yield* read(exchanged.y)) as Int32Array;
    exchanged.y.dispose();
    const send_SD = withBackend(comm.backend, () =>
      tidy(() => gather(x_TD, fromHost(sendToken, [s], 'i32'))),
    );
    const { y: recv_RD, recvSplits } = yield* allToAll(comm, send_SD, sendSplits);
    tape.recordAllToAll(comm, send_SD, recv_RD, recvSplits);
    // Received rows grouped by local slot: slot-major, then source rank.
    const group = this.#group(recvCounts, comm.size, l, c);
    let routed_RD = withBackend(comm.backend, () =>
      tidy(() => {
        const padded = concat([recv_RD, zeros([1, d], recv_RD.dtype)], 0);
        return gather(padded, fromHost(group.perm, [group.perm.length], 'i32'));
      }),
    );
    let counts = group.counts;
    let pooled: CombineState['pooled'] = null;
    const tp = this.groups.expertTensor;
    if (tp && tp.size > 1) {
      const pool = yield* this.#pool(tp, tape, routed_RD, counts);
      routed_RD = pool.routed_RD;
      counts = pool.counts;
      pooled = pool.pooled;
    }
    const meta = withBackend(comm.backend, () => ({
      row_A: fromHost(row_A, [a], 'i32'),
      token_A: routing.token_A,
      weight_A: routing.weight_A,
      numTokens: t,
      numRows: s,
    }));
    return withBackend(comm.backend, () => ({
      routed_RD,
      counts_L: fromHost(counts, [l], 'i32'),
      routed_E: fromHost(routed, [e], 'i32'),
      kept_E: fromHost(kept, [e], 'i32'),
      state: { meta, pos: group.pos, recvSplits, pooled },
    }));
  }

  *#combine(y_RD: Tensor, plan: ExpertParallelPlan, tape: CollectiveTape): Steps<Tensor> {
    const comm = this.groups.expert;
    const { meta, pos, recvSplits, pooled } = plan.state;
    if (y_RD.rank !== 2 || y_RD.shape[0] !== plan.routed_RD.shape[0]) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        'AllToAllDispatcher.combine',
        `y must be [${plan.routed_RD.shape[0]}, D] like the routed rows, got ${fmtShape(y_RD.shape)}`,
      );
    }
    let own_RD = y_RD;
    let ownIsTemporary = false;
    if (pooled) {
      // Partial outputs of every pooled row, in the ranks' order; their sum over the group is the output.
      const partial = withBackend(comm.backend, () =>
        tidy(() => gather(y_RD, fromHost(inverse(pooled.order), [pooled.order.length], 'i32'))),
      );
      const tp = this.groups.expertTensor as Communicator;
      const total = yield* allReduce(tp, partial);
      tape.recordAllReduce(tp, partial, total);
      own_RD = withBackend(comm.backend, () => slice(total, [pooled.start], [pooled.rows]));
      // The tape owns `total`, and a slice covering all of it is `total` itself.
      ownIsTemporary = own_RD !== total;
    }
    const y_recv = withBackend(comm.backend, () =>
      tidy(() => gather(own_RD, fromHost(pos, [pos.length], 'i32'))),
    );
    if (ownIsTemporary) own_RD.dispose();
    const back = yield* allToAll(comm, y_recv, recvSplits);
    tape.recordAllToAll(comm, y_recv, back.y, back.recvSplits);
    const y_back = back.y;
    const y_TD = withBackend(comm.backend, () => this.#local.combine(y_back, meta));
    meta.row_A.dispose();
    return y_TD;
  }

  /** Which assignments each expert keeps under capacity, decided over every rank's assignments. */
  *#keep(
    expert: Int32Array,
    weight_A: Tensor,
    routed: Int32Array,
    options: DispatchOptions,
  ): Steps<{ mask: Uint8Array; capacity: number } | null> {
    const e = this.placement.numExperts;
    const local = this.#local;
    if (local.capacityFactor === undefined) return null;
    const { parts: byRank, me } = yield* this.#gatherAll(routed, 'i32');
    const total = byRank.reduce((n, c) => n + c.reduce((m, v) => m + v, 0), 0);
    const c = local.capacity(total, e, options.training) as number;
    const mask = new Uint8Array(expert.length);
    if (local.dropPolicy === 'position') {
      // Global order is rank order, then position: the ranks before this one fill each expert first.
      const seen = new Int32Array(e);
      for (let r = 0; r < me; r++) {
        const counts = byRank[r] as Int32Array;
        for (let x = 0; x < e; x++) seen[x] = (seen[x] as number) + (counts[x] as number);
      }
      expert.forEach((x, i) => {
        mask[i] = (seen[x] as number) < c ? 1 : 0;
        seen[x] = (seen[x] as number) + 1;
      });
      return { mask, capacity: c };
    }
    // 'probs': each expert keeps its C largest weights over all ranks, ties to the earlier (rank, position).
    const experts = (yield* this.#gatherAll(expert, 'i32')).parts;
    const weights = (yield* this.#gatherAll((yield* read(weight_A)) as Float32Array, 'f32')).parts;
    const candidates: { w: number; rank: number; i: number }[][] = Array.from({ length: e }, () => []);
    experts.forEach((ex, rank) => {
      ex.forEach((x, i) => {
        (candidates[x] as { w: number; rank: number; i: number }[]).push({
          w: (weights[rank] as Float32Array)[i] as number,
          rank,
          i,
        });
      });
    });
    for (const list of candidates) {
      list.sort((p, q) => q.w - p.w || p.rank - q.rank || p.i - q.i);
      for (const k of list.slice(0, c)) if (k.rank === me) mask[k.i] = 1;
    }
    return { mask, capacity: c };
  }

  /**
   * Every rank's array over the ranks whose tokens can meet at one expert (the expert group, times the
   * expert-tensor group when there is one), in (expert rank, expert-tensor rank) order, and this rank's index.
   */
  *#gatherAll<A extends Int32Array | Float32Array>(
    values: A,
    dtype: 'i32' | 'f32',
  ): Steps<{ parts: A[]; me: number }> {
    const ep = this.groups.expert;
    const byExpertRank = yield* gatherHost(ep, values, dtype);
    const tp = this.groups.expertTensor;
    if (!tp || tp.size === 1) return { parts: byExpertRank, me: ep.rank };
    // Pack the expert group's arrays behind their lengths, gather the packs over the expert-tensor group.
    const lengths = byExpertRank.map((p) => p.length);
    const packed = new (values.constructor as new (n: number) => A)(
      1 + ep.size + lengths.reduce((a, b) => a + b, 0),
    );
    packed.set([ep.size, ...lengths]);
    let offset = 1 + ep.size;
    for (const p of byExpertRank) {
      packed.set(p, offset);
      offset += p.length;
    }
    const packs = yield* gatherHost(tp, packed, dtype);
    const parts: A[] = [];
    for (let r = 0; r < ep.size; r++) {
      for (const pack of packs) {
        let start = 1 + ep.size;
        for (let k = 0; k < r; k++) start += pack[1 + k] as number;
        parts.push(pack.subarray(start, start + (pack[1 + r] as number)) as A);
      }
    }
    return { parts, me: ep.rank * tp.size + tp.rank };
  }

  /**
   * Order of the received rows grouped by local slot (slot-major, then source rank), each slot padded to C
   * rows with the zero row (index R_in) under `padToCapacity`; and where each received row lands.
   */
  #group(
    recvCounts: Int32Array,
    sources: number,
    l: number,
    c: number | undefined,
  ): { perm: Int32Array; pos: Int32Array; counts: Int32Array } {
    const at = (src: number, slot: number) => recvCounts[src * l + slot] as number;
    const start = new Int32Array(sources * l);
    let offset = 0;
    for (let src = 0; src < sources; src++) {
      for (let slot = 0; slot < l; slot++) {
        start[src * l + slot] = offset;
        offset += at(src, slot);
      }
    }
    const received = offset;
    const pad = this.#local.padToCapacity && c !== undefined;
    const counts = new Int32Array(l);
    const perm: number[] = [];
    const pos = new Int32Array(received);
    for (let slot = 0; slot < l; slot++) {
      for (let src = 0; src < sources; src++) {
        for (let k = 0; k < at(src, slot); k++) {
          pos[(start[src * l + slot] as number) + k] = perm.length;
          perm.push((start[src * l + slot] as number) + k);
        }
      }
      const rows = perm.length - counts.reduce((n, v) => n + v, 0);
      counts[slot] = pad ? (c as number) : rows;
      if (pad) for (let k = rows; k < (c as number); k++) perm.push(received);
    }
    return { perm: Int32Array.from(perm), pos, counts };
  }

  /** ETP: pools the routed rows of the expert-tensor group, slot-major over its ranks. */
  *#pool(
    tp: Communicator,
    tape: CollectiveTape,
    own_RD: Tensor,
    counts: Int32Array,
  ): Steps<{ routed_RD: Tensor; counts: Int32Array; pooled: NonNullable<CombineState['pooled']> }> {
    const l = counts.length;
    const byRank = yield* gatherHost(tp, counts, 'i32');
    if (byRank.some((c) => c.length !== l)) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        'AllToAllDispatcher',
        `expert-tensor ranks must host the same experts; they hold ${byRank.map((c) => c.length).join(', ')} slots`,
      );
    }
    const parts = yield* allGather(tp, own_RD);
    const splits = parts.map((p) => p.shape[0] as number);
    const all_RD = withBackend(tp.backend, () => concat(parts, 0));
    for (const p of parts) p.dispose();
    const rankStart = splits.map((_, r) => splits.slice(0, r).reduce((n, v) => n + v, 0));
    tape.recordAllGather(tp, own_RD, all_RD, rankStart[tp.rank] as number);
    const order: number[] = [];
    const pooledCounts = new Int32Array(l);
    const slotStart = byRank.map((c) => {
      const s = new Int32Array(l);
      for (let k = 1; k < l; k++) s[k] = (s[k - 1] as number) + (c[k - 1] as number);
      return s;
    });
    for (let slot = 0; slot < l; slot++) {
      byRank.forEach((c, r) => {
        const first = (rankStart[r] as number) + ((slotStart[r] as Int32Array)[slot] as number);
        for (let k = 0; k < (c[slot] as number); k++) order.push(first + k);
        pooledCounts[slot] = (pooledCounts[slot] as number) + (c[slot] as number);
      });
    }
    const orderArray = Int32Array.from(order);
    const routed_RD = withBackend(tp.backend, () =>
      tidy(() => gather(all_RD, fromHost(orderArray, [order.length], 'i32'))),
    );
    return {
      routed_RD,
      counts: pooledCounts,
      pooled: { order: orderArray, start: rankStart[tp.rank] as number, rows: own_RD.shape[0] as number },
    };
  }

  #checkSynchronous(op: string): void {
    for (const comm of [this.groups.expert, this.groups.expertTensor]) {
      if (comm && !comm.sync) {
        throw new SwitchyardError(
          'UNSUPPORTED',
          op,
          isGradEnabled()
            ? 'MoELayer.forward trains expert-parallel only on ranks with blocking collectives (worker ranks): these ranks share one thread, so the adjoint collectives cannot run inside backward(); train through ExpertParallelLayer.forward/backward, which await them'
            : 'MoELayer.forward needs blocking collectives (worker ranks); these ranks share one thread, so run the layer through ExpertParallelLayer.forward',
        );
      }
    }
  }
}

function inverse(order: Int32Array): Int32Array {
  const out = new Int32Array(order.length);
  order.forEach((v, i) => {
    out[v] = i;
  });
  return out;
}

/** Every rank's host array (all-gather through tensors on the group's backend). */
function* gatherHost<A extends Int32Array | Float32Array>(
  comm: Communicator,
  values: A,
  dtype: 'i32' | 'f32',
): Steps<A[]> {
  const mine = withBackend(comm.backend, () => fromHost(values, [values.length], dtype));
  const parts = yield* allGather(comm, mine);
  mine.dispose();
  const out: A[] = [];
  for (const p of parts) {
    out.push((yield* read(p)) as A);
    p.dispose();
  }
  return out;
}

// Collectives on virtual ranks (each on its own CPU backend): results, subgroups, argument errors that print
// shapes, and failure without hanging (a rank that throws, a collective that times out).
import { fromHost, liveTensorCount, SwitchyardError, type Tensor } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import { type Communicator, createVirtualCluster, runVirtualRanks, withBackend } from '../src/index.js';

const on = <T>(comm: Communicator, fn: () => T): T => withBackend(comm.backend, fn);
const read = (t: Tensor) => Array.from(t.dataSync());

describe('virtual ranks', () => {
  it('run every collective with variable splits, and the results live on each rank', async () => {
    const before = liveTensorCount();
    const comms = createVirtualCluster({ size: 3 });
    const results = await runVirtualRanks(comms, async (comm) => {
      const r = comm.rank;
      const inputs: Tensor[] = [];
      const input = (values: number[], shape: number[], dtype: 'f32' | 'i32') => {
        const t = on(comm, () => fromHost(values, shape, dtype));
        inputs.push(t);
        return t;
      };
      // Rank r sends dest + 1 rows [10·r + dest] to each dest.
      const splits = [1, 2, 3];
      const rows = splits.flatMap((s, dest) => new Array(s).fill(10 * r + dest));
      const { y, recvSplits } = await comm.allToAll(input(rows, [rows.length, 1], 'f32'), splits);
      const sum = await comm.allReduce(input([r, 1], [2], 'f32'));
      const mean = await comm.allReduce(input([r], [1], 'f32'), 'mean');
      const min = await comm.allReduce(input([r + 5], [1], 'i32'), 'min');
      const all = await comm.allGather(input(new Array(r).fill(r), [r], 'i32'));
      const cast = await comm.broadcast(r === 1 ? input([4, 2], [2], 'i32') : null, 1);
      await comm.barrier();
      const pair = await comm.split(r === 2 ? 1 : 0, -r);
      const pairSum = await pair.allReduce(input([r], [1], 'f32'));
      const out = {
        received: read(y),
        recvSplits,
        sum: read(sum),
        mean: read(mean),
        min: read(min),
        all: all.map(read),
        cast: read(cast),
        pair: [pair.rank, pair.size, ...read(pairSum)],
      };
      for (const t of [y, sum, mean, min, cast, pairSum, ...all, ...inputs]) t.dispose();
      return out;
    });
    results.forEach((r, me) => {
      expect(r.recvSplits).toEqual([me + 1, me + 1, me + 1]);
      expect(r.received).toEqual([0, 10, 20].flatMap((base) => new Array(me + 1).fill(base + me)));
      expect(r.sum).toEqual([3, 3]);
      expect(r.mean).toEqual([1]);
      expect(r.min).toEqual([5]);
      expect(r.all).toEqual([[], [1], [2, 2]]);
      expect(r.cast).toEqual([4, 2]);
    });
    // split(color, key = −rank): ranks 0 and 1 form a pair ordered by key (rank 1 first), rank 2 is alone.
    expect(results.map((r) => r.pair)).toEqual([
      [1, 2, 1],
      [0, 2, 1],
      [0, 1, 2],
    ]);
    expect(liveTensorCount()).toBe(before);
  });

  it('report bad arguments with the shapes', async () => {
    const comm = createVirtualCluster({ size: 1 })[0] as Communicator;
    const x = on(comm, () => fromHost([1, 2, 3, 4, 5, 6], [3, 2], 'f32'));
    await expect(comm.allToAll(x, [2])).rejects.toThrow('[allToAll] sendSplits [2] sum to 2 but x is [3, 2]');
    await expect(comm.allToAll(x, [1, 2])).rejects.toThrow(/must list 1 row counts/);
    await expect(comm.allReduce(x, 'prod' as never)).rejects.toThrow(/op must be one of sum, mean, max, min/);
    await expect(comm.broadcast(null, 0)).rejects.toThrow(/the root \(rank 0\) must pass a tensor/);
    await expect(comm.broadcast(x, 1)).rejects.toThrow(/root must be a rank in \[0, 1\)/);
    x.dispose();
    await expect(comm.allGather(x)).rejects.toMatchObject({ code: 'USE_AFTER_DISPOSE' });
  });

  it('report ranks that pass different shapes to allReduce', async () => {
    const comms = createVirtualCluster({ size: 2 });
    await expect(
      runVirtualRanks(comms, (comm) =>
        comm.allReduce(on(comm, () => fromHost([1, 2, 3].slice(comm.rank), [3 - comm.rank], 'f32'))),
      ),
    ).rejects.toThrow(/rank 1 passed f32 \[2\] but this rank passed f32 \[3\]/);
  });

  it('fail every rank when one throws, instead of leaving the others waiting', async () => {
    const comms = createVirtualCluster({ size: 3 });
    const errors: unknown[] = [];
    await expect(
      runVirtualRanks(comms, async (comm) => {
        try {
          if (comm.rank === 1) throw new Error('rank 1 broke');
          await comm.barrier();
        } catch (error) {
          errors.push(error);
          throw error;
        }
      }),
    ).rejects.toThrow('rank 1 broke');
    expect(errors).toHaveLength(3);
    for (const e of errors.filter((e) => (e as Error).message !== 'rank 1 broke')) {
      expect(e).toBeInstanceOf(SwitchyardError);
      expect((e as SwitchyardError).code).toBe('BACKEND_UNAVAILABLE');
      expect((e as Error).message).toMatch(/rank 1 of 3 failed: rank 1 broke/);
    }
  });

  it('time out a collective that a rank never joins', async () => {
    const comms = createVirtualCluster({ size: 2, timeoutMs: 50 });
    await expect(
      runVirtualRanks(comms, async (comm) => {
        if (comm.rank === 0) await comm.barrier();
      }),
    ).rejects.toThrow(/timed out after 50 ms waiting for rank\(s\) 1/);
  });
});

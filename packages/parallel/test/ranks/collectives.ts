// A rank program for the worker tests: every collective once, results as plain arrays.
import { fromHost } from '@switchyard/tensor';
import type { Communicator } from '../../src/index.js';

export default async function collectives(comm: Communicator, data: { rows: number }) {
  const r = comm.rank;
  const n = comm.size;
  // Rank r sends r + dest rows of value 100·r + dest to each dest, 3 columns wide.
  const splits = Array.from({ length: n }, (_, dest) => (r + dest) % 3);
  const values = splits.flatMap((s, dest) => new Array(s * 3).fill(100 * r + dest));
  const { y, recvSplits } = await comm.allToAll(fromHost(values, [values.length / 3, 3], 'f32'), splits);
  const sum = await comm.allReduce(fromHost([r, 1, data.rows], [3], 'f32'));
  const max = await comm.allReduce(fromHost([r], [1], 'i32'), 'max');
  const gathered = await comm.allGather(fromHost(new Array(r + 1).fill(r), [r + 1], 'i32'));
  const big = await comm.allReduce(fromHost(new Float32Array(data.rows).fill(r + 1), [data.rows], 'f32'));
  const root = n - 1;
  const cast = await comm.broadcast(r === root ? fromHost([7, 8, 9], [3], 'f32') : null, root);
  await comm.barrier();
  const half = await comm.split(r % 2);
  const halfSum = await half.allReduce(fromHost([r], [1], 'f32'));
  return {
    received: Array.from(y.dataSync()),
    recvSplits,
    sum: Array.from(sum.dataSync()),
    max: max.dataSync()[0],
    gathered: gathered.map((t) => Array.from(t.dataSync())),
    bigFirst: big.dataSync()[0],
    bigLast: big.dataSync()[data.rows - 1],
    cast: Array.from(cast.dataSync()),
    half: { rank: half.rank, size: half.size, sum: halfSum.dataSync()[0] },
  };
}

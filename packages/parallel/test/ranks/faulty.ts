// A rank program that misbehaves on rank `data.bad` after one collective: exits, throws or hangs, while the
// other ranks go on to the next collective, which must fail rather than wait.
import { fromHost } from '@switchyard/tensor';
import type { Communicator } from '../../src/index.js';

export default async function faulty(
  comm: Communicator,
  data: { bad: number; mode: 'exit' | 'throw' | 'hang' },
) {
  await comm.allReduce(fromHost([1], [1], 'f32'));
  if (comm.rank === data.bad) {
    if (data.mode === 'exit') process.exit(3);
    if (data.mode === 'throw') throw new Error('rank program failed on purpose');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  }
  await comm.allReduce(fromHost([1], [1], 'f32'));
  return 'finished';
}

// A rank program that keeps meeting in collectives until its group fails (the test terminates a worker).
import { fromHost } from '@switchyard/tensor';
import type { Communicator } from '../../src/index.js';

export default async function waiting(comm: Communicator) {
  for (;;) await comm.allReduce(fromHost([comm.rank], [1], 'f32'));
}

// The rank runtime of a worker thread started by `startWorkers` (imported by worker-bootstrap.js): connects
// to the shared-memory transport, runs the entry's default export with the world communicator and reports its
// result or error to the launcher. A thrown error marks the cluster failed, so no other rank waits for it.
import { parentPort, workerData } from 'node:worker_threads';
import { SwitchyardError } from '@switchyard/tensor';
import type { WorkerInit } from './launch-workers.js';
import { WorkerCommunicator } from './worker-communicator.js';
import { WorkerTransport } from './worker-transport.js';

const init = workerData as WorkerInit;
const transport = new WorkerTransport(init.layout, init.rank, init.timeoutMs);
const members = Array.from({ length: init.layout.size }, (_, r) => r);
const comm = new WorkerCommunicator(transport, 'world', members, init.rank);
try {
  const program = (await import(init.entry)).default;
  if (typeof program !== 'function') {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'launchWorkers',
      `${init.entry} must export a default function (comm, data) => result`,
    );
  }
  const result = await program(comm, init.data);
  parentPort?.postMessage({ kind: 'result', result });
} catch (error) {
  transport.fail('threw');
  const e = error as Partial<SwitchyardError>;
  parentPort?.postMessage({
    kind: 'error',
    error: { message: String(e.message ?? error), code: e.code, op: e.op, stack: e.stack },
  });
}

// The page of test/browser-threads.test.ts: GEMM threads are refused on the page's main thread (it may not
// block) and run in a Web Worker; publishes both on `window.__threads`.
import { createCpuBackend } from '../../src/backends/cpu/cpu-backend.js';
import type { WorkerThreadsResults } from './threads-worker.js';

export interface ThreadsResults {
  isolated: boolean;
  /** The error `createCpuBackend({ threads: 2 })` raised on the main thread: code and message. */
  mainThread: string;
  worker: WorkerThreadsResults;
}

let mainThread = 'no error';
try {
  createCpuBackend({ threads: 2 });
} catch (err) {
  mainThread = `${(err as { code?: string }).code}: ${(err as Error).message}`;
}
const worker = new Worker('/worker.js', { type: 'module' });
const results = await new Promise<WorkerThreadsResults>((resolve) => {
  worker.onmessage = (e) => resolve(e.data as WorkerThreadsResults);
  worker.onerror = (e) => resolve({ shared: false, ready: 0, cases: [], error: e.message });
});
(globalThis as { __threads?: ThreadsResults }).__threads = {
  isolated: globalThis.crossOriginIsolated === true,
  mainThread,
  worker: results,
};

// Runs in a Web Worker of a cross-origin isolated page: starts a GEMM thread pool (a nested worker) and checks
// that products split over it are the same bits as on one thread; posts the results to the page.
import { compareSplit, randomBatch } from '../../src/backends/cpu/gemm-fixtures.js';
import { GemmThreads } from '../../src/backends/cpu/gemm-threads.js';
import { wasmGemm } from '../../src/backends/cpu/wasm-gemm.js';
import { shareWasmMemory, wasmMemory } from '../../src/backends/cpu/wasm-memory.js';

export interface WorkerThreadsResults {
  shared: boolean;
  ready: number;
  cases: { name: string; posted: number[]; same: boolean }[];
  error?: string;
}

async function main(): Promise<WorkerThreadsResults> {
  const results: WorkerThreadsResults = {
    shared: shareWasmMemory(),
    ready: 0,
    cases: [],
  };
  const gemm = wasmGemm();
  if (!gemm) return { ...results, error: 'no WebAssembly SIMD GEMM' };
  const pool = new GemmThreads(2, gemm.module, wasmMemory());
  try {
    for (let i = 0; i < 400 && pool.ready() < 1; i++) await new Promise((r) => setTimeout(r, 25));
    results.ready = pool.ready();
    const shapes: [string, number, number, number][] = [
      ['rows', 300, 72, 200],
      ['columns', 5, 1040, 300],
    ];
    for (const [name, m, n, k] of shapes) {
      const { posted, same } = compareSplit(gemm, pool, randomBatch(m, n, k, 1, false, m + n));
      results.cases.push({ name, posted, same });
    }
  } finally {
    pool.destroy();
  }
  return results;
}

main().then(
  (results) => postMessage(results),
  (err) => postMessage({ shared: false, ready: 0, cases: [], error: String(err) }),
);

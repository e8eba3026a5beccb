// Worker threads for the WebAssembly GEMM (wasm-gemm.ts). Each worker instantiates the same compiled GEMM
// module over the same shared memory (wasm-memory.ts), so once the caller has staged and packed a product's
// operands, its A panels (rows) or B panels (columns) can be split between the caller and the workers: each
// part computes its own block of C exactly as one thread would, so the result is the same bits.
// Kernels stay synchronous: the caller posts each part through a shared control block and blocks in
// Atomics.wait until the workers are done (Node, or a Web Worker; a browser's main thread may not block).

import { invariant, SwitchyardError } from '../../errors.js';

/** Int32 words of one worker's slot in the control block (64 bytes, so slots share no cache line). */
const SLOT = 16;
/** Slot words: the job posted (-1 asks the worker to exit), the last job done, ready, error, then the args. */
const GO = 0;
const DONE = 1;
const READY = 2;
const FAILED = 3;
const ARGS = 4;
/** Arguments of the module's `gemm` export. */
export const GEMM_ARGS = 11;
/**
 * Polls of a word before blocking on it (about 20-50 µs): a grouped product posts one part per expert, a few
 * tens of microseconds apart, and a futex wake-up costs about as much as a small part.
 */
const SPIN = 20000;

/**
 * The worker's whole program. It reads its job's arguments from its slot, calls `gemm`, and publishes the job
 * id in DONE; between jobs it polls GO, then blocks on it. Plain script, so Node's `eval` workers and a
 * browser's Blob workers both run it; it finds Node's message port the way `nodeWorkers` finds the Worker class.
 */
const WORKER_SOURCE = `'use strict';
const start = ({ module, memory, control, slot }) => {
  const ctl = new Int32Array(control);
  const base = slot * ${SLOT};
  const gemm = new WebAssembly.Instance(module, { env: { memory } }).exports.gemm;
  const args = new Array(${GEMM_ARGS});
  let last = Atomics.load(ctl, base + ${GO});
  Atomics.store(ctl, base + ${READY}, 1);
  for (;;) {
    let job = Atomics.load(ctl, base + ${GO});
    for (let i = 0; job === last && i < ${SPIN}; i++) job = Atomics.load(ctl, base + ${GO});
    if (job === last) {
      Atomics.wait(ctl, base + ${GO}, last);
      continue;
    }
    if (job === -1) break;
    last = job;
    for (let i = 0; i < ${GEMM_ARGS}; i++) args[i] = ctl[base + ${ARGS} + i];
    try {
      gemm(...args);
    } catch {
      Atomics.store(ctl, base + ${FAILED}, 1);
    }
    Atomics.store(ctl, base + ${DONE}, job);
    Atomics.notify(ctl, base + ${DONE});
  }
  if (typeof close === 'function') close();
};
const port = globalThis.process?.getBuiltinModule?.('node:worker_threads')?.parentPort;
if (port) port.once('message', start);
else self.onmessage = (e) => start(e.data);
`;

/** What both kinds of worker have in common. */
interface AnyWorker {
  postMessage(message: unknown): void;
  terminate(): unknown;
}

/** Why this thread cannot run GEMM workers, or null when it can. */
export function threadsUnavailable(): string | null {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') {
    return 'this engine has no SharedArrayBuffer (a browser page must be cross-origin isolated)';
  }
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
  } catch {
    return 'this thread may not block in Atomics.wait (a browser main thread): run the model in a Web Worker';
  }
  if (nodeWorkers() === null && typeof Worker !== 'function') return 'this engine has no worker threads';
  return null;
}

type NodeWorkerClass = new (
  source: string,
  options: { eval: true },
) => AnyWorker & { unref(): void; on(event: 'error', listener: () => void): void };

/** Node's Worker class, or null outside Node. */
function nodeWorkers(): NodeWorkerClass | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const module = proc?.getBuiltinModule?.('node:worker_threads') as { Worker?: NodeWorkerClass } | undefined;
  return module?.Worker ?? null;
}

/** The Blob URL of WORKER_SOURCE in a browser, made once and kept for every pool. */
let workerUrl: string | undefined;

/** Starts one worker running WORKER_SOURCE. */
function spawn(): AnyWorker {
  const NodeWorker = nodeWorkers();
  if (NodeWorker) {
    const worker = new NodeWorker(WORKER_SOURCE, { eval: true });
    // A backend never destroyed must not keep Node alive; a worker that dies is simply never ready.
    worker.unref();
    worker.on('error', () => {});
    return worker;
  }
  workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  return new Worker(workerUrl);
}

/**
 * A pool of `threads - 1` GEMM workers; the calling thread is the last of the `threads`. Workers start in
 * the background: a product only uses those that have finished starting, so nothing ever waits for one.
 */
export class GemmThreads {
  readonly #ctl: Int32Array;
  readonly #workers: AnyWorker[];
  #job = 0;

  /**
   * @param threads threads in all, the caller included (>= 2).
   * @param module the compiled GEMM module the caller runs, instantiated by every worker.
   * @param memory the shared memory it imports.
   * The caller has checked `threadsUnavailable()` and made the memory shared.
   */
  constructor(
    readonly threads: number,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
  ) {
    invariant(
      memory.buffer instanceof SharedArrayBuffer,
      'createCpuBackend',
      'GEMM worker threads need the shared memory (shareWasmMemory)',
    );
    const workers = threads - 1;
    this.#ctl = new Int32Array(new SharedArrayBuffer(workers * SLOT * 4));
    this.#workers = Array.from({ length: workers }, (_, slot) => {
      const worker = spawn();
      worker.postMessage({ module, memory, control: this.#ctl.buffer, slot });
      return worker;
    });
  }

  /** Workers ready to take a part now. */
  ready(): number {
    let n = 0;
    for (let w = 0; w < this.#workers.length; w++) if (Atomics.load(this.#ctl, w * SLOT + READY) === 1) n++;
    return n;
  }

  /**
   * Runs `gemm` over `parts`: part 0 on this thread, part i on the i-th ready worker (the caller checked
   * that enough are ready with `ready()`), and returns once every part is done.
   */
  run(gemm: (...args: number[]) => void, parts: readonly (readonly number[])[]): void {
    const ctl = this.#ctl;
    // Job ids stay in 1 ... 2^31 - 1: they go through Int32 words, and -1 means exit.
    const job = (this.#job % 0x7fff_ffff) + 1;
    this.#job = job;
    const slots: number[] = [];
    for (let w = 0; w < this.#workers.length && slots.length < parts.length - 1; w++) {
      const base = w * SLOT;
      if (Atomics.load(ctl, base + READY) !== 1) continue;
      const args = parts[slots.length + 1] as readonly number[];
      for (let i = 0; i < GEMM_ARGS; i++) ctl[base + ARGS + i] = args[i] as number;
      Atomics.store(ctl, base + GO, job);
      Atomics.notify(ctl, base + GO);
      slots.push(base);
    }
    // A part that throws here still waits for the workers, so none is left writing into the memory.
    let thrown: { error: unknown } | null = null;
    try {
      gemm(...(parts[0] as number[]));
      // Parts no ready worker took (none, as `ready()` only grows until `destroy`) run here.
      for (const args of parts.slice(slots.length + 1)) gemm(...args);
    } catch (error) {
      thrown = { error };
    }
    let failed = false;
    for (const base of slots) {
      let done = Atomics.load(ctl, base + DONE);
      for (let i = 0; done !== job && i < SPIN; i++) done = Atomics.load(ctl, base + DONE);
      while (done !== job) {
        Atomics.wait(ctl, base + DONE, done);
        done = Atomics.load(ctl, base + DONE);
      }
      if (Atomics.exchange(ctl, base + FAILED, 0) !== 0) failed = true;
    }
    if (thrown) throw thrown.error;
    if (failed) throw new SwitchyardError('INTERNAL', 'matmul', 'a GEMM worker thread failed');
  }

  /** Stops the workers; products then run on the calling thread alone. */
  destroy(): void {
    for (const [w, worker] of this.#workers.entries()) {
      const base = w * SLOT;
      Atomics.store(this.#ctl, base + READY, 0);
      Atomics.store(this.#ctl, base + GO, -1);
      Atomics.notify(this.#ctl, base + GO);
      worker.terminate();
    }
    this.#workers.length = 0;
  }
}

let active: GemmThreads | null = null;

/** Runs `fn` with `threads` as the GEMM pool of the products it computes (the CPU backend's `run`). */
export function withGemmThreads<T>(threads: GemmThreads | null, fn: () => T): T {
  const previous = active;
  active = threads;
  try {
    return fn();
  } finally {
    active = previous;
  }
}

/** The pool of the kernel running now, if its backend has one. */
export function activeGemmThreads(): GemmThreads | null {
  return active;
}

import { Worker } from 'node:worker_threads';
import { SwitchyardError } from '@switchyard/tensor';
import {
  allocateLayout,
  describeFailure,
  type FailureReason,
  markFailed,
  readFailure,
  type SharedLayout,
} from './worker-transport.js';

/** Options of `launchWorkers` / `startWorkers`. */
export interface LaunchWorkersOptions<D> {
  /** Number of ranks, one worker thread each. */
  size: number;
  /** Passed to every rank's program (structured-cloned). */
  data?: D;
  /** A collective waiting longer than this fails the whole cluster. Default 60 000 ms. */
  timeoutMs?: number;
  /** Bytes of each ring between two ranks (a power of two ≥ 4096); larger messages stream through. Default 1 MiB. */
  channelBytes?: number;
  /**
   * Node flags of the workers. Default: this process's `execArgv` without its V8 options (process-wide already,
   * and refused by `new Worker`), plus `--conditions=@switchyard/source` when the package runs from its
   * TypeScript sources (so workers resolve the sibling packages the same way).
   */
  execArgv?: string[];
  /**
   * A module each worker imports and calls `register()` on before loading TypeScript, or null for none.
   * Default: `'tsx/esm/api'` when running from sources (tests, `node --import tsx`), null from the built
   * JavaScript. (Node 20 does not pass `--import` loaders on to worker threads, so they register their own.)
   */
  loader?: string | null;
  /** After a rank fails, how long the others get to stop on their own before they are terminated. Default 5000 ms. */
  graceMs?: number;
}

/** A running cluster of worker ranks. */
export interface WorkerCluster<R> {
  /** Each rank's result, or a rejection naming the rank that failed first (and why) and every rank's error. */
  readonly results: Promise<R[]>;
  /** Each rank's error once known (null while it runs or when it succeeded). */
  readonly errors: readonly (Error | null)[];
  /** Kills one rank's worker (as a crash would) or, without a rank, all of them. */
  terminate(rank?: number): Promise<void>;
}

/** What each worker receives as `workerData`. */
export interface WorkerInit {
  readonly rank: number;
  readonly layout: SharedLayout;
  readonly timeoutMs: number;
  readonly entry: string;
  readonly data: unknown;
  readonly main: string;
  readonly loader: string | null;
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');

/**
 * V8 options (`--experimental-wasm-relaxed-simd`, `--max-old-space-size`...) apply to the whole process, workers
 * included, and `new Worker` rejects them in `execArgv`: they are left out of the flags workers inherit.
 */
const isV8Flag = (flag: string): boolean =>
  /^--(experimental-wasm-|max-old-space-size|max-semi-space-size|stack-size|v8-)/.test(flag);
const SOURCE_CONDITION = '--conditions=@switchyard/source';

interface RankError {
  message: string;
  code?: string;
  op?: string;
  stack?: string;
}

function revive(e: RankError): Error {
  if (e.code && e.op) {
    const error = new SwitchyardError(
      e.code as SwitchyardError['code'],
      e.op,
      e.message.replace(/^\[[^\]]*\] /, ''),
    );
    if (e.stack) error.stack = e.stack;
    return error;
  }
  const error = new Error(e.message);
  if (e.stack) error.stack = e.stack;
  return error;
}

/**
 * Starts `size` worker threads, each running one rank: the module `entry` must export a default function
 * `(comm: Communicator, data) => result | Promise<result>`, called with a `WorkerCommunicator` of the whole
 * group. Collectives move bytes through shared memory (a ring per ordered pair of ranks, Atomics for waiting),
 * so the ranks' computation really runs on separate cores.
 *
 * Failure never hangs: a rank that throws, exits (`process.exit`, a crash, `terminate`) or waits in a
 * collective past `timeoutMs` marks the cluster failed in shared memory, every other rank's pending or next
 * collective rejects with `BACKEND_UNAVAILABLE`, ranks still busy after `graceMs` are terminated, and
 * `results` rejects with the first failure.
 *
 * TypeScript entries: workers start from a plain-JavaScript bootstrap that registers `loader` (tsx by
 * default when this package itself runs from sources) and then imports the rank runtime and `entry`; from the
 * built package no loader is needed for JavaScript entries.
 *
 * @example
 * ```ts
 * // rank.ts: export default async (comm: Communicator) => (await comm.allReduce(full([1], comm.rank))).dataSync()[0];
 * const cluster = startWorkers<number>(new URL('./rank.ts', import.meta.url), { size: 2 });
 * await cluster.results; // [1, 1]
 * ```
 */
export function startWorkers<R, D = unknown>(
  entry: string | URL,
  options: LaunchWorkersOptions<D>,
): WorkerCluster<R> {
  const op = 'launchWorkers';
  const { size, timeoutMs = 60_000, channelBytes = 1 << 20, graceMs = 5000 } = options;
  if (!Number.isInteger(size) || size < 1) {
    throw new SwitchyardError('INVALID_ARGUMENT', op, `size must be an integer >= 1, got ${size}`);
  }
  if (!Number.isInteger(channelBytes) || channelBytes < 4096 || (channelBytes & (channelBytes - 1)) !== 0) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `channelBytes must be a power of two >= 4096, got ${channelBytes}`,
    );
  }
  if (!(timeoutMs > 0))
    throw new SwitchyardError('INVALID_ARGUMENT', op, `timeoutMs must be > 0, got ${timeoutMs}`);
  const layout = allocateLayout(size, channelBytes);
  const execArgv = options.execArgv ?? [
    ...process.execArgv.filter((flag) => !isV8Flag(flag)),
    ...(FROM_SOURCE && !process.execArgv.includes(SOURCE_CONDITION) ? [SOURCE_CONDITION] : []),
  ];
  const loader = options.loader === undefined ? (FROM_SOURCE ? 'tsx/esm/api' : null) : options.loader;
  const main = new URL(FROM_SOURCE ? './worker-main.ts' : './worker-main.js', import.meta.url).href;
  const bootstrap = new URL('./worker-bootstrap.js', import.meta.url);
  const entryHref = entry instanceof URL ? entry.href : new URL(entry, `file://${process.cwd()}/`).href;

  const results = new Array<R>(size);
  const errors: (Error | null)[] = new Array(size).fill(null);
  const finished = new Array<boolean>(size).fill(false);
  const exited = new Array<boolean>(size).fill(false);
  let grace: ReturnType<typeof setTimeout> | undefined;
  let settle: { resolve: (r: R[]) => void; reject: (e: Error) => void } | undefined;
  const done = new Promise<R[]>((resolve, reject) => {
    settle = { resolve, reject };
  });

  const fail = (rank: number, reason: FailureReason, detail: number, error: Error) => {
    errors[rank] ??= error;
    markFailed(layout, rank, reason, detail);
    grace ??= setTimeout(() => {
      workers.forEach((w, r) => {
        if (!exited[r]) void w.terminate();
      });
    }, graceMs);
  };

  const workers = Array.from({ length: size }, (_, rank) => {
    const init: WorkerInit = { rank, layout, timeoutMs, entry: entryHref, data: options.data, main, loader };
    const worker = new Worker(bootstrap, { workerData: init, execArgv });
    worker.on('message', (m: { kind: 'result'; result: R } | { kind: 'error'; error: RankError }) => {
      if (m.kind === 'result') {
        results[rank] = m.result;
        finished[rank] = true;
      } else {
        finished[rank] = true;
        fail(rank, 'threw', 0, revive(m.error));
      }
    });
    worker.on('error', (error) => fail(rank, 'threw', 0, error));
    worker.on('exit', (code) => {
      exited[rank] = true;
      if (!finished[rank]) {
        finished[rank] = true;
        const failure = readFailure(layout);
        const why = failure && failure.rank !== rank ? `; ${describeFailure(failure, size)}` : '';
        fail(
          rank,
          'exited',
          code,
          new SwitchyardError(
            'BACKEND_UNAVAILABLE',
            op,
            `rank ${rank} of ${size} exited (code ${code}) before finishing${why}`,
          ),
        );
      }
      if (!exited.every(Boolean)) return;
      clearTimeout(grace);
      const failure = readFailure(layout);
      if (!failure) {
        settle?.resolve(results);
        return;
      }
      const detail = errors.map((e, r) => `rank ${r}: ${e ? e.message : 'finished'}`).join('; ');
      settle?.reject(
        new SwitchyardError('BACKEND_UNAVAILABLE', op, `${describeFailure(failure, size)} (${detail})`),
      );
    });
    return worker;
  });

  return {
    results: done,
    errors,
    async terminate(rank?: number) {
      const targets = rank === undefined ? workers.map((_, r) => r) : [rank];
      for (const r of targets) {
        if (!Number.isInteger(r) || r < 0 || r >= size) {
          throw new SwitchyardError(
            'INVALID_ARGUMENT',
            'WorkerCluster.terminate',
            `rank ${r} is not in [0, ${size})`,
          );
        }
      }
      await Promise.all(targets.map((r) => (workers[r] as Worker).terminate()));
    },
  };
}

/** `startWorkers(entry, options).results`: runs a program on `size` worker ranks and resolves with their results. */
export function launchWorkers<R, D = unknown>(
  entry: string | URL,
  options: LaunchWorkersOptions<D>,
): Promise<R[]> {
  return startWorkers<R, D>(entry, options).results;
}

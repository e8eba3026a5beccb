/** How `measure` samples. */
export interface MeasureOptions {
  /** Measured samples wanted; the median is reported. */
  runs: number;
  /** Warm-up continues (at least one run) until this much time was spent. Default 0.3 s. */
  warmupSeconds?: number;
  /** A sample repeats the run until about this long, so fast runs are not lost in timer noise. Default 0.05 s. */
  sampleSeconds?: number;
  /**
   * After three samples (or `runs` if fewer), sampling stops once this much time was spent, so slow rows on
   * slow backends stay affordable. Default 15 s.
   */
  budgetSeconds?: number;
  /**
   * Awaited once after the warm-up (on WebGPU, the background matmul tile tuning), followed by one more warm-up
   * run, so that no sample shares the device with work started by the warm-up or runs on superseded kernels.
   */
  settle?: () => Promise<void>;
}

/** The median time of one run and how many samples it came from. */
export interface Timing {
  seconds: number;
  runs: number;
}

const now = (): number => performance.now() / 1000;

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Times `run`: warm-up runs first (pipelines compile, JITs settle), then `settle` and one more warm-up run, then
 * `runs` samples; every run is followed by `sync` (on WebGPU, waiting for the queue) inside the timed region.
 * Returns the median seconds per run.
 */
export async function measure(
  run: () => void | Promise<void>,
  sync: () => Promise<void>,
  options: MeasureOptions,
): Promise<Timing> {
  const warmupSeconds = options.warmupSeconds ?? 0.3;
  const sampleSeconds = options.sampleSeconds ?? 0.05;
  const budgetSeconds = options.budgetSeconds ?? 15;
  const once = async (): Promise<number> => {
    const start = now();
    await run();
    await sync();
    return now() - start;
  };
  let warm = 0;
  let last = 0;
  for (let i = 0; i < 20 && (i === 0 || warm < warmupSeconds); i++) {
    last = await once();
    warm += last;
  }
  if (options.settle) {
    await options.settle();
    last = await once();
  }
  const repeats = Math.max(1, Math.min(100, Math.floor(sampleSeconds / Math.max(last, 1e-6))));
  const minimum = Math.min(options.runs, 3);
  const samples: number[] = [];
  let spent = 0;
  while (samples.length < options.runs && (samples.length < minimum || spent < budgetSeconds)) {
    let total = 0;
    for (let i = 0; i < repeats; i++) total += await once();
    samples.push(total / repeats);
    spent += total;
  }
  return { seconds: median(samples), runs: samples.length };
}

import type { BenchCase, Measurable, SelfTimed } from './bench-case.js';
import type { Environment } from './environment.js';
import { measure, median } from './measure.js';
import { formatValue, type SkipNote } from './report.js';
import type { Row } from './row.js';

/** What a run produced: the rows, and the (case, impl, backend) triples skipped or failed, with the reason. */
export interface RunResult {
  rows: Row[];
  skips: SkipNote[];
  failures: SkipNote[];
}

/**
 * Runs every case on every available backend for each impl it compares (wasm is tfjs only), one row at a
 * time: activate the backend, prepare the inputs, measure, dispose. A row that throws is recorded as a
 * failure and the run goes on; progress goes to `log`, failures to `error`.
 */
export async function runCases(
  env: Environment,
  cases: readonly BenchCase[],
  options: { quick: boolean; runs: number },
  io: { log(line: string): void; error(line: string): void },
): Promise<RunResult> {
  const result: RunResult = { rows: [], skips: [], failures: [] };
  const softwareGpu = env.gpu?.software ?? false;
  for (const c of cases) {
    for (const backend of env.backends) {
      for (const impl of c.impls) {
        if (backend === 'wasm' && impl !== 'tfjs') continue;
        const fail = (err: unknown) => {
          const reason = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
          result.failures.push({ case: c.name, impl, backend, reason });
          io.error(`${c.name} ${impl} ${backend}: failed (${reason})`);
        };
        let prepared: Measurable | SelfTimed;
        try {
          await env.activate(impl, backend);
          const p = await c.prepare({ impl, backend, quick: options.quick, softwareGpu, tf: env.tf });
          if ('skip' in p) {
            if (!result.skips.some((s) => s.case === c.name && s.backend === backend)) {
              io.log(`${c.name} ${backend}: skipped (${p.skip})`);
            }
            result.skips.push({ case: c.name, impl, backend, reason: p.skip });
            continue;
          }
          prepared = p;
        } catch (err) {
          fail(err);
          continue;
        }
        try {
          const current = prepared;
          const timing =
            'timed' in current
              ? await current.timed(options.runs).then((s) => ({ seconds: median(s), runs: s.length }))
              : await measure(
                  () => current.run(),
                  () => env.sync(impl, backend),
                  { runs: options.runs, settle: () => env.settle(impl, backend) },
                );
          const perSecond = prepared.work / timing.seconds;
          const value = c.unit === 'GFLOP/s' ? perSecond / 1e9 : perSecond;
          const { shape } = prepared;
          result.rows.push({ case: c.name, impl, backend, value, unit: c.unit, shape, runs: timing.runs });
          io.log(
            `${c.name} ${impl} ${backend} [${shape}]: ${formatValue(value)} ${c.unit} (median of ${timing.runs})`,
          );
        } catch (err) {
          fail(err);
        } finally {
          prepared.dispose();
        }
      }
    }
  }
  return result;
}

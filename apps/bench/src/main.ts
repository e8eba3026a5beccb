import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SwitchyardError } from '@switchyard/tensor';
import { type BenchOptions, DEFAULT_OUT, parseArgs, USAGE } from './args.js';
import type { BenchCase } from './bench-case.js';
import { CASES } from './cases/index.js';
import { createEnvironment } from './environment.js';
import { currentLoad, machineInfo } from './machine.js';
import { formatTables, formatTargets } from './report.js';
import { type RunResult, runCases } from './run-cases.js';
import { selectCases } from './select-cases.js';

/** Where the bench prints: progress and tables to `log`, flag errors to `error`. */
export interface BenchIO {
  log(line: string): void;
  error(line: string): void;
}

/** The JSON file of machine details written beside the rows file. */
export function machinePath(out: string): string {
  return `${out.replace(/\.json$/, '')}.machine.json`;
}

/**
 * Runs the benchmark with command-line flags (see `USAGE`) and returns the exit code: 0 after writing the
 * rows, 1 when some rows failed (each failure is printed, the other rows are still written), 2 for bad flags
 * (with the reason on `io.error`). Failures outside a row (a backend that does not come up) throw.
 */
export async function main(argv: readonly string[], io: BenchIO = console): Promise<number> {
  let options: BenchOptions;
  let cases: BenchCase[];
  try {
    options = parseArgs(argv);
    if (options.help) {
      io.log(USAGE);
      return 0;
    }
    cases = selectCases(CASES, options.cases, options.quick);
  } catch (err) {
    if (err instanceof SwitchyardError && err.code === 'INVALID_ARGUMENT') {
      io.error(`${err.message}\nRun with --help for the flags.`);
      return 2;
    }
    throw err;
  }
  const out =
    options.out === null ? DEFAULT_OUT : resolve(process.env.INIT_CWD ?? process.cwd(), options.out);
  const load = currentLoad();
  const env = await createEnvironment(options.backends, options.backendsGiven, options.threads);
  let result: RunResult;
  try {
    for (const note of env.notes) io.log(`note: ${note}`);
    result = await runCases(env, cases, options, io);
  } finally {
    env.destroy();
  }
  const { rows, skips, failures } = result;
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(rows, null, 2)}\n`);
  await writeFile(machinePath(out), `${JSON.stringify(machineInfo(env, argv, load), null, 2)}\n`);
  const gpuLine = env.gpu ? env.gpu.switchyard.replace(/^webgpu on /, '') : null;
  io.log('');
  io.log(formatTables(rows, skips, gpuLine));
  if (failures.length > 0) {
    io.error(
      ['Failed:', ...failures.map((f) => `- ${f.case} ${f.impl} ${f.backend}: ${f.reason}`)].join('\n'),
    );
  }
  const targets = formatTargets(rows);
  if (targets) io.log(targets);
  io.log(`Wrote ${rows.length} rows to ${out} (machine details in ${machinePath(out)}).`);
  return failures.length > 0 ? 1 : 0;
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    },
  );
}

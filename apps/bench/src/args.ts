import { fileURLToPath } from 'node:url';
import { SwitchyardError } from '@switchyard/tensor';
import { BACKENDS, type BackendId } from './bench-case.js';

/** The parsed command line. */
export interface BenchOptions {
  /** Run the reduced set (under two minutes on a 2-core machine with SwiftShader). */
  quick: boolean;
  /** Case-name patterns (`*` any text, `?` one character); null selects every case (or the quick set). */
  cases: string[] | null;
  backends: BackendId[];
  /** Whether `backends` was given: then a missing backend is an error instead of a note. */
  backendsGiven: boolean;
  /** Measured samples per row (after warm-up); the median is reported. */
  runs: number;
  /** Threads of Switchyard's CPU backend (`createCpuBackend({ threads })`); tfjs is not affected. */
  threads: number;
  /**
   * Where the JSON rows go (machine details go beside it in `<name>.machine.json`): as given, relative to the
   * directory npm was started in; null for `DEFAULT_OUT`.
   */
  out: string | null;
  help: boolean;
}

/** The default `--out`: apps/bench/results/latest.json. */
export const DEFAULT_OUT = fileURLToPath(new URL('../results/latest.json', import.meta.url));

/** Printed by `--help`. */
export const USAGE = `Usage: npm run bench -- [options]

Runs each case on each backend: Switchyard, the same computation in TensorFlow.js, and the ideal (the
MoE layer's active FLOPs through Switchyard's own dense matmul). Prints a markdown table with ratios and
writes the rows as JSON.

Options:
  --quick              a reduced set (under two minutes on this kind of machine)
  --cases LIST         comma-separated case names or globs, e.g. 'matmul-*,moe-mixtral-fwd'
  --backends LIST      comma-separated subset of ${BACKENDS.join(',')} (wasm = tfjs-backend-wasm)
  --runs N             measured samples per row, median reported (default 5)
  --threads N          threads of Switchyard's CPU backend for matrix products (default 1; tfjs unaffected)
  --out FILE           JSON rows (default apps/bench/results/latest.json); machine details in FILE.machine.json
  --help               this text`;

const fail = (message: string): never => {
  throw new SwitchyardError('INVALID_ARGUMENT', 'bench', message);
};

const CASE_PATTERN = /^[a-z0-9*?-]+$/;

/**
 * Parses the bench flags (`--flag value` or `--flag=value`). Throws `SwitchyardError` (`INVALID_ARGUMENT`,
 * op `bench`) naming the bad flag; the CLI turns it into exit code 2.
 */
export function parseArgs(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = {
    quick: false,
    cases: null,
    backends: [...BACKENDS],
    backendsGiven: false,
    runs: 5,
    threads: 1,
    out: null,
    help: false,
  };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      fail(`unexpected argument '${arg}' (flags start with --; see --help)`);
    }
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    if (seen.has(flag)) fail(`${flag} is given twice`);
    seen.add(flag);
    const value = (): string => {
      if (eq >= 0) return arg.slice(eq + 1);
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) fail(`${flag} needs a value`);
      i++;
      return next as string;
    };
    const noValue = () => {
      if (eq >= 0) fail(`${flag} takes no value, got '${arg.slice(eq + 1)}'`);
    };
    switch (flag) {
      case '--quick':
        noValue();
        options.quick = true;
        break;
      case '--help':
        noValue();
        options.help = true;
        break;
      case '--cases':
        options.cases = parseCases(value());
        break;
      case '--backends':
        options.backends = parseBackends(value());
        options.backendsGiven = true;
        break;
      case '--runs':
        options.runs = parsePositive(flag, value());
        break;
      case '--threads':
        options.threads = parsePositive(flag, value());
        break;
      case '--out': {
        const out = value();
        if (out === '') fail('--out needs a file name');
        options.out = out;
        break;
      }
      default:
        fail(
          `unknown flag '${flag}' (known: --quick, --cases, --backends, --runs, --threads, --out, --help)`,
        );
    }
  }
  return options;
}

function parseCases(text: string): string[] {
  const patterns = text.split(',').map((p) => p.trim());
  for (const p of patterns) {
    if (!CASE_PATTERN.test(p)) {
      fail(`--cases: '${p}' is not a case name or glob (letters, digits, '-', '*', '?'; comma-separated)`);
    }
  }
  return patterns;
}

function parseBackends(text: string): BackendId[] {
  const names = text.split(',').map((b) => b.trim());
  const out: BackendId[] = [];
  for (const name of names) {
    if (!(BACKENDS as readonly string[]).includes(name)) {
      fail(`--backends: unknown backend '${name}' (choose from ${BACKENDS.join(', ')})`);
    }
    if (out.includes(name as BackendId)) fail(`--backends: '${name}' is listed twice`);
    out.push(name as BackendId);
  }
  return BACKENDS.filter((b) => out.includes(b));
}

function parsePositive(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    fail(`${flag} must be a positive integer, got '${text}'`);
  }
  return n;
}

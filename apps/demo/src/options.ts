// Command-line flags of `npm run demo`.
import { parseArgs } from 'node:util';
import { SwitchyardError } from '@switchyard/tensor';
import { DEMO_PRESETS, type DemoPreset } from './demo-models.js';

export interface DemoOptions {
  presets: DemoPreset[];
  steps: number;
  backend: 'auto' | 'cpu' | 'webgpu';
  out: string;
  seed: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  balance: number;
  /** Documents of the synthetic corpus. */
  samples: number;
}

export const DEFAULTS: DemoOptions = {
  presets: [...DEMO_PRESETS],
  steps: 120,
  backend: 'auto',
  out: 'demo-output',
  seed: 0,
  batchSize: 8,
  seqLen: 64,
  lr: 3e-3,
  balance: 0.1,
  samples: 3000,
};

export const HELP = `Usage: npm run demo -- [options]

Trains tiny Switch, GLaM and DeepSeekMoE models built from their preset configs, and a dense baseline with
the same FLOPs per token, on a synthetic four-domain corpus; prints a comparison table and writes
report.json and report.html.

Options:
  --preset LIST     comma-separated runs among ${DEMO_PRESETS.join(', ')} (default: all)
  --steps N         optimizer steps per run (default ${DEFAULTS.steps})
  --backend NAME    auto | cpu | webgpu (default auto: a hardware WebGPU adapter if there is one, else the CPU)
  --out DIR         where report.json and report.html go (default ${DEFAULTS.out}/)
  --seed N          seed of the data, the initialisation and the batch order (default ${DEFAULTS.seed})
  --batch-size N    rows per batch (default ${DEFAULTS.batchSize})
  --seq-len N       tokens per row (default ${DEFAULTS.seqLen})
  --lr X            peak learning rate of the cosine schedule (default ${DEFAULTS.lr})
  --balance X       coefficient of every balance loss (default ${DEFAULTS.balance})
  --samples N       documents in the synthetic corpus (default ${DEFAULTS.samples})
  --help            this text
`;

function invalid(detail: string): SwitchyardError {
  return new SwitchyardError('INVALID_ARGUMENT', 'demo', detail);
}

function integer(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw invalid(`--${flag} must be an integer >= ${min}, got '${text}'`);
  }
  return n;
}

function positive(flag: string, text: string, allowZero = false): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    throw invalid(`--${flag} must be a ${allowZero ? 'non-negative' : 'positive'} number, got '${text}'`);
  }
  return n;
}

/** Parses the flags; `help` when --help was given. Unknown flags and bad values throw INVALID_ARGUMENT. */
export function parseOptions(argv: readonly string[]): DemoOptions | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        preset: { type: 'string' },
        steps: { type: 'string' },
        backend: { type: 'string' },
        out: { type: 'string' },
        seed: { type: 'string' },
        'batch-size': { type: 'string' },
        'seq-len': { type: 'string' },
        lr: { type: 'string' },
        balance: { type: 'string' },
        samples: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw invalid(`${(err as Error).message}; see --help`);
  }
  if (values.help) return 'help';
  const get = (name: string) => values[name] as string | undefined;
  const options: DemoOptions = { ...DEFAULTS, presets: [...DEFAULTS.presets] };
  const preset = get('preset');
  if (preset !== undefined) {
    const names = preset.split(',').map((s) => s.trim());
    const unknown = names.filter((n) => !(DEMO_PRESETS as readonly string[]).includes(n));
    if (unknown.length > 0 || names.length === 0) {
      throw invalid(`--preset takes a comma-separated list of ${DEMO_PRESETS.join(', ')}; got '${preset}'`);
    }
    options.presets = DEMO_PRESETS.filter((p) => names.includes(p));
  }
  const backend = get('backend');
  if (backend !== undefined) {
    if (backend !== 'auto' && backend !== 'cpu' && backend !== 'webgpu') {
      throw invalid(`--backend must be auto, cpu or webgpu, got '${backend}'`);
    }
    options.backend = backend;
  }
  const out = get('out');
  if (out !== undefined) {
    if (out.trim() === '') throw invalid('--out must name a directory');
    options.out = out;
  }
  const text = (name: string) => get(name);
  if (text('steps') !== undefined) options.steps = integer('steps', text('steps') as string, 1);
  if (text('seed') !== undefined) options.seed = integer('seed', text('seed') as string, 0);
  if (text('batch-size') !== undefined)
    options.batchSize = integer('batch-size', text('batch-size') as string, 1);
  if (text('seq-len') !== undefined) options.seqLen = integer('seq-len', text('seq-len') as string, 2);
  if (text('samples') !== undefined) options.samples = integer('samples', text('samples') as string, 10);
  if (text('lr') !== undefined) options.lr = positive('lr', text('lr') as string);
  if (text('balance') !== undefined) options.balance = positive('balance', text('balance') as string, true);
  return options;
}

import { expectSwitchyardError } from '@switchyard/tensor/testing';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseOptions } from './options.js';

describe('parseOptions', () => {
  it('gives the defaults without flags, and help for --help', () => {
    expect(parseOptions([])).toEqual(DEFAULTS);
    expect(parseOptions(['--help'])).toBe('help');
  });

  it('reads every flag', () => {
    const options = parseOptions([
      '--preset',
      'dense,switch',
      '--steps',
      '7',
      '--backend',
      'cpu',
      '--out',
      'x',
      '--seed',
      '3',
      '--batch-size',
      '2',
      '--seq-len',
      '16',
      '--lr',
      '0.01',
      '--balance',
      '0',
      '--samples',
      '50',
    ]);
    expect(options).toEqual({
      presets: ['switch', 'dense'],
      steps: 7,
      backend: 'cpu',
      out: 'x',
      seed: 3,
      batchSize: 2,
      seqLen: 16,
      lr: 0.01,
      balance: 0,
      samples: 50,
    });
  });

  it('names the flag and the value it rejects', () => {
    const bad: [string[], RegExp][] = [
      [
        ['--preset', 'mixtral'],
        /--preset takes a comma-separated list of switch, glam, deepseekmoe, dense; got 'mixtral'/,
      ],
      [['--steps', '0'], /--steps must be an integer >= 1, got '0'/],
      [['--steps', '2.5'], /--steps must be an integer >= 1, got '2.5'/],
      [['--backend', 'tpu'], /--backend must be auto, cpu or webgpu, got 'tpu'/],
      [['--lr=-1'], /--lr must be a positive number, got '-1'/],
      [['--balance', 'abc'], /--balance must be a non-negative number, got 'abc'/],
      [['--bogus'], /Unknown option '--bogus'.*see --help/],
      [['extra'], /positional.*see --help/i],
    ];
    for (const [argv, message] of bad)
      expectSwitchyardError(() => parseOptions(argv), 'INVALID_ARGUMENT', message);
  });
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SwitchyardError } from '@switchyard/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../src/args.js';
import { BACKENDS, IMPLS } from '../src/bench-case.js';
import { CASES } from '../src/cases/index.js';
import { main } from '../src/main.js';
import type { Row } from '../src/row.js';

function capture() {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, io: { log: (l: string) => lines.push(l), error: (l: string) => errors.push(l) } };
}

describe('bench main', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-bench-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes schema-valid rows with finite positive values and prints the table', async () => {
    const out = join(dir, 'rows.json');
    const { lines, io } = capture();
    const code = await main(
      ['--cases', 'matmul-256', '--backends', 'cpu,wasm', '--runs', '1', '--out', out],
      io,
    );
    expect(code).toBe(0);
    const rows = JSON.parse(await readFile(out, 'utf8')) as Row[];
    expect(rows.map((r) => `${r.impl}/${r.backend}`).sort()).toEqual([
      'switchyard/cpu',
      'tfjs/cpu',
      'tfjs/wasm',
    ]);
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(['backend', 'case', 'impl', 'runs', 'shape', 'unit', 'value']);
      expect(row.case).toBe('matmul-256');
      expect(IMPLS).toContain(row.impl);
      expect(BACKENDS).toContain(row.backend);
      expect(row.unit).toBe('GFLOP/s');
      expect(row.shape).toBe('256x256x256');
      expect(row.runs).toBe(1);
      expect(Number.isFinite(row.value) && row.value > 0).toBe(true);
    }
    const machine = JSON.parse(await readFile(join(dir, 'rows.machine.json'), 'utf8'));
    expect(machine.cores).toBeGreaterThan(0);
    expect(machine.node).toBe(process.version);
    expect(lines.join('\n')).toMatch(/\| matmul-256 \| GFLOP\/s \| 256x256x256 \|/);
  });

  it('prints the usage for --help and exits 0', async () => {
    const { lines, io } = capture();
    expect(await main(['--help'], io)).toBe(0);
    expect(lines.join('\n')).toContain('--backends LIST');
  });

  it.each([
    [['--bogus'], "unknown flag '--bogus'"],
    [['--runs', '0'], "--runs must be a positive integer, got '0'"],
    [['--runs'], '--runs needs a value'],
    [['--threads', '1.5'], "--threads must be a positive integer, got '1.5'"],
    [['--backends', 'cpu,tpu'], "--backends: unknown backend 'tpu'"],
    [['--cases', 'matmul-3'], "--cases: 'matmul-3' matches no case"],
    [['--quick=yes'], '--quick takes no value'],
    [['stray'], "unexpected argument 'stray'"],
  ])('rejects %j with a clear error and exit code 2', async (argv, message) => {
    const { errors, io } = capture();
    expect(await main(argv, io)).toBe(2);
    expect(errors.join('\n')).toContain(message);
  });

  it('raises SwitchyardError from parseArgs', () => {
    expect(() => parseArgs(['--out'])).toThrow(SwitchyardError);
    expect(() => parseArgs(['--out'])).toThrow('[bench] --out needs a value');
  });

  it('parses every flag', () => {
    expect(
      parseArgs([
        '--quick',
        '--cases=matmul-*,moe-experts-8',
        '--backends',
        'webgpu,cpu',
        '--runs',
        '7',
        '--threads=2',
        '--out',
        'x.json',
      ]),
    ).toEqual({
      quick: true,
      cases: ['matmul-*', 'moe-experts-8'],
      backends: ['cpu', 'webgpu'],
      backendsGiven: true,
      runs: 7,
      threads: 2,
      out: 'x.json',
      help: false,
    });
  });

  it('keeps the stable case names of the issue', () => {
    const names = CASES.map((c) => c.name);
    for (const name of [
      'matmul-256',
      'matmul-2048',
      'moe-mixtral-fwd',
      'moe-mixtral-fwdbwd',
      'moe-deepseek-fwd',
      'moe-deepseek-fwdbwd',
      'moe-experts-8',
      'moe-experts-256',
    ]) {
      expect(names).toContain(name);
    }
    expect(new Set(names).size).toBe(names.length);
  });
});

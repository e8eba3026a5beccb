import { describe, expect, it } from 'vitest';
import { formatTables, formatTargets, formatValue } from '../src/report.js';
import type { Row } from '../src/row.js';

const row = (c: string, impl: Row['impl'], backend: Row['backend'], value: number): Row => ({
  case: c,
  impl,
  backend,
  value,
  unit: c.startsWith('matmul') ? 'GFLOP/s' : 'tokens/s',
  shape: 's',
  runs: 5,
});

const ROWS: Row[] = [
  row('matmul-1024', 'switchyard', 'cpu', 30),
  row('matmul-1024', 'tfjs', 'wasm', 20),
  row('matmul-1024', 'switchyard', 'webgpu', 4),
  row('matmul-1024', 'tfjs', 'webgpu', 2),
  row('moe-mixtral-fwd', 'switchyard', 'cpu', 1000),
  row('moe-mixtral-fwd', 'tfjs', 'cpu', 100),
  row('moe-mixtral-fwd', 'ideal', 'cpu', 1200),
  row('moe-experts-8', 'switchyard', 'cpu', 1000),
  row('moe-experts-256', 'switchyard', 'cpu', 500),
];

describe('report', () => {
  it('formats values with three significant digits', () => {
    expect(formatValue(0.01234)).toBe('0.0123');
    expect(formatValue(12.34)).toBe('12.3');
    expect(formatValue(12345.6)).toBe('12,346');
  });

  it('prints ratios of ours to tfjs and to the ideal per backend', () => {
    const text = formatTables(ROWS, [], 'adapter');
    expect(text).toContain('| matmul-1024 | GFLOP/s | s | 30.0 |  | 20.0 |  |  | 1.50x |  |');
    expect(text).toContain('| moe-mixtral-fwd | tokens/s | s | 1,000 | 100 |  | 1,200 | 10.00x |  | 0.83x |');
    expect(text).toContain('### WebGPU (adapter)');
    expect(text).toContain('| matmul-1024 | GFLOP/s | s | 4.00 | 2.00 | 2.00x |');
  });

  it('checks the targets of the issue', () => {
    const text = formatTargets(ROWS);
    expect(text).toContain('| CPU matmul vs tfjs-wasm | matmul-1024 | 1.50x | ≥ 1x | yes |');
    expect(text).toContain('| WebGPU matmul vs tfjs-webgpu | matmul-1024 | 2.00x | ≥ 3x | no |');
    expect(text).toContain('| MoE layer vs tfjs composition | moe-mixtral-fwd cpu | 10.00x | ≥ 2x | yes |');
    expect(text).toContain('| MoE layer time ÷ ideal time | moe-mixtral-fwd cpu | 1.20x | ≤ 1.3x | yes |');
    expect(text).toContain('| time/token E=256 ÷ E=8 | switchyard cpu | 2.00x | ≤ 1.25x | no |');
  });
});

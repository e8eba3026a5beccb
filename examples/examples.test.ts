// Every root example runs on the CPU backend: what it prints, what it returns, and that it frees every tensor.
import { liveTensorCount } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import { main as composeLayers } from './compose-layers.js';
import { main as customExpert } from './custom-expert.js';
import { main as hierarchicalMoE } from './hierarchical-moe.js';
import { main as routingStats } from './routing-stats.js';
import { main as upcycleDense } from './upcycle-dense.js';

/** Runs an example, collecting its lines, and checks that it leaves no tensor alive. */
async function run<R>(
  main: (log: (line: string) => void) => Promise<R>,
): Promise<{ result: R; lines: string[] }> {
  const before = liveTensorCount();
  const lines: string[] = [];
  const result = await main((line) => lines.push(line));
  expect(liveTensorCount(), 'tensors left alive').toBe(before);
  console.log(lines.join('\n'));
  return { result, lines };
}

describe('examples/', () => {
  it('compose-layers: hash routing below, expert choice with shared experts above', async () => {
    const { result, lines } = await run(composeLayers);
    expect(result).toHaveLength(4);
    // Hash layers send each of the 32 tokens to one expert; expert choice gives each of 8 experts C = 8.
    for (const load of result.slice(0, 2)) expect(load.reduce((a, b) => a + b)).toBe(32);
    for (const load of result.slice(2)) expect(load).toEqual([8, 8, 8, 8, 8, 8, 8, 8]);
    expect(lines.at(-1)).toMatch(/^output \[2,16,16\], \d+ parameters$/);
  });

  it('hierarchical-moe: an MoE of MoEs trains and reports every level', async () => {
    const { result, lines } = await run(hierarchicalMoE);
    expect(result.at(-1) as number).toBeLessThan(result[0] as number);
    expect(lines.filter((l) => /^ {2}group \d: tokens\/expert \[\d+,\d+,\d+,\d+\]/.test(l))).toHaveLength(4);
  });

  it('custom-expert: LoRA experts on a frozen FFN train through ModuleExperts', async () => {
    const { result, lines } = await run(customExpert);
    expect(result.at(-1) as number).toBeLessThan((result[0] as number) * 0.8);
    expect(lines[0]).toMatch(/^4 LoRA experts on one frozen FFN: \d+ trainable of \d+ parameters$/);
  });

  it('upcycle-dense: the upcycled MoE starts exactly at the dense model and keeps learning', async () => {
    const { result, lines } = await run(upcycleDense);
    expect(lines[1]).toBe('upcycled to 4 experts: max |MoE - dense| = 0.0e+0 at the start');
    expect(result.moe[0] as number).toBeLessThanOrEqual(result.dense);
    expect(result.moe.at(-1) as number).toBeLessThan(result.moe[0] as number);
  });

  it('routing-stats: the statistics of one forward pass, with drops from a tight capacity', async () => {
    const { result } = await run(routingStats);
    expect(result.tokensPerExpert.reduce((a, b) => a + b)).toBe(64);
    expect(result.droppedFraction).toBeGreaterThan(0);
    expect(result.keptPerExpert.every((n) => n <= 8)).toBe(true);
  });
});

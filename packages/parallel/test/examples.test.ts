// The README's example and table are real: the example trains, its output is what the README shows, the table
// is what planCluster computes, and the benchmark's rank program runs.
import { readFileSync } from 'node:fs';
import { liveTensorCount } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import type { BenchConfig, StepTime } from '../bench/expert-parallel.js';
import { clusterTable } from '../examples/cluster-table.js';
import { readme } from '../examples/readme.js';
import { launchWorkers } from '../src/index.js';

const readmeText = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('example (examples/readme.ts): the loss falls, nothing leaks, and the README shows its output', async () => {
    const before = liveTensorCount();
    const lines: string[] = [];
    const losses = await readme(40, (line) => lines.push(line));
    console.log(lines.join('\n'));
    expect(losses.at(-1)!).toBeLessThan(0.6 * losses[0]!);
    expect(liveTensorCount()).toBe(before);
    expect(readmeText).toContain(`\`\`\`\n${lines.join('\n')}\n\`\`\``);
  });

  it('cluster table (examples/cluster-table.ts) is what planCluster computes', () => {
    const table = clusterTable();
    expect(table).toHaveLength(9);
    expect(readmeText).toContain(table.join('\n'));
  });

  it('benchmark rank program (bench/expert-parallel.ts) runs on 2 worker ranks', async () => {
    const config: BenchConfig = { tokens: 32, dModel: 8, dHidden: 16, numExperts: 4, topK: 2, steps: 1 };
    const bench = new URL('../bench/expert-parallel.ts', import.meta.url);
    const times = await launchWorkers<StepTime, BenchConfig>(bench, { size: 2, data: config });
    expect(times).toHaveLength(2);
    for (const t of times) expect(Math.min(t.ms, t.cpuMs)).toBeGreaterThan(0);
  });
});

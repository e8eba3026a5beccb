// The README's examples and table are real: the examples train, their output is what the README shows, the
// table is what planCluster computes.
import { readFileSync } from 'node:fs';
import { liveTensorCount } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import { clusterTable } from '../examples/cluster-table.js';
import { readme } from '../examples/readme.js';
import { trainModel } from '../examples/train-model.js';

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

  it('whole-model example (examples/train-model.ts): the loss falls and the README shows its output', async () => {
    const lines: string[] = [];
    const losses = await trainModel(20, (line) => lines.push(line));
    console.log(lines.join('\n'));
    expect(losses).toHaveLength(20);
    expect(losses.at(-1)!).toBeLessThan(0.7 * losses[0]!);
    expect(readmeText).toContain(`\`\`\`\n${lines.join('\n')}\n\`\`\``);
  });

  it('cluster table (examples/cluster-table.ts) is what planCluster computes', () => {
    const table = clusterTable();
    expect(table).toHaveLength(9);
    expect(readmeText).toContain(table.join('\n'));
  });
});

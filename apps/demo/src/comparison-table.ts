// The comparison table the CLI prints (markdown, so it pastes into issues and READMEs as is).
import { formatParameterCount } from '@switchyard/presets';
import type { RunReport } from './report.js';

const COLUMNS = [
  'model',
  'params',
  'active',
  'MFLOPs/token',
  'train loss',
  'eval loss',
  'tokens/s',
  'max/mean load',
  'dropped',
  'router entropy',
] as const;

function row(r: RunReport): string[] {
  return [
    `${r.preset} (${r.from})`,
    formatParameterCount(r.totalParams),
    formatParameterCount(r.activeParams),
    (r.flopsPerToken / 1e6).toFixed(2),
    r.finalLoss.toFixed(3),
    r.evalLoss.toFixed(3),
    Math.round(r.tokensPerSecond).toLocaleString('en-US'),
    r.maxMeanLoad === null ? '-' : r.maxMeanLoad.toFixed(2),
    r.maxMeanLoad === null ? '-' : `${(100 * r.droppedFraction).toFixed(1)}%`,
    r.routerEntropy === null ? '-' : r.routerEntropy.toFixed(2),
  ];
}

/** A markdown table of the runs, columns padded to line up in a terminal. */
export function comparisonTable(runs: readonly RunReport[]): string {
  const rows = [COLUMNS.slice(), ...runs.map(row)];
  const widths = COLUMNS.map((_, c) => Math.max(...rows.map((r) => (r[c] as string).length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? `${'-'.repeat(w + 2)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(rows[0] as string[]), rule, ...rows.slice(1).map(line)].join('\n');
}

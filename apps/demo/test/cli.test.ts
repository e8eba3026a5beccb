// The CLI end to end on the CPU: a few steps of every model, then the report's contents. And the real
// command's exit codes for --help and for a bad flag.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/options.js';
import type { DemoReport } from '../src/report.js';
import { runDemo } from '../src/run-demo.js';

const demoDir = fileURLToPath(new URL('..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
const lines: string[] = [];
const progress: string[] = [];
let report: DemoReport;

beforeAll(async () => {
  const stream = new Writable({
    write(chunk, _encoding, done) {
      progress.push(String(chunk));
      done();
    },
  });
  ({ report } = await runDemo(
    { ...DEFAULTS, steps: 4, samples: 200, batchSize: 4, seqLen: 16, backend: 'cpu', out },
    { progress: stream, log: (line) => lines.push(line) },
  ));
});

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run demo (in-process, 4 steps per model)', () => {
  it('trains the four models and reports what the issue asks for', () => {
    const saved = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as DemoReport;
    expect(saved).toEqual(JSON.parse(JSON.stringify(report)));
    expect(saved.backend).toBe('cpu');
    expect(saved.runs.map((r) => r.preset)).toEqual(['switch', 'glam', 'deepseekmoe', 'dense']);
    for (const run of saved.runs) {
      expect(run.losses).toHaveLength(4);
      expect(run.totalParams).toBeGreaterThanOrEqual(run.activeParams);
      expect(run.flopsPerToken).toBeGreaterThan(0);
      for (const v of [run.finalLoss, run.evalLoss, run.tokensPerSecond, run.droppedFraction]) {
        expect(Number.isFinite(v)).toBe(true);
      }
      // Chance is ln 259 = 5.56 nats.
      expect(run.evalLoss).toBeLessThan(6);
      expect(run.expertLoad).toHaveLength(4);
    }
    const [switchRun, glam, deepseek, dense] = saved.runs as [
      DemoReport['runs'][number],
      ...DemoReport['runs'],
    ];
    expect(dense?.maxMeanLoad).toBeNull();
    expect(dense?.layers).toEqual([]);
    expect(deepseek?.droppedFraction).toBe(0);
    for (const run of [switchRun, glam, deepseek]) {
      if (!run) throw new Error('missing run');
      expect(run.maxMeanLoad).toBeGreaterThanOrEqual(1);
      expect(run.routerEntropy).toBeGreaterThan(0);
      // Per step, per MoE layer, per expert; Switch routes one assignment per token (4 rows of 16).
      expect(run.expertLoad[0]).toHaveLength(run.layers.length);
      expect(run.expertLoad[0]?.[0]).toHaveLength(run.layers[0]?.numExperts ?? -1);
      const assignments = (run.expertLoad[0]?.[0] ?? []).reduce((a, b) => a + b, 0);
      expect(assignments).toBe(4 * 16 * (run.config.moe?.topK ?? 0));
      // Domain usage counts every domain's assignments; the token view colours every token of two rows.
      expect(run.domainUsage).toHaveLength(run.layers.length);
      expect(run.domainUsage[0]?.counts).toHaveLength(saved.domains.length);
      expect(run.tokens).toHaveLength(2);
      expect(run.tokens[0]?.text).toHaveLength(16);
      expect(run.tokens[0]?.topExpert[0]?.every((e) => e >= 0 && e < 8)).toBe(true);
      // Dropping falls as the capacity factor grows.
      expect(run.capacity.map((p) => p.capacityFactor)).toEqual([0.5, 0.75, 1, 1.25, 1.5, 2, 3]);
      const dropped = run.capacity.map((p) => p.droppedFraction);
      expect(dropped[0]).toBeGreaterThan(0.3);
      for (let i = 1; i < dropped.length; i++)
        expect(dropped[i]).toBeLessThanOrEqual(dropped[i - 1] as number);
    }
  });

  it('prints the backend, a progress bar per run and the comparison table', () => {
    expect(lines[0]).toMatch(/^backend: cpu/);
    expect(progress.filter((l) => l.includes('done in'))).toHaveLength(4);
    const table = lines.join('\n');
    expect(table).toMatch(/\| model +\| params \| active \| MFLOPs\/token \| train loss \| eval loss \|/);
    expect(table).toMatch(/\| dense \(deepseekmoe-16b\) +\|/);
  });

  it('writes a self-contained report.html with the data and the chart script inline', () => {
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<script id="report-data" type="application/json">');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).toContain('Expert usage by data domain');
  });
});

describe('the command', () => {
  const run = (args: string[]) =>
    spawnSync(
      process.execPath,
      ['--conditions=@switchyard/source', '--import', 'tsx', 'src/cli.ts', ...args],
      {
        cwd: demoDir,
        encoding: 'utf8',
      },
    );

  it('prints the usage for --help and exits 0', () => {
    const result = run(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: npm run demo -- [options]');
  });

  it('exits 2 with the reason on a bad flag', () => {
    const result = run(['--steps', 'ten']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--steps must be an integer >= 1, got 'ten'");
  });
});

// The CLI's job, callable in-process (the tests run it with a few steps): train every requested model on the
// same data and settings, print the comparison, write report.json and report.html.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { liveTensorCount } from '@switchyard/tensor';
import { comparisonTable } from './comparison-table.js';
import { demoData } from './demo-data.js';
import { demoModels } from './demo-models.js';
import { DemoRun } from './demo-run.js';
import type { DemoOptions } from './options.js';
import { ProgressBar } from './progress.js';
import type { DemoReport, RunReport } from './report.js';
import { renderReportHtml } from './report-html.js';
import { selectBackend } from './select-backend.js';

export interface DemoIO {
  /** Progress bars (stderr in the CLI). */
  progress: NodeJS.WritableStream & { isTTY?: boolean };
  /** Everything else: the backend line, the table, where the report went (stdout in the CLI). */
  log(line: string): void;
}

/** Runs the demo; returns the report and the paths written. */
export async function runDemo(
  options: DemoOptions,
  io: DemoIO,
): Promise<{ report: DemoReport; json: string; html: string }> {
  const backend = await selectBackend(options.backend);
  try {
    io.log(`backend: ${backend.name} — ${backend.description}`);
    const data = demoData({ samples: options.samples, seqLen: options.seqLen, seed: options.seed });
    io.log(
      `data: synthetic ${data.domains.join(' / ')} mixture, ${data.train.tokenCount.toLocaleString('en-US')} training tokens, ` +
        `${data.heldOut.tokenCount.toLocaleString('en-US')} held out; ${options.steps} steps of ${options.batchSize}×${options.seqLen} tokens per model`,
    );
    const models = demoModels({
      vocabSize: data.tokenizer.vocabSize,
      seqLen: options.seqLen,
      balanceCoefficient: options.balance,
    });
    const settings = {
      steps: options.steps,
      batchSize: options.batchSize,
      lr: options.lr,
      warmupSteps: Math.max(1, Math.round(options.steps / 20)),
      seed: options.seed,
      evalBatches: 8,
    };
    const bar = new ProgressBar(io.progress);
    const runs: RunReport[] = [];
    for (const preset of options.presets) {
      const live = liveTensorCount();
      const run = new DemoRun(models[preset], data, settings);
      try {
        while (!run.done) {
          const log = await run.step();
          const tokens = run.logs.reduce((s, l) => s + l.tokens, 0);
          bar.update({
            label: preset,
            step: log.step,
            steps: options.steps,
            loss: log.loss.task,
            tokensPerSecond: tokens / Math.max(run.seconds, 1e-9),
            seconds: run.seconds,
          });
        }
        runs.push(await run.report());
      } finally {
        run.dispose();
      }
      const leaked = liveTensorCount() - live;
      if (leaked !== 0) io.log(`warning: ${leaked} tensors outlived the ${preset} run`);
    }
    const report: DemoReport = {
      backend: backend.name,
      backendDescription: backend.description,
      settings: {
        steps: options.steps,
        batchSize: options.batchSize,
        seqLen: options.seqLen,
        lr: options.lr,
        seed: options.seed,
        balanceCoefficient: options.balance,
      },
      domains: [...data.domains],
      runs,
      createdAt: new Date().toISOString(),
    };
    io.log('');
    io.log(comparisonTable(runs));
    io.log('');
    const dir = resolve(process.env.INIT_CWD ?? process.cwd(), options.out);
    await mkdir(dir, { recursive: true });
    const json = join(dir, 'report.json');
    const html = join(dir, 'report.html');
    await writeFile(json, `${JSON.stringify(report, null, 1)}\n`);
    await writeFile(html, await renderReportHtml(report));
    io.log(`report: ${json}`);
    io.log(`        ${html}`);
    return { report, json, html };
  } finally {
    backend.destroy();
  }
}

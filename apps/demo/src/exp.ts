import { scalePreset, validateConfig } from '@switchyard/presets';
import { createCpuBackend, setBackend } from '@switchyard/tensor';
import { demoData } from './demo-data.js';
import { type DemoModel, demoModels } from './demo-models.js';
import { DemoRun } from './demo-run.js';

setBackend(createCpuBackend());
const data = demoData({ samples: 3000, seqLen: 64, seed: 0 });
const models = demoModels({ vocabSize: 259, seqLen: 64, balanceCoefficient: 0.1 });
const variants: [string, DemoModel][] = [];
for (const p of ['switch', 'glam'] as const) {
  const m = models[p];
  variants.push([
    `${p}-rotary`,
    { ...m, config: validateConfig({ ...m.config, position: { kind: 'rotary', base: 10000 } }) },
  ]);
  variants.push([
    `${p}-dropless`,
    { ...m, config: validateConfig({ ...m.config, moe: { ...m.config.moe!, capacity: null } }) },
  ]);
}
for (const [name, spec] of variants) {
  const run = new DemoRun(spec, data, {
    steps: 120,
    batchSize: 8,
    lr: 3e-3,
    warmupSteps: 6,
    seed: 0,
    evalBatches: 8,
  });
  while (!run.done) await run.step();
  const ev = await run.evaluate();
  console.log(name, 'eval', ev.loss.task.toFixed(3), 'seconds', run.seconds.toFixed(0));
  run.dispose();
}

// A rank program: a tiny preset model made expert-parallel in place; its own forward (inside noGrad) must give
// the logits of the full model.
import { buildModel, tinyPreset } from '@switchyard/presets';
import { Generator, noGrad } from '@switchyard/tensor';
import { applyExpertParallel, type Communicator } from '../../src/index.js';

export default async function modelInference(comm: Communicator, preset: string) {
  const model = buildModel(tinyPreset(preset), { generator: new Generator(0) });
  model.eval();
  const ids = new Generator(10 + comm.rank).randint([2, 6], 0, 512);
  const full = noGrad(() => model.forward({ ids }).logits);
  const layers = applyExpertParallel(model, { expert: comm });
  const parallel = noGrad(() => model.forward({ ids }).logits);
  const a = full.dataSync();
  const b = parallel.dataSync();
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++)
    maxDiff = Math.max(maxDiff, Math.abs((a[i] as number) - (b[i] as number)));
  return { layers: [...layers.keys()], maxDiff, maxAbs: Math.max(...Array.from(a, Math.abs)) };
}

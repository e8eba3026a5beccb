// Generation with the experts resident on the device versus offloaded to host memory under a device budget
// of a quarter of the experts (@switchyard/inference): tokens/s of whole `generate` calls, prefill included.
import {
  type ExpertOffload,
  expertBytes,
  generate,
  HostExpertStore,
  offloadExperts,
} from '@switchyard/inference';
import { buildModel, scalePreset, tinyPreset } from '@switchyard/presets';
import { Generator } from '@switchyard/tensor';
import type { BenchCase, Measurable } from '../bench-case.js';

/** Tiny Mixtral with 32 experts per MoE layer (4 MoE layers, 21 MiB of experts); batch 1, 16-token prompt. */
const EXPERTS = 32;
const PROMPT = 16;

function generationCase(name: string, budgetShare: number | null): BenchCase {
  return {
    name,
    unit: 'tokens/s',
    quick: false,
    impls: ['switchyard'],
    async prepare(ctx): Promise<Measurable | { skip: string }> {
      const newTokens = ctx.quick ? 8 : 32;
      const config = scalePreset(tinyPreset('mixtral-8x7b'), { moe: { numExperts: EXPERTS } });
      const model = buildModel(config, { generator: new Generator(0) });
      const prompt = Array.from(
        await new Generator(1).randint([PROMPT], 0, config.embedding.vocabSize).data(),
      );
      let offload: ExpertOffload | null = null;
      if (budgetShare !== null) {
        const store = await HostExpertStore.fromModel(model);
        const total = store.layers.reduce((n, l) => n + l.numExperts * expertBytes(l), 0);
        offload = await offloadExperts(model, { store, budgetBytes: Math.floor(total * budgetShare) });
      }
      return {
        shape: `tiny mixtral E=${EXPERTS} prompt=${PROMPT} new=${newTokens}${
          budgetShare === null ? '' : ` budget=${budgetShare * 100}% of experts`
        }`,
        work: newTokens,
        async run() {
          // Each call starts from an empty expert cache, so the misses of a fresh generation are measured.
          await offload?.cache.clear();
          await generate(model, [prompt], {
            maxNewTokens: newTokens,
            stopTokens: [],
            ...(offload ? { offload } : {}),
          });
        },
        dispose() {
          void offload?.dispose();
          model.dispose();
        },
      };
    },
  };
}

/** `generate-resident`, `generate-offloaded-25`: tokens/s with every expert on the device, and with a quarter. */
export const generationCases: BenchCase[] = [
  generationCase('generate-resident', null),
  generationCase('generate-offloaded-25', 0.25),
];

// Expert parallelism over worker threads (@switchyard/parallel): one MoE layer's training step on 1 worker rank
// and on 2, the same global batch, in tokens/s. On a 2-core machine the second rank is the second core.
import { launchWorkers } from '@switchyard/parallel';
import type { BenchCase, SelfTimed } from '../bench-case.js';
import type { RankConfig } from './expert-parallel-rank.js';

/** T=2048, D=256, F=512 SwiGLU, E=8, K=2: 9.7 GFLOP of expert matmuls per training step. */
const LAYER = { tokens: 2048, dModel: 256, dHidden: 512, numExperts: 8, topK: 2 };
const RANK = new URL('./expert-parallel-rank.ts', import.meta.url);

function expertParallelCase(ranks: number): BenchCase {
  return {
    name: `moe-ep-${ranks}-rank${ranks === 1 ? '' : 's'}`,
    unit: 'tokens/s',
    quick: false,
    impls: ['switchyard'],
    prepare(ctx) {
      if (ctx.backend !== 'cpu') return { skip: 'worker ranks run the CPU backend' };
      const measurable: SelfTimed = {
        shape: `T=${LAYER.tokens} D=${LAYER.dModel} F=${LAYER.dHidden} E=${LAYER.numExperts} K=${LAYER.topK} SwiGLU, fwd+bwd, ${ranks} worker rank(s)`,
        work: LAYER.tokens,
        async timed(runs) {
          const perRank = await launchWorkers<number[], RankConfig>(RANK, {
            size: ranks,
            data: { ...LAYER, steps: runs },
          });
          // Steps end on a barrier, so the ranks agree up to its latency; the slowest one counts.
          return Array.from({ length: runs }, (_, i) => Math.max(...perRank.map((s) => s[i] as number)));
        },
        dispose() {},
      };
      return measurable;
    },
  };
}

/** `moe-ep-1-rank`, `moe-ep-2-ranks`: their ratio is what expert parallelism gains from the second core. */
export const expertParallelCases: BenchCase[] = [expertParallelCase(1), expertParallelCase(2)];

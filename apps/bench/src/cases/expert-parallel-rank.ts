// The rank program of the expert-parallel cases: each worker thread imports it and calls the default export.
// One MoE layer (router replicated, experts split over the ranks) runs training steps (forward, backward, the
// router gradients all-reduced), each between barriers; the rank returns the seconds of each timed step.
import { GroupedExperts } from '@switchyard/experts';
import { disposeStats, MoELayer } from '@switchyard/moe';
import { allReduceGradients, type Communicator, ExpertParallelLayer } from '@switchyard/parallel';
import { disposeRouting, TopKRouter } from '@switchyard/routers';
import { Generator, mul, sum, tidy } from '@switchyard/tensor';

/** The layer and how many steps to time (after one warm-up step). The global batch is `tokens`. */
export interface RankConfig {
  tokens: number;
  dModel: number;
  dHidden: number;
  numExperts: number;
  topK: number;
  steps: number;
}

export default async function rank(comm: Communicator, config: RankConfig): Promise<number[]> {
  const { dModel, dHidden, numExperts, topK } = config;
  const generator = new Generator(0);
  const layer = new MoELayer({
    router: new TopKRouter({ dModel, numExperts, topK, normalize: true, generator }),
    experts: new GroupedExperts({ numExperts, dModel, dHidden, activation: 'silu', gated: true, generator }),
  });
  const ep = new ExpertParallelLayer(layer, { expert: comm });
  const data = new Generator(1 + comm.rank);
  const x = data.normal([config.tokens / comm.size, dModel]).requireGrad();
  const target = data.normal([config.tokens / comm.size, dModel]);
  const step = async () => {
    const out = await ep.forward(x);
    tidy(() => sum(mul(out.y, target)).backward());
    await ep.backward();
    await allReduceGradients(layer.router.parameters(), comm);
    out.y.dispose();
    disposeRouting(out.routing);
    disposeStats(out.stats);
    layer.zeroGrad();
    x.zeroGrad();
  };
  await step();
  const seconds: number[] = [];
  for (let i = 0; i < config.steps; i++) {
    await comm.barrier();
    const start = performance.now();
    await step();
    await comm.barrier();
    seconds.push((performance.now() - start) / 1000);
  }
  return seconds;
}

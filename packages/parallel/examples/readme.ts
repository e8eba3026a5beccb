// The README example: a top-2-of-4 MoE layer trained expert-parallel over 2 in-process ranks, each rank
// holding 2 of the 4 experts and its own half of the batch. Run by test/examples.test.ts.
import { GroupedExperts } from '@switchyard/experts';
import { disposeStats, MoELayer } from '@switchyard/moe';
import { disposeRouting, TopKRouter } from '@switchyard/routers';
import { Generator, mean, noGrad, square, sub, type Tensor, tidy } from '@switchyard/tensor';
import {
  allReduceGradients,
  createVirtualCluster,
  ExpertParallelLayer,
  runVirtualRanks,
  withBackend,
} from '../src/index.js';

export async function readme(steps: number, log: (line: string) => void): Promise<number[]> {
  const comms = createVirtualCluster({ size: 2 });
  const losses = await runVirtualRanks(comms, async (comm) => {
    // Every rank builds the same layer (same seed), then keeps its own experts.
    const { layer, x, target } = withBackend(comm.backend, () => {
      const gen = new Generator(0);
      const layer = new MoELayer({
        router: new TopKRouter({ dModel: 8, numExperts: 4, topK: 2, normalize: true, generator: gen }),
        experts: new GroupedExperts({
          numExperts: 4,
          dModel: 8,
          dHidden: 16,
          activation: 'gelu',
          generator: gen,
        }),
      });
      const data = new Generator(1 + comm.rank); // each rank its own tokens
      const x = data.normal([64, 8]);
      return { layer, x, target: x.tanh() };
    });
    const ep = new ExpertParallelLayer(layer, { expert: comm }, { capacity: { capacityFactor: 1.25 } });
    if (comm.rank === 0) log(`experts per rank: ${JSON.stringify(ep.placement.slots)}`);
    const history: number[] = [];
    for (let step = 0; step < steps; step++) {
      const out = await ep.forward(x);
      const loss = withBackend(comm.backend, () => tidy(() => mean(square(sub(out.y, target)))));
      withBackend(comm.backend, () => loss.backward()); // this rank's graph, up to the all-to-alls
      await ep.backward(); // gradients back through the all-to-alls to the experts and the input
      // The objective is the sum of the ranks' losses: experts already hold every rank's share, the router
      // (replicated on both ranks) sums its replicas' gradients.
      await allReduceGradients(layer.router.parameters(), comm, { average: false });
      withBackend(comm.backend, () =>
        noGrad(() => {
          for (const p of layer.parameters()) {
            const next = tidy(() => p.sub((p.grad as Tensor).mul(0.5)));
            p.assign(next);
            next.dispose();
          }
        }),
      );
      layer.zeroGrad();
      const summed = await comm.allReduce(loss, 'sum');
      const total = summed.itemSync();
      const kept = await comm.allReduce(out.stats.keptPerExpert, 'sum');
      if (comm.rank === 0 && (step % 10 === 0 || step === steps - 1)) {
        log(
          `step ${step} loss ${total.toFixed(4)} tokens kept per expert ${JSON.stringify(Array.from(kept.dataSync()))}`,
        );
      }
      history.push(total);
      summed.dispose();
      kept.dispose();
      loss.dispose();
      out.y.dispose();
      disposeRouting(out.routing);
      disposeStats(out.stats);
    }
    layer.dispose();
    x.dispose();
    target.dispose();
    return history;
  });
  return losses[0] as number[];
}

if (import.meta.url === `file://${process.argv[1]}`) await readme(40, console.log);

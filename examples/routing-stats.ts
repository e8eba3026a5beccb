// Shape letters: T tokens, D model width, E experts, K top-k, A = T·K assignments.
//
// Read what a forward pass did with its tokens. `MoELayer.forward` always returns the routing (which expert
// each token went to, with what weight) and load statistics as tensors; `readStats` reads the statistics to
// plain numbers, and the balance losses are pure functions of the routing. A tight capacity (factor 1.0)
// makes some experts drop tokens, which the statistics show.
import { GroupedExperts } from '@switchyard/experts';
import { routerZLoss, switchLoadBalancingLoss } from '@switchyard/losses';
import { disposeStats, LocalDispatcher, MoELayer, type MoEStatsValues, readStats } from '@switchyard/moe';
import { disposeRouting, TopKRouter } from '@switchyard/routers';
import { Generator } from '@switchyard/tensor';

export async function main(log: (line: string) => void = console.log): Promise<MoEStatsValues> {
  const gen = new Generator(0);
  const layer = new MoELayer({
    router: new TopKRouter({ dModel: 16, numExperts: 8, topK: 2, generator: gen }),
    experts: new GroupedExperts({
      numExperts: 8,
      dModel: 16,
      dHidden: 32,
      activation: 'gelu',
      generator: gen,
    }),
    dispatcher: new LocalDispatcher({ capacityFactor: 1.0 }),
  });
  const x = gen.normal([32, 16]);
  const { y, routing, stats } = layer.forward(x);

  const s = await readStats(stats);
  log(`tokens per expert (asked) [${s.tokensPerExpert}]`);
  log(`tokens per expert (kept)  [${s.keptPerExpert}]`);
  log(`dropped ${(100 * s.droppedFraction).toFixed(1)}% of ${routing.token_A.size} assignments`);
  log(`router entropy ${s.routerEntropy.toFixed(3)} nats (uniform: ${Math.log(8).toFixed(3)})`);
  log(`load CV ${s.loadCV.toFixed(3)}, max/mean ${s.maxMeanLoad.toFixed(2)}, dead experts ${s.deadExperts}`);

  // Token 0's assignments: the first K entries of the token-choice routing (a = t·K + k).
  const experts = await routing.expert_A.data();
  const weights = await routing.weight_A.data();
  log(
    `token 0 -> experts ${experts[0]}, ${experts[1]} with weights ${weights[0]?.toFixed(3)}, ${weights[1]?.toFixed(3)}`,
  );

  const balance = switchLoadBalancingLoss(routing);
  const z = routerZLoss(routing);
  log(
    `switch balance loss ${(await balance.item()).toFixed(5)} (0.01 when balanced), z-loss ${(await z.item()).toFixed(5)}`,
  );

  for (const t of [y, x, balance, z]) t.dispose();
  disposeRouting(routing);
  disposeStats(stats);
  layer.dispose();
  return s;
}

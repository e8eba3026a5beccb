// Shape letters: T tokens, D model width, G groups (outer experts), E experts per group.
//
// A hierarchical mixture of experts (Jordan & Jacobs 1994): an outer gate sends each token to one of G groups,
// and each group is itself an MoE layer whose own gate picks 2 of its E experts. The groups are `NestedMoE`
// modules in a `ModuleExperts` container, which hands each inner layer exactly the tokens sent to it (the
// default rows: 'segment', on the CPU backend). The outer layer and every inner layer return their routing, so
// the training step adds a balance loss for each level.
import { GroupedExperts, ModuleExperts } from '@switchyard/experts';
import { switchLoadBalancingLoss } from '@switchyard/losses';
import { disposeStats, MoELayer, NestedMoE, readStats } from '@switchyard/moe';
import { disposeRouting, TopKRouter } from '@switchyard/routers';
import { add, Generator, mean, mul, square, sub, tanh, tidy } from '@switchyard/tensor';

const T = 64;
const D = 8;
const G = 2;
const E = 4;

export async function main(log: (line: string) => void = console.log): Promise<number[]> {
  const gen = new Generator(0);
  const group = () =>
    new NestedMoE(
      new MoELayer({
        router: new TopKRouter({ dModel: D, numExperts: E, topK: 2, normalize: true, generator: gen }),
        experts: new GroupedExperts({
          numExperts: E,
          dModel: D,
          dHidden: 16,
          activation: 'gelu',
          generator: gen,
        }),
      }),
    );
  const groups = new ModuleExperts({ experts: Array.from({ length: G }, group), dModel: D });
  const layer = new MoELayer({
    router: new TopKRouter({ dModel: D, numExperts: G, topK: 1, normalize: true, generator: gen }),
    experts: groups,
  });

  const x = gen.normal([T, D]);
  const target = tidy(() => tanh(mul(x, 2)));
  const losses: number[] = [];
  for (let step = 0; step < 40; step++) {
    const { mse, out } = tidy(() => {
      const out = layer.forward(x);
      const mse = mean(square(sub(out.y, target)));
      let loss = add(mse, switchLoadBalancingLoss(out.routing));
      for (const g of groups.modules) if (g.last) loss = add(loss, switchLoadBalancingLoss(g.last.routing));
      loss.backward();
      for (const p of layer.parameters()) {
        p.assign(sub(p, mul(p.grad!, 0.5)));
        p.zeroGrad();
      }
      return { mse, out };
    });
    losses.push(await mse.item());
    if (step === 0 || step === 39) {
      const outer = await readStats(out.stats);
      log(`step ${step} loss ${losses.at(-1)?.toFixed(4)} tokens/group [${outer.tokensPerExpert}]`);
      for (const [i, g] of groups.modules.entries()) {
        if (!g.last) continue;
        const inner = await readStats(g.last.stats);
        log(
          `  group ${i}: tokens/expert [${inner.tokensPerExpert}] entropy ${inner.routerEntropy.toFixed(3)}`,
        );
      }
    }
    mse.dispose();
    out.y.dispose();
    disposeRouting(out.routing);
    disposeStats(out.stats);
  }

  x.dispose();
  target.dispose();
  groups.dispose(); // frees each group's parameters and its last routing and stats
  layer.dispose();
  return losses;
}

// Shape letters: T tokens, D model width, F hidden width, E experts.
//
// Sparse upcycling (Komatsuzaki et al. 2022): train a dense feed-forward layer, copy it into every expert of an
// MoE layer, and continue training from there. With top-1 routing and combine weight 1 the new layer computes
// exactly the dense one at the start (only the router is new), so nothing learned is lost.
import { upcycle } from '@switchyard/experts';
import { disposeStats, MoELayer } from '@switchyard/moe';
import { MLP, type Module } from '@switchyard/nn';
import { disposeRouting, TopKRouter } from '@switchyard/routers';
import { abs, Generator, max, mean, mul, sin, square, sub, type Tensor, tidy } from '@switchyard/tensor';

/** One step of plain gradient descent on the mean squared error; returns the loss. */
function step(model: Module, predict: () => Tensor, target: Tensor, lr: number): Promise<number> {
  const loss = tidy(() => {
    const mse = mean(square(sub(predict(), target)));
    mse.backward();
    for (const p of model.trainableParameters()) {
      p.assign(sub(p, mul(p.grad!, lr)));
      p.zeroGrad();
    }
    return mse;
  });
  return loss.item().finally(() => loss.dispose());
}

export async function main(
  log: (line: string) => void = console.log,
): Promise<{ dense: number; moe: number[] }> {
  const gen = new Generator(0);
  const x = gen.normal([128, 8]);
  const target = tidy(() => sin(mul(x, 2)));

  const dense = new MLP(8, 32, { activation: 'gelu', generator: gen });
  let denseLoss = 0;
  for (let i = 0; i < 100; i++) denseLoss = await step(dense, () => dense.forward(x), target, 0.1);
  log(`dense FFN after 100 steps: loss ${denseLoss.toFixed(4)}`);

  const layer = new MoELayer({
    router: new TopKRouter({ dModel: 8, numExperts: 4, topK: 1, normalize: true, generator: gen }),
    experts: upcycle({ w1: dense.w1, w2: dense.w2, activation: 'gelu' }, 4),
  });
  const moeOut = (): Tensor => {
    const out = layer.forward(x);
    disposeRouting(out.routing);
    disposeStats(out.stats);
    return out.y;
  };
  const gap = tidy(() => max(abs(sub(moeOut(), dense.forward(x)))));
  log(`upcycled to 4 experts: max |MoE - dense| = ${(await gap.item()).toExponential(1)} at the start`);
  gap.dispose();

  const moeLosses: number[] = [];
  for (let i = 0; i < 100; i++) moeLosses.push(await step(layer, moeOut, target, 0.1));
  log(`MoE after 100 more steps: loss ${moeLosses[0]?.toFixed(4)} -> ${moeLosses.at(-1)?.toFixed(4)}`);

  x.dispose();
  target.dispose();
  dense.dispose();
  layer.dispose();
  return { dense: denseLoss, moe: moeLosses };
}

// Shape letters: T tokens, N rows of one expert, D model width, F hidden width, r LoRA rank.
//
// Any module mapping rows [N, D] -> [N, D] can be an expert. Here each expert is a LoRA adapter (Hu et al.
// 2021) on one shared, frozen feed-forward layer, as in mixtures of LoRA experts (Zadouri et al. 2023): the
// experts differ only by their rank-r updates, so training touches the router and the adapters alone.
// `ModuleExperts` runs them with a loop over experts and plugs into `MoELayer` exactly like `GroupedExperts`.
import { ModuleExperts } from '@switchyard/experts';
import { disposeStats, MoELayer } from '@switchyard/moe';
import { MLP, Module, Parameter } from '@switchyard/nn';
import { disposeRouting, TopKRouter } from '@switchyard/routers';
import {
  add,
  Generator,
  gelu,
  matmul,
  mean,
  mul,
  square,
  sub,
  type Tensor,
  tanh,
  tidy,
  zeros,
} from '@switchyard/tensor';

/** `gelu(x (w1 + a b · alpha / r)) w2`: the frozen base FFN with a trainable low-rank update of w1. */
class LoRAExpert extends Module {
  readonly base: MLP;
  /** [D, r], random. */
  readonly a: Parameter;
  /** [r, F], zero: the expert starts as the base FFN. */
  readonly b: Parameter;
  readonly scale: number;

  constructor(base: MLP, rank: number, generator: Generator, alpha = 2 * rank) {
    super();
    this.base = base;
    this.a = new Parameter(generator.normal([base.dModel, rank], 0, 1 / Math.sqrt(base.dModel)));
    this.b = new Parameter(zeros([rank, base.dHidden]));
    this.scale = alpha / rank;
  }

  forward(x_ND: Tensor): Tensor {
    return tidy(() => {
      const h_NF = add(matmul(x_ND, this.base.w1), mul(matmul(matmul(x_ND, this.a), this.b), this.scale));
      return matmul(gelu(h_NF), this.base.w2);
    });
  }
}

export async function main(log: (line: string) => void = console.log): Promise<number[]> {
  const gen = new Generator(0);
  const base = new MLP(8, 32, { activation: 'gelu', generator: gen }); // stands in for a trained FFN
  base.freeze();
  const layer = new MoELayer({
    router: new TopKRouter({ dModel: 8, numExperts: 4, topK: 2, normalize: true, generator: gen }),
    experts: new ModuleExperts({
      experts: Array.from({ length: 4 }, () => new LoRAExpert(base, 2, gen)),
      dModel: 8,
    }),
  });
  // The base appears once in the parameter list however many experts share it.
  const trainable = layer.trainableParameters().reduce((n, p) => n + p.size, 0);
  log(`4 LoRA experts on one frozen FFN: ${trainable} trainable of ${layer.parameterCount()} parameters`);

  const x = gen.normal([64, 8]);
  const target = tidy(() => tanh(mul(x, 2)));
  const losses: number[] = [];
  for (let step = 0; step < 60; step++) {
    const loss = tidy(() => {
      const out = layer.forward(x);
      const mse = mean(square(sub(out.y, target)));
      mse.backward();
      for (const p of layer.trainableParameters()) {
        p.assign(sub(p, mul(p.grad!, 0.5)));
        p.zeroGrad();
      }
      disposeRouting(out.routing);
      disposeStats(out.stats);
      return mse;
    });
    losses.push(await loss.item());
    loss.dispose();
    if (step % 20 === 0 || step === 59) log(`step ${step} loss ${losses.at(-1)?.toFixed(4)}`);
  }

  x.dispose();
  target.dispose();
  layer.dispose();
  return losses;
}

// Shape letters: N rows, D model width, F hidden width, r LoRA rank, K kernel width, C channels.
// Two experts that are not stacked FFNs, for the ModuleExperts tests: a LoRA-adapted FFN and a convolution over
// the feature axis.
import { Module, Parameter } from '@switchyard/nn';
import {
  add,
  type Generator,
  gelu,
  matmul,
  mul,
  pad,
  reshape,
  slice,
  stack,
  type Tensor,
  tidy,
  zeros,
} from '@switchyard/tensor';

/**
 * `gelu(x w1) w2` with frozen base weights, each adapted by a trainable rank-r update (LoRA, Hu et al. 2021):
 * `x w + (x a) b · alpha / r`, `a` random and `b` zero, so it starts as the base FFN.
 */
export class LoRAFFN extends Module {
  readonly w1: Parameter;
  readonly w2: Parameter;
  readonly a1: Parameter;
  readonly b1: Parameter;
  readonly a2: Parameter;
  readonly b2: Parameter;
  readonly scale: number;

  constructor(base: { w1: Tensor; w2: Tensor }, rank: number, generator: Generator, alpha = 2 * rank) {
    super();
    const [d, f] = base.w1.shape as [number, number];
    this.w1 = new Parameter(base.w1.detach());
    this.w2 = new Parameter(base.w2.detach());
    this.a1 = new Parameter(generator.normal([d, rank], 0, 1 / Math.sqrt(d)));
    this.b1 = new Parameter(zeros([rank, f]));
    this.a2 = new Parameter(generator.normal([f, rank], 0, 1 / Math.sqrt(f)));
    this.b2 = new Parameter(zeros([rank, d]));
    this.scale = alpha / rank;
    this.freeze('w*');
  }

  forward(x_ND: Tensor): Tensor {
    return tidy(() => {
      const adapt = (x: Tensor, w: Tensor, a: Tensor, b: Tensor) =>
        add(matmul(x, w), mul(matmul(matmul(x, a), b), this.scale));
      return adapt(gelu(adapt(x_ND, this.w1, this.a1, this.b1)), this.w2, this.a2, this.b2);
    });
  }
}

/**
 * A 1-D convolution over the feature axis: each row [D] is a one-channel signal; C filters of odd width K with
 * zero 'same' padding, a bias and GELU, then a learned mix of the C channels back to one: [N, D] -> [N, D].
 */
export class FeatureConv extends Module {
  readonly kernel_KC: Parameter;
  readonly bias_C: Parameter;
  readonly mix_C1: Parameter;

  constructor(width: number, channels: number, generator: Generator) {
    super();
    this.kernel_KC = new Parameter(generator.normal([width, channels], 0, 1 / Math.sqrt(width)));
    this.bias_C = new Parameter(generator.normal([channels], 0, 0.1));
    this.mix_C1 = new Parameter(generator.normal([channels, 1], 0, 1 / Math.sqrt(channels)));
  }

  forward(x_ND: Tensor): Tensor {
    const [n, d] = x_ND.shape as [number, number];
    const k = this.kernel_KC.shape[0] as number;
    const half = (k - 1) / 2;
    return tidy(() => {
      const padded = pad(x_ND, [
        [0, 0],
        [half, half],
      ]);
      const windows_NDK = stack(
        Array.from({ length: k }, (_, j) => slice(padded, [0, j], [n, d])),
        2,
      );
      const h_NDC = gelu(add(matmul(windows_NDK, this.kernel_KC), this.bias_C));
      return reshape(matmul(h_NDC, this.mix_C1), [n, d]);
    });
  }
}

import { glu, type Tensor, tidy, zeros } from '@switchyard/tensor';
import type { ActivationName } from './activation.js';
import { checkFeatures, initial } from './checks.js';
import { type MLPOptions, mlpConfig, project } from './mlp.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';

/**
 * A gated feed-forward unit (Shazeer 2020, "GLU Variants Improve Transformer"):
 * `y = (act(x w1) * (x w3)) w2`, SwiGLU with `silu` (the default; LLaMA, Mixtral, DeepSeek) and GEGLU with
 * `gelu` (T5 v1.1). Names follow Mixtral/LLaMA: `w1` the gate, `w3` the up projection, `w2` the down
 * projection, which the experts package mirrors as `w1_EDF`, `w3_EDF`, `w2_EFD`. With `bias`, b1 and b3
 * [F] and b2 [D] are added after their projections.
 *
 * Shapes: x [..., D] -> [..., D], with w1 [D, F], w3 [D, F], w2 [F, D]. Differentiable in x and every weight.
 *
 * @example
 * ```ts
 * const ffn = new GatedMLP(64, 172, { activation: 'silu', generator: new Generator(0) });
 * const y = ffn.forward(x); // x [B, S, 64] -> [B, S, 64]
 * ```
 */
export class GatedMLP extends Module {
  readonly dModel: number;
  readonly dHidden: number;
  readonly activation: ActivationName;
  /** Gate [D, F]. */
  readonly w1: Parameter;
  /** Down projection [F, D]. */
  readonly w2: Parameter;
  /** Up projection [D, F]. */
  readonly w3: Parameter;
  readonly b1: Parameter | null;
  readonly b2: Parameter | null;
  readonly b3: Parameter | null;

  constructor(dModel: number, dHidden: number, options: MLPOptions) {
    super();
    const c = mlpConfig('GatedMLP', dModel, dHidden, options, 'silu');
    this.dModel = c.dModel;
    this.dHidden = c.dHidden;
    this.activation = c.activation;
    this.w1 = new Parameter(initial('GatedMLP', 'w1', c.init, [dModel, dHidden], c.generator));
    this.w2 = new Parameter(initial('GatedMLP', 'w2', c.init, [dHidden, dModel], c.generator));
    this.w3 = new Parameter(initial('GatedMLP', 'w3', c.init, [dModel, dHidden], c.generator));
    this.b1 = c.bias ? new Parameter(zeros([dHidden])) : null;
    this.b2 = c.bias ? new Parameter(zeros([dModel])) : null;
    this.b3 = c.bias ? new Parameter(zeros([dHidden])) : null;
  }

  /** x [..., D] -> [..., D]. */
  forward(x: Tensor): Tensor {
    checkFeatures('GatedMLP', x, this.dModel);
    return tidy(() => {
      const gate = project(x, this.w1, this.b1);
      const up = project(x, this.w3, this.b3);
      return project(glu(gate, up, this.activation), this.w2, this.b2);
    });
  }
}

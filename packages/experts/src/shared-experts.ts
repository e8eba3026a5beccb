// Shape letters (DESIGN.md §3):
//   T  tokens
//   D  model width (dModel)
//   F  hidden width of one shared expert (dHidden)
//   S  shared experts (numShared)
//   H  hidden width of the whole shared block, S * F
import {
  type ActivationName,
  checkActivation,
  checkBool,
  checkChoice,
  checkGenerator,
  checkInitializer,
  checkInt,
  checkOptions,
  type Initializer,
  initial,
  initializers,
  Module,
  Parameter,
} from '@switchyard/nn';
import {
  fmtShape,
  type Generator,
  glu,
  isFloat,
  matmul,
  mul,
  SwitchyardError,
  sigmoid,
  Tensor,
  tidy,
} from '@switchyard/tensor';

/**
 * How the shared experts' output is scaled: `'none'` adds it as is (DeepSeekMoE, DeepSeek-V2/V3);
 * `'sigmoid'` multiplies it by a learned per-token gate `sigmoid(x w_gate)` (Qwen1.5-MoE, Qwen2-MoE).
 */
export type SharedExpertsGate = 'none' | 'sigmoid';

const GATES: readonly SharedExpertsGate[] = ['none', 'sigmoid'];

/** Configuration of `SharedExperts`. */
export interface SharedExpertsConfig {
  /** D, the model width. */
  dModel: number;
  /** F, the hidden width of one shared expert (in DeepSeekMoE, the fine-grained expert width). */
  dHidden: number;
  /** S, the number of always-on shared experts; they are stored as one MLP of width S * F. Default 1. */
  numShared?: number;
  /** The activation; `'silu'` with `gated` is SwiGLU, as in DeepSeekMoE and Qwen-MoE. */
  activation: ActivationName;
  /** Gated units `(act(x w1) * (x w3)) w2` instead of `act(x w1) w2`. Default false. */
  gated?: boolean;
  /** `'none'` (default) or `'sigmoid'`; see `SharedExpertsGate`. */
  gate?: SharedExpertsGate;
  /**
   * Initialiser for every weight (fans from the last two axes: the block is initialised as one dense MLP of
   * width S * F). Default `initializers.switchScaled()`, as for `GroupedExperts`.
   */
  init?: Initializer;
  /** The generator every initial weight is drawn from. */
  generator: Generator;
}

/**
 * Always-on shared experts applied to every token, beside the routed ones (the MoE layer adds their output to
 * the routed experts' combined output).
 *
 * - DeepSeekMoE (Dai et al. 2024, "DeepSeekMoE: Towards Ultimate Expert Specialization"): S shared experts
 *   of width F isolated from the routed ones to hold common knowledge. S experts that every token visits with
 *   weight 1 are exactly one MLP of width H = S * F, which is how they are stored:
 *   `y = act(x w1) w2` or `y = (act(x w1) * (x w3)) w2` with `w1`, `w3` [D, H] and `w2` [H, D]; expert s is
 *   hidden columns [s F, (s + 1) F).
 * - Qwen1.5-MoE: one shared expert scaled per token by a sigmoid gate, `y = sigmoid(x w_gate) * shared(x)`,
 *   `w_gate` [D, 1] (`gate: 'sigmoid'`).
 *
 * No biases. `forward(x_TD)` -> [T, D] (any leading axes work: [..., D] -> [..., D]). Differentiable in x and
 * every weight.
 *
 * @example
 * ```ts
 * const shared = new SharedExperts({
 *   dModel: 8, dHidden: 4, numShared: 2, activation: 'silu', gated: true, generator: new Generator(0),
 * });
 * const y_TD = shared.forward(new Generator(1).normal([5, 8])); // [5, 8]
 * ```
 */
export class SharedExperts extends Module {
  /** [D, H] input projection, H = numShared * dHidden. */
  readonly w1: Parameter;
  /** [H, D] output projection. */
  readonly w2: Parameter;
  /** [D, H] gate projection of the gated unit when `gated`, else null. */
  readonly w3: Parameter | null;
  /** [D, 1] weight of the sigmoid output gate when `gate` is `'sigmoid'`, else null. */
  readonly wGate: Parameter | null;
  /** D. */
  readonly dModel: number;
  /** F, the width of one shared expert. */
  readonly dHidden: number;
  /** S. */
  readonly numShared: number;
  /** Whether the shared experts are gated units. */
  readonly gated: boolean;
  /** The output gate. */
  readonly gate: SharedExpertsGate;
  /** The activation's name. */
  readonly activation: ActivationName;
  #act: (x: Tensor) => Tensor;

  constructor(config: SharedExpertsConfig) {
    super();
    const op = 'SharedExperts';
    checkOptions(op, config, true, 'the config');
    this.dModel = checkInt(op, 'dModel', config.dModel);
    this.dHidden = checkInt(op, 'dHidden', config.dHidden);
    this.numShared = config.numShared === undefined ? 1 : checkInt(op, 'numShared', config.numShared);
    this.#act = checkActivation(op, 'activation', config.activation);
    this.activation = config.activation;
    this.gated = checkBool(op, 'gated', config.gated, false);
    this.gate = checkChoice(op, 'gate', config.gate, GATES, 'none');
    const init = checkInitializer(op, 'init', config.init, initializers.switchScaled());
    const generator = checkGenerator(op, 'generator', config.generator);
    const [d, h] = [this.dModel, this.numShared * this.dHidden];
    this.w1 = new Parameter(initial(op, 'w1', init, [d, h], generator));
    this.w2 = new Parameter(initial(op, 'w2', init, [h, d], generator));
    this.w3 = this.gated ? new Parameter(initial(op, 'w3', init, [d, h], generator)) : null;
    this.wGate =
      this.gate === 'sigmoid' ? new Parameter(initial(op, 'wGate', init, [d, 1], generator)) : null;
  }

  /**
   * @param x_TD float [T, D] (or [..., D]): every token.
   * @returns [T, D], the shared experts' output, to add to the routed experts' combined output.
   */
  forward(x_TD: Tensor): Tensor {
    const op = 'SharedExperts.forward';
    if (!(x_TD instanceof Tensor)) throw new SwitchyardError('INVALID_ARGUMENT', op, 'x_TD must be a Tensor');
    if (x_TD.rank < 1 || x_TD.shape.at(-1) !== this.dModel) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        op,
        `x_TD must be [T, ${this.dModel}], got ${fmtShape(x_TD.shape)}`,
      );
    }
    if (!isFloat(x_TD.dtype)) {
      throw new SwitchyardError(
        'DTYPE_MISMATCH',
        op,
        `x_TD must be a float tensor, got ${x_TD.dtype} ${fmtShape(x_TD.shape)}`,
      );
    }
    return tidy(() => {
      const a_TH = matmul(x_TD, this.w1);
      // Gated: act(a) * b fused (one pass forward, one per input backward).
      const h_TH = this.w3 ? glu(a_TH, matmul(x_TD, this.w3), this.activation) : this.#act(a_TH);
      const y_TD = matmul(h_TH, this.w2);
      return this.wGate ? mul(sigmoid(matmul(x_TD, this.wGate)), y_TD) : y_TD;
    });
  }
}

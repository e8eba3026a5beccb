// Shape letters (DESIGN.md §3):
//   R  routed rows, grouped by expert: expert e owns rows [offsets[e], offsets[e + 1])
//   D  model width (dModel)
//   F  expert hidden width (dHidden)
//   E  experts (numExperts)
//   E1 E + 1 segment offsets
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
  add,
  arange,
  fmtShape,
  Generator,
  glu,
  groupedMatmul,
  isFloat,
  matmul,
  mul,
  offsetsFromCounts,
  reshape,
  SwitchyardError,
  slice,
  Tensor,
  tidy,
  where,
  zeros,
} from '@switchyard/tensor';
import { checkRoutedRows, segmentMask } from './routed-rows.js';

/**
 * How `GroupedExperts.forward` computes: `'grouped'` runs three (two when ungated) `groupedMatmul` calls over
 * all rows at once; `'loop'` is the per-expert numerical reference (slow: every expert runs on every row).
 */
export type ExpertsImplementation = 'grouped' | 'loop';

const IMPLEMENTATIONS: readonly ExpertsImplementation[] = ['grouped', 'loop'];

/** Configuration of `GroupedExperts`. */
export interface GroupedExpertsConfig {
  /** E, the number of experts (a positive integer). */
  numExperts: number;
  /** D, the model width: rows in and out. */
  dModel: number;
  /** F, each expert's hidden width. */
  dHidden: number;
  /** The activation: `'silu'` with `gated` is SwiGLU (Mixtral, DeepSeek), `'gelu'` with `gated` is GEGLU. */
  activation: ActivationName;
  /** A gated unit `(act(x w1) * (x w3)) w2` instead of `act(x w1) w2`. Default false. */
  gated?: boolean;
  /** `'grouped'` (default) or the `'loop'` reference; see `ExpertsImplementation`. */
  implementation?: ExpertsImplementation;
  /**
   * Initialiser for every weight, given its stacked shape (fans are taken from the last two axes, so each
   * expert is initialised like a dense layer). Default `initializers.switchScaled()`: Switch Transformer's
   * reduced-scale truncated normal, std = sqrt(0.1 / fanIn).
   */
  init?: Initializer;
  /** The generator every initial weight is drawn from (randomness is explicit). */
  generator: Generator;
}

/** Stacked expert weights as `GroupedExperts.fromWeights` takes them. */
export interface ExpertWeights {
  /** [E, D, F] input projection. */
  w1: Tensor;
  /** [E, F, D] output projection. */
  w2: Tensor;
  /** [E, D, F] gate projection of a gated unit; absent or null for a plain MLP. */
  w3?: Tensor | null;
}

/**
 * E feed-forward experts with stacked weights, applied to rows already grouped by expert (the dispatcher's
 * output): expert e maps its rows with `act(x w1[e]) w2[e]`, or `(act(x w1[e]) * (x w3[e])) w2[e]` when gated
 * (Mixtral's w1/w2/w3 naming; no biases).
 *
 * Shapes: `w1` [E, D, F], `w2` [E, F, D], `w3` [E, D, F] (gated only); `forward(routed_RD, counts_E)`
 * takes R rows [R, D] whose first `counts[0]` rows belong to expert 0, the next `counts[1]` to expert 1, and
 * so on; rows after `sum(counts)` (padding) come out zero. Returns [R, D].
 *
 * Use it as the routed experts of an MoE layer: the dispatcher supplies `routed_RD` and `counts_E`, and
 * `combine` weights and scatters the output back to tokens.
 *
 * Two interchangeable implementations share the weights and the signature: `'grouped'` on the
 * `groupedMatmul` primitive (the dropless grouped GEMM of MegaBlocks, Gale et al. 2022), and `'loop'`, the
 * per-expert reference kept to test it (Megatron-Core's SequentialMLP plays the same role). Switch with
 * `experts.implementation = 'loop'`.
 *
 * Differentiable in the routed rows and in every weight; `counts_E` is an integer input.
 *
 * @example
 * ```ts
 * const experts = new GroupedExperts({
 *   numExperts: 4, dModel: 8, dHidden: 16, activation: 'silu', gated: true, generator: new Generator(0),
 * });
 * const routed_RD = new Generator(1).normal([6, 8]);
 * const counts_E = tensor([2, 0, 3, 1], { dtype: 'i32' }); // expert 1 receives no rows
 * const y_RD = experts.forward(routed_RD, counts_E); // [6, 8]
 * ```
 */
export class GroupedExperts extends Module {
  /** [E, D, F] input projection of every expert. */
  readonly w1: Parameter;
  /** [E, F, D] output projection of every expert. */
  readonly w2: Parameter;
  /** [E, D, F] gate projection of every expert when `gated`, else null. */
  readonly w3: Parameter | null;
  /** E. */
  readonly numExperts: number;
  /** D. */
  readonly dModel: number;
  /** F. */
  readonly dHidden: number;
  /** Whether the experts are gated units. */
  readonly gated: boolean;
  /** The activation's name. */
  readonly activation: ActivationName;
  #act: (x: Tensor) => Tensor;
  #implementation: ExpertsImplementation;

  constructor(config: GroupedExpertsConfig) {
    super();
    const op = 'GroupedExperts';
    checkOptions(op, config, true, 'the config');
    this.numExperts = checkInt(op, 'numExperts', config.numExperts);
    this.dModel = checkInt(op, 'dModel', config.dModel);
    this.dHidden = checkInt(op, 'dHidden', config.dHidden);
    this.#act = checkActivation(op, 'activation', config.activation);
    this.activation = config.activation;
    this.gated = checkBool(op, 'gated', config.gated, false);
    this.#implementation = checkChoice(
      op,
      'implementation',
      config.implementation,
      IMPLEMENTATIONS,
      'grouped',
    );
    const init = checkInitializer(op, 'init', config.init, initializers.switchScaled());
    const generator = checkGenerator(op, 'generator', config.generator);
    const [e, d, f] = [this.numExperts, this.dModel, this.dHidden];
    this.w1 = new Parameter(initial(op, 'w1', init, [e, d, f], generator));
    this.w2 = new Parameter(initial(op, 'w2', init, [e, f, d], generator));
    this.w3 = this.gated ? new Parameter(initial(op, 'w3', init, [e, d, f], generator)) : null;
  }

  /**
   * Experts holding the given stacked weights (E, D and F read from their shapes; `w3` present makes them
   * gated). The module shares the tensors' storage, as `loadStateDict` does: no copy is made, and the caller
   * may dispose its own handles afterwards. Used by `upcycle` and by checkpoint loaders.
   *
   * @example
   * ```ts
   * const g = new Generator(0);
   * const experts = GroupedExperts.fromWeights(
   *   { w1: g.normal([4, 8, 16]), w2: g.normal([4, 16, 8]) },
   *   { activation: 'gelu' },
   * );
   * ```
   */
  static fromWeights(
    weights: ExpertWeights,
    options: { activation: ActivationName; implementation?: ExpertsImplementation },
  ): GroupedExperts {
    const op = 'GroupedExperts.fromWeights';
    checkOptions(op, weights, true, 'the config');
    checkOptions(op, options, true, 'the config');
    const { w1, w2 } = weights;
    const w3 = weights.w3 ?? null;
    const bad = (detail: string) => new SwitchyardError('SHAPE_MISMATCH', op, detail);
    for (const [name, w] of [
      ['w1', w1],
      ['w2', w2],
      ['w3', w3],
    ] as const) {
      if (w === null && name === 'w3') continue;
      if (!(w instanceof Tensor) || w.isDisposed || !isFloat(w.dtype)) {
        throw new SwitchyardError('INVALID_ARGUMENT', op, `${name} must be a live float Tensor`);
      }
    }
    if (w1.rank !== 3) throw bad(`w1 must be [E, D, F], got ${fmtShape(w1.shape)}`);
    const [e, d, f] = w1.shape as [number, number, number];
    const expect = (name: string, w: Tensor, shape: number[]) => {
      if (w.shape.join() !== shape.join() || w.dtype !== w1.dtype) {
        throw bad(
          `${name} must be ${w1.dtype} ${fmtShape(shape)} to match w1 ${fmtShape(w1.shape)}, got ${w.dtype} ${fmtShape(w.shape)}`,
        );
      }
    };
    expect('w2', w2, [e, f, d]);
    if (w3) expect('w3', w3, [e, d, f]);
    // The constructor's initialiser hands over views of the given tensors, in the order it asks for them.
    const given = [w1, w2, ...(w3 ? [w3] : [])];
    let next = 0;
    const share: Initializer = () => (given[next++] as Tensor).detach();
    return new GroupedExperts({
      numExperts: e,
      dModel: d,
      dHidden: f,
      activation: options.activation,
      gated: w3 !== null,
      ...(options.implementation === undefined ? {} : { implementation: options.implementation }),
      init: share,
      generator: new Generator(0),
    });
  }

  /** The implementation `forward` uses; assignable, so one set of weights can run either way. */
  get implementation(): ExpertsImplementation {
    return this.#implementation;
  }

  set implementation(value: ExpertsImplementation) {
    this.#implementation = checkChoice(
      'GroupedExperts',
      'implementation',
      value ?? null,
      IMPLEMENTATIONS,
      'grouped',
    );
  }

  /**
   * Applies expert e to its contiguous segment of rows.
   *
   * @param routed_RD float [R, D], rows grouped by expert in order (the dispatcher's buffer).
   * @param counts_E i32 [E], rows per expert; `sum(counts) <= R`. On synchronous backends (CPU) the values
   *   are checked; on WebGPU they are not read back (the grouped kernels find segments on the device).
   * @returns [R, D]; rows at and after `sum(counts)` are zero. Differentiable in `routed_RD` and the weights.
   */
  forward(routed_RD: Tensor, counts_E: Tensor): Tensor {
    checkRoutedRows('GroupedExperts.forward', routed_RD, counts_E, this.numExperts, this.dModel);
    return tidy(() => {
      const offsets_E1 = offsetsFromCounts(counts_E);
      return this.#implementation === 'grouped'
        ? this.#grouped(routed_RD, offsets_E1)
        : this.#loop(routed_RD, offsets_E1);
    });
  }

  #grouped(x_RD: Tensor, offsets_E1: Tensor): Tensor {
    const a_RF = groupedMatmul(x_RD, this.w1, offsets_E1);
    // Gated: act(a) * b in one pass forward and one per input backward (the fused glu).
    const h_RF = this.w3
      ? glu(a_RF, groupedMatmul(x_RD, this.w3, offsets_E1), this.activation)
      : this.#act(a_RF);
    // Padding rows: groupedMatmul leaves them zero and the last product keeps them zero whatever act(0) is.
    return groupedMatmul(h_RF, this.w2, offsets_E1);
  }

  /**
   * The reference: each expert runs its own dense matmuls on every row and keeps only its segment, chosen by
   * a mask built on the device from the offsets and arange (never reading counts on the host). E times the
   * work of the grouped path; for tests and debugging.
   */
  #loop(x_RD: Tensor, offsets_E1: Tensor): Tensor {
    const [r] = x_RD.shape as [number, number];
    const [d, f] = [this.dModel, this.dHidden];
    const row_R = arange(r);
    let y_RD: Tensor = zeros([r, d], x_RD.dtype);
    for (let e = 0; e < this.numExperts; e++) {
      const own_R1 = segmentMask(offsets_E1, e, row_R);
      const w1_DF = reshape(slice(this.w1, [e, 0, 0], [1, d, f]), [d, f]);
      const w2_FD = reshape(slice(this.w2, [e, 0, 0], [1, f, d]), [f, d]);
      let h_RF = this.#act(matmul(x_RD, w1_DF));
      if (this.w3) h_RF = mul(h_RF, matmul(x_RD, reshape(slice(this.w3, [e, 0, 0], [1, d, f]), [d, f])));
      y_RD = add(y_RD, where(own_R1, matmul(h_RF, w2_FD), 0));
    }
    return y_RD;
  }
}

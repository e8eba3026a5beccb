// Shape letters: T tokens, D model width, E experts, K top-k, A assignments (T*K).
import {
  checkBool,
  checkChoice,
  checkGenerator,
  checkInitializer,
  checkInt,
  checkOptions,
  checkPositive,
  checkRange,
  type Initializer,
  initializers,
  Parameter,
} from '@switchyard/nn';
import {
  cast,
  type Generator,
  matmul,
  mul,
  routerTopK,
  softmax,
  type Tensor,
  takeAlongAxis,
  tidy,
} from '@switchyard/tensor';
import { type GroupLimit, groupLimitedTopK, resolveGroupLimit } from './group-limit.js';
import { Router } from './router.js';
import { checkTokens, checkTopK } from './router-checks.js';
import type { Routing } from './routing.js';
import { routerInput, tokenChoiceRouting } from './token-choice.js';

/** Where the softmax sits relative to the top-k selection. */
export type SoftmaxPosition = 'before-topk' | 'after-topk';

export interface TopKRouterConfig {
  dModel: number;
  numExperts: number;
  /** Experts per token. K = numExperts gives the dense mixture of 1991 (see also `DenseRouter`). */
  topK: number;
  /**
   * `'before-topk'` (default; Shazeer, Switch, GShard): p = softmax(x W) over all experts, keep the K largest
   * p. `'after-topk'` (Mixtral's reference code): keep the K largest logits, softmax over those K only, so
   * the kept weights sum to 1 (the same values as `'before-topk'` with `normalize`).
   */
  softmax?: SoftmaxPosition;
  /** Renormalise the K kept probabilities to sum to 1 (Mixtral); off keeps the raw softmax values (Switch). */
  normalize?: boolean;
  /** Multiplies the combine weights (DeepSeek's routed scaling factor: 16 in V2). Default 1. */
  scale?: number;
  /**
   * Switch's multiplicative input jitter ε (Fedus et al. 2021): in training the router sees x · U(1 − ε, 1 + ε)
   * (the experts still see x). Switch used ε = 1e-2. Default 0 (off).
   */
  jitter?: number;
  /** Device-limited routing (DeepSeek-V2); the group score defaults to the max affinity of a group. */
  groupLimit?: GroupLimit;
  /** Initialiser of the gate weight [D, E]. Default: Switch's truncated normal with scale 0.1. */
  init?: Initializer;
  /** Draws the initial gate weight and, in training only, the jitter. */
  generator: Generator;
}

/** Options of the pure `topKRouting`. */
export interface TopKRoutingOptions {
  topK: number;
  /** Default `'before-topk'`. */
  softmax?: SoftmaxPosition;
  normalize?: boolean;
  scale?: number;
  /** Applied whenever given: routers pass it in training only. */
  jitter?: { eps: number; generator: Generator };
  /**
   * A validated limit (see `GroupLimit`); `TopKRouter` resolves its defaults. Groups are scored on the
   * selection scores: p, or the logits with `'after-topk'` (the same ranking when `groupScoreTopN` is 1).
   */
  groupLimit?: Required<GroupLimit>;
}

/**
 * The routing computation of `TopKRouter` as a pure function of the tokens and the gate weight (plus an
 * explicit generator for the jitter). Differentiable in x and w through the combine weights.
 */
export function topKRouting(x_TD: Tensor, w_DE: Tensor, options: TopKRoutingOptions): Routing {
  return tidy(() => {
    const k = options.topK;
    const logits_TE = matmul(routerInput(x_TD, options.jitter), cast(w_DE, 'f32'));
    const probs_TE = softmax(logits_TE, -1);
    let weight_TK: Tensor;
    let expert_TK: Tensor;
    if (options.softmax === 'after-topk') {
      expert_TK = groupLimitedTopK(logits_TE, k, options.groupLimit);
      weight_TK = softmax(takeAlongAxis(logits_TE, expert_TK, -1), -1);
    } else {
      // The fused selection (one pass a token) over probs_TE as computed above: the same experts and weights
      // as `groupLimitedTopK` over probs_TE and gathering probs_TE at them.
      const fused = routerTopK(probs_TE, k, {
        score: 'none',
        normalize: options.normalize ?? false,
        ...(options.groupLimit ? { groupLimit: options.groupLimit } : {}),
      });
      expert_TK = fused.indices;
      weight_TK = fused.weights;
    }
    if ((options.scale ?? 1) !== 1) weight_TK = mul(weight_TK, options.scale ?? 1);
    return tokenChoiceRouting({ logits_TE, probs_TE, expert_TK, weight_TK });
  });
}

/**
 * Softmax top-k token-choice routing (Shazeer et al. 2017 without noise; Switch top-1, GShard/Mixtral top-2;
 * DeepSeek-V2 device-limited with `groupLimit`):
 *
 *   p_TE = softmax(x_TD W_DE),  keep the K largest p per token (ties to the lower expert index),
 *   weight = p (or p / Σ_kept p with `normalize`) · scale;
 *   with `softmax: 'after-topk'` (Mixtral): weight = softmax over the K kept logits · scale.
 *
 * In training, `jitter` ε multiplies the router's input by U(1 − ε, 1 + ε) (Switch, ε = 1e-2), drawn from
 * the config's generator. The router computes in f32 whatever the dtype of x (Switch's selective
 * precision). Gradients reach W through the combine weights. `probs_TE` is always the softmax over all E.
 *
 * @example
 * const router = new TopKRouter({ dModel: 8, numExperts: 4, topK: 2, normalize: true, generator: gen });
 * const routing = router.route(x_TD); // A = T·2 assignments
 */
export class TopKRouter extends Router {
  /** The name used in error messages (subclasses override it). */
  protected static readonly routerName: string = 'TopKRouter';
  readonly numExperts: number;
  readonly topK: number;
  readonly softmax: SoftmaxPosition;
  readonly normalize: boolean;
  readonly scale: number;
  readonly jitter: number;
  readonly groupLimit: Required<GroupLimit> | undefined;
  readonly dModel: number;
  /** Gate weight [D, E]. */
  readonly weight: Parameter;
  protected readonly generator: Generator;

  constructor(config: TopKRouterConfig) {
    super();
    const name = (new.target as typeof TopKRouter).routerName;
    checkOptions(name, config, true, 'config');
    this.dModel = checkInt(name, 'dModel', config.dModel);
    this.numExperts = checkInt(name, 'numExperts', config.numExperts);
    this.topK = checkTopK(name, config.topK, this.numExperts);
    this.softmax = checkChoice(name, 'softmax', config.softmax, ['before-topk', 'after-topk'], 'before-topk');
    this.normalize = checkBool(name, 'normalize', config.normalize, false);
    this.scale = checkPositive(name, 'scale', config.scale, 1);
    this.jitter = checkRange(name, 'jitter', config.jitter, 0, 1, 0);
    this.groupLimit =
      config.groupLimit === undefined
        ? undefined
        : resolveGroupLimit(name, config.groupLimit, this.numExperts, this.topK, 1);
    this.generator = checkGenerator(name, 'generator', config.generator);
    const init = checkInitializer(name, 'init', config.init, initializers.switchScaled(0.1));
    this.weight = new Parameter(init([this.dModel, this.numExperts], this.generator));
  }

  /** The name used in this router's error messages. */
  protected get routerName(): string {
    return (this.constructor as typeof TopKRouter).routerName;
  }

  route(x_TD: Tensor): Routing {
    checkTokens(this.routerName, x_TD, this.dModel);
    return topKRouting(x_TD, this.weight, this.routingOptions());
  }

  /** The options this router passes to `topKRouting` (the jitter only in training). */
  protected routingOptions(): TopKRoutingOptions {
    const options: TopKRoutingOptions = {
      topK: this.topK,
      softmax: this.softmax,
      normalize: this.normalize,
      scale: this.scale,
    };
    if (this.groupLimit) options.groupLimit = this.groupLimit;
    if (this.training && this.jitter > 0) options.jitter = { eps: this.jitter, generator: this.generator };
    return options;
  }
}

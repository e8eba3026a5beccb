// Shape letters: T tokens, D model width, E experts, K top-k, A assignments (T*K).
import {
  Buffer,
  checkBool,
  checkGenerator,
  checkInitializer,
  checkInt,
  checkOptions,
  checkPositive,
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
  sigmoid,
  type Tensor,
  tidy,
  zeros,
} from '@switchyard/tensor';
import { type GroupLimit, resolveGroupLimit } from './group-limit.js';
import { Router } from './router.js';
import { checkTokens, checkTopK } from './router-checks.js';
import type { Routing } from './routing.js';
import { tokenChoiceRouting } from './token-choice.js';

const NAME = 'SigmoidRouter';

export interface SigmoidRouterConfig {
  dModel: number;
  numExperts: number;
  /** Routed experts per token (V3: 8 of 256). */
  topK: number;
  /** Divide the kept scores by their sum (V3: yes). Default true. */
  normalize?: boolean;
  /** The routed scaling factor applied to the combine weights (V3: 2.5). Default 1. */
  scale?: number;
  /** Node/group-limited routing (V3: 8 groups, 4 kept); the group score defaults to the sum of its top 2. */
  groupLimit?: GroupLimit;
  /** Initialiser of the gate weight [D, E]. Default: Switch's truncated normal with scale 0.1. */
  init?: Initializer;
  /** Draws the initial gate weight (this router has no training noise). */
  generator: Generator;
}

export interface SigmoidRoutingOptions {
  topK: number;
  /** Default true. */
  normalize?: boolean;
  scale?: number;
  /** A validated limit (see `GroupLimit`); `SigmoidRouter` resolves its defaults. */
  groupLimit?: Required<GroupLimit>;
}

/**
 * The routing computation of `SigmoidRouter` as a pure function of the tokens, the gate weight and the
 * selection bias [E], on the fused `routerTopK` over s = sigmoid(x W) (selection by s + b, the group limit):
 * the same experts as `groupLimitedTopK(s + b, K, groupLimit)` and the same weights as gathering s at them.
 * Differentiable in x and w through the combine weights; the bias gets no gradient.
 */
export function sigmoidRouting(
  x_TD: Tensor,
  w_DE: Tensor,
  bias_E: Tensor,
  options: SigmoidRoutingOptions,
): Routing {
  return tidy(() => {
    const logits_TE = matmul(cast(x_TD, 'f32'), cast(w_DE, 'f32'));
    const probs_TE = sigmoid(logits_TE);
    // The bias steers selection only: the combine weights are the chosen s, never s + b. The scores are
    // computed once, here, and handed to the fused selection as they are.
    const chosen = routerTopK(probs_TE, options.topK, {
      score: 'none',
      normalize: options.normalize ?? true,
      bias: bias_E,
      ...(options.groupLimit ? { groupLimit: options.groupLimit } : {}),
    });
    const scale = options.scale ?? 1;
    const weight_TK = scale === 1 ? chosen.weights : mul(chosen.weights, scale);
    return tokenChoiceRouting({
      logits_TE,
      probs_TE,
      expert_TK: chosen.indices,
      weight_TK,
    });
  });
}

/**
 * Sigmoid scoring with a selection-only expert bias (DeepSeek-V3 technical report, DeepSeek-AI 2024, §2.1.2):
 *
 *   s_TE = sigmoid(x W),  selected = TopK(s + b, K) (b = `expertBias`, selection only),
 *   g = s_selected / Σ_selected s  (with `normalize`),  weight = g · scale.
 *
 * V3's coefficients: K = 8 of 256 routed experts, scale 2.5, node-limited routing over 8 groups keeping
 * M = 4 (`groupLimit: { groups: 8, topGroups: 4 }`, group score = the sum of its top 2 scores as in the
 * released code; see `GroupLimit`). The bias is a `Buffer` (no gradient) that the auxiliary-loss-free
 * balancing updates outside `forward`, after the optimizer step (b_i ← b_i + γ · sign(mean load − load_i),
 * γ = 1e-3; `@switchyard/losses`): it changes which experts are chosen, never the combine weights.
 * `logits_TE` is x W and `probs_TE` is s (not normalised; V3's sequence-wise loss normalises it itself).
 * Router math in f32.
 */
export class SigmoidRouter extends Router {
  readonly numExperts: number;
  readonly topK: number;
  readonly dModel: number;
  readonly normalize: boolean;
  readonly scale: number;
  readonly groupLimit: Required<GroupLimit> | undefined;
  /** Gate weight [D, E]. */
  readonly weight: Parameter;
  /** Selection bias b [E] (f32, starts at zero), updated by the aux-loss-free balancing rule. */
  readonly expertBias: Buffer;

  constructor(config: SigmoidRouterConfig) {
    super();
    checkOptions(NAME, config, true, 'config');
    this.dModel = checkInt(NAME, 'dModel', config.dModel);
    this.numExperts = checkInt(NAME, 'numExperts', config.numExperts);
    this.topK = checkTopK(NAME, config.topK, this.numExperts);
    this.normalize = checkBool(NAME, 'normalize', config.normalize, true);
    this.scale = checkPositive(NAME, 'scale', config.scale, 1);
    this.groupLimit =
      config.groupLimit === undefined
        ? undefined
        : resolveGroupLimit(NAME, config.groupLimit, this.numExperts, this.topK, 2);
    const generator = checkGenerator(NAME, 'generator', config.generator);
    const init = checkInitializer(NAME, 'init', config.init, initializers.switchScaled(0.1));
    this.weight = new Parameter(init([this.dModel, this.numExperts], generator));
    this.expertBias = new Buffer(zeros([this.numExperts]));
  }

  route(x_TD: Tensor): Routing {
    checkTokens(NAME, x_TD, this.dModel);
    const options: SigmoidRoutingOptions = { topK: this.topK, normalize: this.normalize, scale: this.scale };
    if (this.groupLimit) options.groupLimit = this.groupLimit;
    return sigmoidRouting(x_TD, this.weight, this.expertBias, options);
  }
}

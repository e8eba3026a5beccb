// Shape letters: T tokens, D model width, E experts, R routed rows.
import { Module } from '@switchyard/nn';
import type { Router, Routing } from '@switchyard/routers';
import { add, fmtShape, reshape, SwitchyardError, type Tensor, tidy } from '@switchyard/tensor';
import type { Dispatcher } from './dispatcher.js';
import { LocalDispatcher } from './local-dispatcher.js';
import { type MoEStats, routingStats } from './stats.js';

/** What the experts of a layer must provide: one forward over rows grouped by expert. */
export interface ExpertsLike extends Module {
  readonly numExperts: number;
  forward(routed_RD: Tensor, counts_E: Tensor): Tensor;
}

/** An always-on branch added to the routed output (DeepSeekMoE shared experts, Qwen's gated shared expert). */
export interface SharedLike extends Module {
  forward(x_TD: Tensor): Tensor;
}

export interface MoELayerConfig {
  router: Router;
  experts: ExpertsLike;
  /** Default: a dropless LocalDispatcher. */
  dispatcher?: Dispatcher;
  shared?: SharedLike;
}

export interface MoEOutput {
  /** The layer output, shaped like the input (the caller adds the residual). */
  y: Tensor;
  /** The routing, for balance losses and z-loss computed with pure functions from @switchyard/losses. */
  routing: Routing;
  /** Load statistics, always computed (a few small reductions). */
  stats: MoEStats;
}

/**
 * A Mixture-of-Experts feed-forward layer: router -> dispatch -> experts -> combine (+ shared experts).
 * `forward` returns the routing and stats instead of hiding losses in globals or autograd side channels.
 * The dispatcher and the experts are plain fields, so expert parallelism can swap in its dispatcher and a rank's
 * shard of the experts after construction.
 */
export class MoELayer extends Module {
  readonly router: Router;
  /** Assignable, like `dispatcher`: expert parallelism installs a rank's shard of the experts after construction. */
  experts: ExpertsLike;
  readonly shared: SharedLike | undefined;
  dispatcher: Dispatcher;

  constructor(config: MoELayerConfig) {
    super();
    if (config.router.numExperts !== config.experts.numExperts) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        'MoELayer',
        `the router has ${config.router.numExperts} experts but the experts module has ${config.experts.numExperts}`,
      );
    }
    this.router = config.router;
    this.experts = config.experts;
    this.shared = config.shared;
    this.dispatcher = config.dispatcher ?? new LocalDispatcher();
  }

  /** x [..., D] -> y [..., D] with the routing and stats of its T = x.size / D tokens. */
  forward(x: Tensor): MoEOutput {
    if (x.rank < 1)
      throw new SwitchyardError('SHAPE_MISMATCH', 'MoELayer', `x must be [..., D], got ${fmtShape(x.shape)}`);
    const d = x.shape.at(-1) as number;
    return tidy(() => {
      const x_TD = reshape(x, [-1, d]);
      const routing = this.router.route(x_TD);
      const { routed_RD, counts_E, routed_E, kept_E, meta } = this.dispatcher.dispatch(x_TD, routing, {
        training: this.training,
      });
      const y_RD = this.experts.forward(routed_RD, counts_E);
      let y_TD = this.dispatcher.combine(y_RD, meta);
      if (this.shared) y_TD = add(y_TD, this.shared.forward(x_TD));
      return { y: reshape(y_TD, x.shape), routing, stats: routingStats(routing, routed_E, kept_E) };
    });
  }
}

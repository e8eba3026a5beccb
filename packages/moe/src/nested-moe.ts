// Shape letters: N rows (tokens) the outer layer sends to this expert, D model width.
import { Module } from '@switchyard/nn';
import { disposeRouting, type Routing } from '@switchyard/routers';
import { keep, SwitchyardError, Tensor } from '@switchyard/tensor';
import { MoELayer } from './moe-layer.js';
import { disposeStats, type MoEStats } from './stats.js';

/** The routing and statistics of a nested layer's last forward pass. */
export interface NestedMoEOutput {
  /** The inner router's routing over the N tokens it was given (for inner balance losses and z-loss). */
  readonly routing: Routing;
  /** The inner layer's load statistics. */
  readonly stats: MoEStats;
}

/** Excludes every tensor of `value` (nested plain objects included) from the enclosing `tidy` scopes. */
function keepAll<T extends object>(value: T): T {
  for (const v of Object.values(value)) {
    if (v instanceof Tensor) keep(v);
    else if (v !== null && typeof v === 'object') keepAll(v);
  }
  return value;
}

/**
 * An `MoELayer` serving as one expert of an outer layer: a hierarchical mixture of experts (Jordan & Jacobs
 * 1994, "Hierarchical Mixtures of Experts and the EM Algorithm"), where the outer gate picks a group of experts
 * and the group's own gate picks experts inside it. Put one `NestedMoE` per group in a `ModuleExperts` (from
 * `@switchyard/experts`, with its default `rows: 'segment'`, so each inner layer routes exactly the tokens sent
 * to it) and use that container as the outer layer's `experts`.
 *
 * `forward(x_ND)` returns the inner layer's output y [N, D]. Its routing and statistics are kept as `last`, so
 * inner balance losses and load statistics stay reachable after the outer forward
 * (`groups.modules.map((g) => g.last)`); they are freed by the next forward, by `release()`, or by
 * `dispose()` of this module or of any module containing it (the outer layer frees the whole tree).
 *
 * @example
 * ```ts
 * const groups = new ModuleExperts({ experts: [innerA, innerB].map((l) => new NestedMoE(l)), dModel: 8 });
 * const layer = new MoELayer({ router: new TopKRouter({ dModel: 8, numExperts: 2, topK: 1, generator }), experts: groups });
 * const { y, stats } = layer.forward(x); // outer stats
 * const inner = groups.modules.map((g) => g.last?.stats); // each group's own stats
 * ```
 */
export class NestedMoE extends Module {
  /** The inner layer. */
  readonly layer: MoELayer;
  #last: NestedMoEOutput | null = null;

  constructor(layer: MoELayer) {
    super();
    if (!(layer instanceof MoELayer)) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        'NestedMoE',
        `layer must be an MoELayer, got ${String(layer)}`,
      );
    }
    this.layer = layer;
  }

  /** The routing and stats of the last forward pass, or null before the first one and after `release()`. */
  get last(): NestedMoEOutput | null {
    return this.#last;
  }

  /** x [N, D] -> y [N, D], the inner layer's output; its routing and stats become `last`. */
  forward(x_ND: Tensor): Tensor {
    const { y, routing, stats } = this.layer.forward(x_ND);
    this.release();
    this.#last = { routing: keepAll(routing), stats: keepAll(stats) };
    return y;
  }

  /** Frees the last forward's routing and stats. */
  release(): void {
    if (!this.#last) return;
    disposeRouting(this.#last.routing);
    disposeStats(this.#last.stats);
    this.#last = null;
  }

  /** `dispose()` of this module, or of any module containing it, frees the last forward's outputs too. */
  protected override releaseState(): void {
    this.release();
  }
}

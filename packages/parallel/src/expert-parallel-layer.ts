// Shape letters: T tokens, D model width, E experts, L local expert slots.
import { type CapacityConfig, type MoELayer, type MoEOutput, routingStats } from '@switchyard/moe';
import { add, fmtShape, isGradEnabled, reshape, SwitchyardError, Tensor, tidy } from '@switchyard/tensor';
import { AllToAllDispatcher, type ExpertParallelGroups } from './all-to-all-dispatcher.js';
import { CollectiveTape } from './collective-tape.js';
import { contiguousPlacement, type ExpertPlacement } from './placement.js';
import { asStackedExperts, shardExperts } from './shard-experts.js';
import { sumReplicaGradients } from './sum-replica-gradients.js';
import { withBackend } from './with-backend.js';

/** Options of `ExpertParallelLayer` and `applyExpertParallel`. */
export interface ExpertParallelOptions {
  /** Where the experts live. Default `contiguousPlacement(E, groups.expert.size)`. */
  placement?: ExpertPlacement;
  /** Capacity, as `LocalDispatcher` takes it (applied over all ranks' tokens). Default dropless. */
  capacity?: CapacityConfig;
}

/** What `ExpertParallelLayer.forward` returns: `MoELayer.forward`'s output plus the graph cut at the input. */
export interface ExpertParallelOutput extends MoEOutput {
  /**
   * The layer's input as a fresh leaf when the input needed a gradient, else the input itself. Build what
   * follows the layer from `y` and, for a residual connection, from `input` (not from the original tensor), so
   * that `backward()` can carry the input's gradient on. Valid until `backward()` or the next `forward`.
   */
  input: Tensor;
}

/**
 * One rank's part of an expert-parallel MoE layer. The constructor turns `layer` into this rank's shard: its
 * experts are replaced by the ones `placement.slots[rank]` lists (with 1/P of the hidden width under
 * expert-tensor parallelism) and its dispatcher by an `AllToAllDispatcher`; the full experts are disposed.
 * Every rank builds the same layer (same config and seed) and wraps it.
 *
 * A training step is asynchronous, since ranks wait for each other:
 *
 * ```ts
 * const out = await ep.forward(x);              // router, all-to-all, local experts, all-to-all back, combine
 * const loss = lossOf(out.y, out.routing);       // any local graph on y, routing and out.input
 * loss.backward();                               // gradients up to the cuts at the collectives
 * await ep.backward();                           // adjoint all-to-alls, experts' and input gradients
 * ```
 *
 * `backward` exchanges the gradients of the routed rows back through the experts to their ranks and finally
 * continues into the original input's graph (`x.backward(dL/dx)`), so layers chain: call `backward` on them in
 * reverse order. Experts receive every rank's gradient; the router and shared experts hold this rank's tokens'
 * share, so sum or average them over the group (`allReduceGradients`) as the loss demands. Replicated experts
 * (load-aware placement) sum their replicas' gradients at the end of `backward`, so replicas stay equal.
 *
 * This per-layer, asynchronous step works on every communicator. On worker ranks (blocking collectives) a
 * whole model can instead train through its own `forward` and one `loss.backward()`: see
 * `applyExpertParallel`.
 */
export class ExpertParallelLayer {
  readonly layer: MoELayer;
  readonly dispatcher: AllToAllDispatcher;
  readonly groups: ExpertParallelGroups;
  #tape: CollectiveTape | null = null;
  #cut: { x: Tensor; input: Tensor } | null = null;

  constructor(layer: MoELayer, groups: ExpertParallelGroups, options: ExpertParallelOptions = {}) {
    const op = 'ExpertParallelLayer';
    const full = asStackedExperts(op, layer.experts);
    const e = full.numExperts;
    const placement = options.placement ?? contiguousPlacement(e, groups.expert.size);
    if (placement.numExperts !== e) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        op,
        `the placement has ${placement.numExperts} experts but the layer ${e}`,
      );
    }
    const tp = groups.expertTensor;
    const slots = placement.slots[groups.expert.rank] as readonly number[];
    layer.experts = withBackend(groups.expert.backend, () =>
      shardExperts(full, slots, { part: tp?.rank ?? 0, parts: tp?.size ?? 1 }),
    );
    full.dispose();
    layer.dispatcher = new AllToAllDispatcher(placement, groups, options.capacity);
    this.layer = layer;
    this.dispatcher = layer.dispatcher as AllToAllDispatcher;
    this.groups = groups;
  }

  get placement(): ExpertPlacement {
    return this.dispatcher.placement;
  }

  /** x [..., D] -> y [..., D] with the routing and stats of this rank's tokens. */
  async forward(x: Tensor): Promise<ExpertParallelOutput> {
    const { layer } = this;
    const backend = this.groups.expert.backend;
    if (x.rank < 1) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        'ExpertParallelLayer',
        `x must be [..., D], got ${fmtShape(x.shape)}`,
      );
    }
    this.#release();
    const tape = new CollectiveTape(backend);
    this.#tape = tape;
    const cut = isGradEnabled() && x.requiresGrad;
    const input = cut ? x.detach().requireGrad() : x;
    if (cut) this.#cut = { x, input };
    const d = x.shape.at(-1) as number;
    // The rows sent to the experts get their own view of the input: its graph is back-propagated after
    // loss.backward() has released the router's and shared experts' nodes.
    const { x_TD, send_TD, routing } = withBackend(backend, () =>
      tidy(() => {
        const x_TD = reshape(input, [-1, d]);
        return { x_TD, send_TD: reshape(input, [-1, d]), routing: layer.router.route(x_TD) };
      }),
    );
    try {
      const plan = await this.dispatcher.dispatchAsync(send_TD, routing, { training: layer.training }, tape);
      const y_RD = withBackend(backend, () => layer.experts.forward(plan.routed_RD, plan.counts_L));
      plan.routed_RD.dispose();
      plan.counts_L.dispose();
      const y_TD = await this.dispatcher.combineAsync(y_RD, plan, tape);
      y_RD.dispose();
      const y = withBackend(backend, () =>
        tidy(() => reshape(layer.shared ? add(y_TD, layer.shared.forward(x_TD)) : y_TD, x.shape)),
      );
      y_TD.dispose();
      const stats = withBackend(backend, () => routingStats(routing, plan.routed_E, plan.kept_E));
      plan.routed_E.dispose();
      plan.kept_E.dispose();
      if (!isGradEnabled()) {
        tape.dispose();
        this.#tape = null;
      }
      return { y, routing, stats, input };
    } catch (error) {
      // A failed exchange (another rank's failure, a timeout) leaves nothing of this step behind.
      this.#release();
      const fields = [...Object.values(routing), ...Object.values(routing.noise ?? {})];
      for (const t of new Set(fields.filter((v): v is Tensor => v instanceof Tensor))) t.dispose();
      throw error;
    } finally {
      x_TD.dispose();
      send_TD.dispose();
    }
  }

  /**
   * After `loss.backward()`: exchanges the gradients back through the collectives of the last `forward`, fills
   * the local experts' gradients (summed over replicas) and carries the input's gradient into the graph before
   * the layer. Every rank of the groups must call it.
   */
  async backward(): Promise<void> {
    const tape = this.#tape;
    if (!tape) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        'ExpertParallelLayer.backward',
        'call forward before backward',
      );
    }
    const cut = this.#cut;
    this.#tape = null;
    this.#cut = null;
    await tape.backward();
    if (cut) {
      const g = cut.input.grad;
      if (g && cut.x.requiresGrad) withBackend(this.groups.expert.backend, () => cut.x.backward(g));
      cut.input.zeroGrad();
      cut.input.dispose();
    }
    await sumReplicaGradients([this]);
  }

  #release(): void {
    this.#tape?.dispose();
    this.#tape = null;
    if (this.#cut) {
      this.#cut.input.zeroGrad();
      this.#cut.input.dispose();
      this.#cut = null;
    }
  }
}

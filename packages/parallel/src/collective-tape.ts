// Shape letters: N rows, D row width.
import { type Backend, isGradEnabled, slice, type Tensor, zeros } from '@switchyard/tensor';
import type { Communicator } from './communicator.js';
import { withBackend } from './with-backend.js';

interface Cut {
  /** What this rank sent (it holds the graph of everything before the collective). */
  readonly input: Tensor;
  /** What it received: a leaf the graph after the collective starts from. */
  readonly output: Tensor;
  /** Maps the output's gradient to the input's, with the adjoint collective. */
  readonly adjoint: (g: Tensor) => Promise<Tensor>;
}

/**
 * Records the collectives of one forward pass so their gradients can be exchanged backwards, for ranks whose
 * collectives must be awaited (virtual ranks sharing one thread, WebGPU devices): `loss.backward()` is
 * synchronous and cannot wait for another rank, so the graph is cut at every collective: its output is a fresh
 * leaf. `backward()` then walks the cuts in reverse, each time running the adjoint collective on the output
 * leaf's gradient and back-propagating the result into the graph before the cut:
 *
 *   allToAll(splits)  ↔  allToAll(received splits)     (rows go back where they came from)
 *   allGather         ↔  allReduce(sum), own rows        (reduce-scatter)
 *   allReduce(sum)    ↔  allReduce(sum)
 *
 * (Worker ranks have blocking collectives, so there these adjoints run inside `loss.backward()` as
 * custom-gradient nodes and nothing is cut: see `AllToAllDispatcher`.)
 *
 * The caller runs each collective and records it here. The tape owns every tensor recorded on it (sent and
 * received) until `backward` or `dispose`. Without grad recording (`noGrad`, or an input that needs no
 * gradient), or for an output that already carries its gradient (a custom-gradient collective), a cut is not
 * kept for backward, but its tensors are still owned, so one `dispose()` ends the step either way.
 */
export class CollectiveTape {
  readonly backend: Backend;
  readonly #cuts: Cut[] = [];
  readonly #owned: Tensor[] = [];

  constructor(backend: Backend) {
    this.backend = backend;
  }

  /** Records `y = comm.allToAll(x, ·)`, which received `recvSplits` rows from each rank. */
  recordAllToAll(comm: Communicator, x: Tensor, y: Tensor, recvSplits: readonly number[]): void {
    this.#record(x, y, async (g) => (await comm.allToAll(g, recvSplits)).y);
  }

  /** Records `y` = every rank's `x` [N_r, D] concatenated (an all-gather), this rank's rows from row `start`. */
  recordAllGather(comm: Communicator, x: Tensor, y: Tensor, start: number): void {
    this.#record(x, y, async (g) => {
      const total = await comm.allReduce(g, 'sum');
      const own = withBackend(this.backend, () => slice(total, [start], [x.shape[0] as number]));
      if (own !== total) total.dispose();
      return own;
    });
  }

  /** Records `y = comm.allReduce(x, 'sum')`. */
  recordAllReduce(comm: Communicator, x: Tensor, y: Tensor): void {
    this.#record(x, y, (g) => comm.allReduce(g, 'sum'));
  }

  /**
   * Runs the adjoint collectives in reverse order, back-propagating each into the graph before its cut (every
   * rank of the groups involved must call it), then releases the tape.
   */
  async backward(): Promise<void> {
    try {
      for (const cut of [...this.#cuts].reverse()) {
        const g =
          cut.output.grad?.detach() ??
          withBackend(this.backend, () => zeros(cut.output.shape, cut.output.dtype));
        const gi = await cut.adjoint(g);
        g.dispose();
        withBackend(this.backend, () => cut.input.backward(gi));
        gi.dispose();
      }
    } finally {
      this.dispose();
    }
  }

  /** Frees everything the tape holds. */
  dispose(): void {
    for (const t of this.#owned) {
      t.zeroGrad();
      t.dispose();
    }
    this.#owned.length = 0;
    this.#cuts.length = 0;
  }

  #record(input: Tensor, output: Tensor, adjoint: (g: Tensor) => Promise<Tensor>): void {
    this.#owned.push(input, output);
    if (!isGradEnabled() || !input.requiresGrad || output.requiresGrad) return;
    output.requireGrad();
    this.#cuts.push({ input, output, adjoint });
  }
}

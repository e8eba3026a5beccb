import { concat, fmtShape, keep, reshape, SwitchyardError, type Tensor } from '@switchyard/tensor';

/**
 * Two tensors grown together along one axis, owned across `tidy` scopes: what `KVCache` (keys and values,
 * along the sequence axis 2) and `LatentKVCache` (latents and rotary keys, along axis 1) hold. Each append
 * must match the held tensors on every other axis.
 */
export class GrowingPair {
  readonly #op: string;
  readonly #axis: number;
  readonly #names: readonly [string, string];
  #first: Tensor | null = null;
  #second: Tensor | null = null;

  constructor(op: string, axis: number, names: readonly [string, string]) {
    this.#op = op;
    this.#axis = axis;
    this.#names = names;
  }

  get first(): Tensor | null {
    return this.#first;
  }

  get second(): Tensor | null {
    return this.#second;
  }

  /** Positions held along the growing axis. */
  get length(): number {
    return (this.#first?.shape[this.#axis] as number | undefined) ?? 0;
  }

  /** Appends `first` and `second` after what is held; returns the whole pair (owned by this object). */
  append(first: Tensor, second: Tensor): [Tensor, Tensor] {
    const pastA = this.#first;
    const pastB = this.#second;
    if (pastA && pastB) {
      const fits = (past: Tensor, next: Tensor) =>
        past.rank === next.rank && past.shape.every((n, a) => a === this.#axis || n === next.shape[a]);
      if (!fits(pastA, first) || !fits(pastB, second)) {
        const [a, b] = this.#names;
        throw new SwitchyardError(
          'SHAPE_MISMATCH',
          this.#op,
          `${a} ${fmtShape(first.shape)} and ${b} ${fmtShape(second.shape)} do not extend the cache's ${fmtShape(pastA.shape)} and ${fmtShape(pastB.shape)} along axis ${this.#axis}`,
        );
      }
      this.#first = keep(concat([pastA, first], this.#axis));
      this.#second = keep(concat([pastB, second], this.#axis));
      pastA.dispose();
      pastB.dispose();
    } else {
      // Views of the caller's tensors: the pair owns its handles whatever the caller disposes.
      this.#first = keep(reshape(first, first.shape));
      this.#second = keep(reshape(second, second.shape));
    }
    return [this.#first, this.#second];
  }

  /** Empties the pair (disposing what it held). */
  reset(): void {
    this.#first?.dispose();
    this.#second?.dispose();
    this.#first = null;
    this.#second = null;
  }
}

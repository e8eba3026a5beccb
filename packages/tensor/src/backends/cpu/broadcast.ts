import type { Shape } from '../../shape.js';

/**
 * How to walk a broadcast without per-element index arithmetic: the output's dims with size-1 dims dropped
 * and neighbours merged wherever every input stays contiguous (or stays broadcast) across both, so that
 * `[T, D] + [D]` becomes rows of `D` with the second input's row stride 0, `[T, D] * [T, 1]` rows of `D` with
 * its element stride 0, and same-shape or scalar operands a single row of the whole output.
 */
export interface BroadcastPlan {
  /** Merged output sizes, outermost first; never empty (a scalar output is `[1]`). */
  readonly dims: readonly number[];
  /** Per input, its element stride along each of `dims` (0 where it is broadcast). */
  readonly strides: readonly (readonly number[])[];
  /** Length of the innermost dim: the row each kernel loop runs over. */
  readonly row: number;
  /** Number of rows: the product of the outer dims. */
  readonly rows: number;
}

/** Plans a walk of `outShape` for inputs of `inShapes`, each broadcastable to it (the op checked that). */
export function broadcastPlan(inShapes: readonly Shape[], outShape: Shape): BroadcastPlan {
  const k = inShapes.length;
  const dims: number[] = [];
  const strides: number[][] = inShapes.map(() => []);
  const running = new Array<number>(k).fill(1);
  const rank = outShape.length;
  for (let d = rank - 1; d >= 0; d--) {
    const n = outShape[d] as number;
    const inner = dims.length - 1;
    let merge = inner >= 0;
    for (let i = 0; i < k; i++) {
      const s = inShapes[i] as Shape;
      const at = d - (rank - s.length);
      const m = at >= 0 ? (s[at] as number) : 1;
      const stride = m === n ? (running[i] as number) : 0;
      running[i] = (running[i] as number) * m;
      (strides[i] as number[]).push(n === 1 ? 0 : stride);
      if (merge) {
        const si = strides[i] as number[];
        merge = stride === (si[inner] as number) * (dims[inner] as number) || n === 1;
      }
    }
    if (n === 1 || merge) {
      for (const si of strides) si.pop();
      if (n !== 1) dims[inner] = (dims[inner] as number) * n;
    } else dims.push(n);
  }
  if (dims.length === 0) {
    dims.push(1);
    for (const si of strides) si.push(0);
  }
  dims.reverse();
  for (const si of strides) si.reverse();
  const row = dims[dims.length - 1] as number;
  let rows = 1;
  for (let d = 0; d < dims.length - 1; d++) rows *= dims[d] as number;
  return { dims, strides, row, rows };
}

/**
 * Advances `offsets` (one flat offset per input, at the start of a row) to the next row of `plan`, carrying
 * through the outer dims with `counter` (one entry per dim, zeroed by the caller).
 */
export function nextRow(plan: BroadcastPlan, counter: Int32Array, offsets: Int32Array): void {
  const { dims, strides } = plan;
  for (let d = dims.length - 2; d >= 0; d--) {
    const c = (counter[d] as number) + 1;
    const n = dims[d] as number;
    if (c < n) {
      counter[d] = c;
      for (let i = 0; i < offsets.length; i++)
        offsets[i] = (offsets[i] as number) + ((strides[i] as readonly number[])[d] as number);
      return;
    }
    counter[d] = 0;
    for (let i = 0; i < offsets.length; i++)
      offsets[i] = (offsets[i] as number) - ((strides[i] as readonly number[])[d] as number) * (n - 1);
  }
}

// Shape letters: E experts, L local experts (slots), D model width, F expert hidden width, P hidden parts.
import type { ExpertsLike } from '@switchyard/moe';
import { fmtShape, fromHost, gather, noGrad, SwitchyardError, slice, Tensor } from '@switchyard/tensor';

/** Stacked weights as `GroupedExperts.fromWeights` takes them. */
interface StackedWeights {
  w1: Tensor;
  w2: Tensor;
  w3?: Tensor | null;
}

/**
 * Experts whose weights are stacked along a leading expert axis (`GroupedExperts` of @switchyard/experts):
 * `w1` [E, D, F], `w2` [E, F, D], `w3` [E, D, F] or null, rebuilt from a subset by their class's static
 * `fromWeights`. Expert parallelism shards along E, expert-tensor parallelism along F.
 */
export interface StackedExperts extends ExpertsLike {
  readonly w1: Tensor;
  readonly w2: Tensor;
  readonly w3: Tensor | null;
  readonly activation: string;
  readonly implementation?: string;
}

type StackedExpertsClass = {
  fromWeights(weights: StackedWeights, options: { activation: string; implementation?: string }): ExpertsLike;
};

/** Returns `experts` as stacked experts, or throws UNSUPPORTED naming what is missing. */
export function asStackedExperts(op: string, experts: ExpertsLike): StackedExperts {
  const e = experts as unknown as Partial<StackedExperts>;
  const ctor = (experts as object).constructor as Partial<StackedExpertsClass> | undefined;
  if (
    !(e.w1 instanceof Tensor) ||
    !(e.w2 instanceof Tensor) ||
    !(e.w3 === null || e.w3 instanceof Tensor) ||
    typeof e.activation !== 'string' ||
    typeof ctor?.fromWeights !== 'function'
  ) {
    throw new SwitchyardError(
      'UNSUPPORTED',
      op,
      `experts must have stacked weights w1 [E, D, F], w2 [E, F, D] (w3 when gated) and a static fromWeights, as GroupedExperts; got ${(experts as object).constructor?.name ?? typeof experts}`,
    );
  }
  return e as StackedExperts;
}

/**
 * The experts `slots` (global ids, in local order) of `experts`, with their hidden width F optionally cut into
 * `parts` equal pieces of which this rank keeps `part` (expert-tensor parallelism: w1 and w3 keep columns
 * [part·F/P, (part+1)·F/P), w2 the same rows, so the experts' outputs over the P parts sum to the full output).
 * The new module holds copies; `experts` is untouched. Runs on the active backend.
 */
export function shardExperts(
  experts: ExpertsLike,
  slots: readonly number[],
  hidden: { part: number; parts: number } = { part: 0, parts: 1 },
): ExpertsLike {
  const op = 'shardExperts';
  const stacked = asStackedExperts(op, experts);
  const [e, , f] = stacked.w1.shape as [number, number, number];
  for (const s of slots) {
    if (!Number.isInteger(s) || s < 0 || s >= e) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        op,
        `slot ${s} is not an expert of w1 ${fmtShape(stacked.w1.shape)}`,
      );
    }
  }
  const { part, parts } = hidden;
  if (
    !Number.isInteger(parts) ||
    parts < 1 ||
    f % parts !== 0 ||
    !Number.isInteger(part) ||
    part < 0 ||
    part >= parts
  ) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `the hidden width F = ${f} of w1 ${fmtShape(stacked.w1.shape)} must split into ${parts} equal parts, and part ${part} be one of them`,
    );
  }
  const width = f / parts;
  const start = part * width;
  return noGrad(() => {
    const index_L = fromHost(slots, [slots.length], 'i32');
    const pick = (w: Tensor, hiddenAxis: 1 | 2): Tensor => {
      const rows = gather(w, index_L);
      const begin = hiddenAxis === 2 ? [0, 0, start] : [0, start, 0];
      const size = hiddenAxis === 2 ? [-1, -1, width] : [-1, width, -1];
      const out = slice(rows, begin, size);
      // A slice covering everything is `rows` itself.
      if (out !== rows) rows.dispose();
      return out;
    };
    const weights: StackedWeights = {
      w1: pick(stacked.w1, 2),
      w2: pick(stacked.w2, 1),
      w3: stacked.w3 ? pick(stacked.w3, 2) : null,
    };
    index_L.dispose();
    const ctor = (experts as object).constructor as unknown as StackedExpertsClass;
    const shard = ctor.fromWeights(weights, {
      activation: stacked.activation,
      ...(stacked.implementation === undefined ? {} : { implementation: stacked.implementation }),
    });
    for (const w of [weights.w1, weights.w2, weights.w3]) w?.dispose();
    return shard;
  });
}

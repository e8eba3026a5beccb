// Shape letters (DESIGN.md §3):
//   R  routed rows, grouped by expert: expert e owns rows [offsets[e], offsets[e + 1])
//   N  the rows one expert is given (its segment, or all R rows when masked)
//   D  model width (dModel)
//   E  experts (numExperts); E1 the E + 1 segment offsets
import { checkChoice, checkInt, checkOptions, Module } from '@switchyard/nn';
import {
  add,
  arange,
  backendName,
  concat,
  fmtShape,
  isFloat,
  offsetsFromCounts,
  SwitchyardError,
  split,
  Tensor,
  tidy,
  where,
  zeros,
} from '@switchyard/tensor';
import { checkRoutedRows, segmentMask } from './routed-rows.js';

/** Anything that can serve as one expert: a module mapping rows [N, D] to [N, D]. */
export interface ExpertModule extends Module {
  forward(x_ND: Tensor): Tensor;
}

/**
 * How `ModuleExperts.forward` hands rows to its modules:
 * - `'segment'` (default): expert e is given exactly its own rows, [counts[e], D] (possibly zero rows). The
 *   counts are read on the host, which needs a backend with synchronous reads (CPU). Required when an expert's
 *   output depends on which rows it sees together, as for an inner `MoELayer` (its routing, capacity and
 *   statistics are over its own tokens).
 * - `'masked'`: every expert runs on all R rows and keeps its own segment through a mask built on the device,
 *   as `GroupedExperts`' loop does: E times the work, but nothing is read back, so it runs on WebGPU. Only for
 *   row-wise experts, whose output row depends on that input row alone (an FFN, a LoRA-adapted FFN, a
 *   convolution over the features).
 */
export type ModuleExpertsRows = 'segment' | 'masked';

const ROWS: readonly ModuleExpertsRows[] = ['segment', 'masked'];

/** Configuration of `ModuleExperts`. */
export interface ModuleExpertsConfig<M extends ExpertModule = ExpertModule> {
  /** The E expert modules in expert order, each mapping [N, D] -> [N, D]; no module may appear twice. */
  experts: readonly M[];
  /** D, the model width: rows in and out. */
  dModel: number;
  /** `'segment'` (default) or `'masked'`; see `ModuleExpertsRows`. */
  rows?: ModuleExpertsRows;
}

/**
 * E experts that are any modules, applied to rows already grouped by expert (the dispatcher's output) with a
 * loop over the experts: the generic counterpart of the stacked `GroupedExperts`, with the same signature, so
 * either plugs into `MoELayer` as its `experts`. Use it for experts that are not plain stacked FFNs: a
 * LoRA-adapted FFN, a convolutional expert, a whole MoE layer (hierarchical mixtures of experts, Jordan &
 * Jacobs 1994), or experts of different widths. For plain FFN experts prefer `GroupedExperts`: one grouped
 * matmul instead of E small ones.
 *
 * Shapes: `forward(routed_RD, counts_E)` takes R rows [R, D] whose first `counts[0]` rows belong to expert 0,
 * the next `counts[1]` to expert 1, and so on; expert e maps its rows with `experts[e].forward`; rows after
 * `sum(counts)` (padding) come out zero. Returns [R, D].
 *
 * Parameters are found by walking the modules (`modules.3.w1`); `train()`, `eval()`, `freeze()` and
 * `dispose()` reach every expert. Differentiable in the routed rows and in every expert's parameters, as far
 * as the experts themselves are.
 *
 * @example
 * ```ts
 * const gen = new Generator(0);
 * const experts = new ModuleExperts({
 *   experts: [0, 1, 2, 3].map(() => new MLP(8, 16, { generator: gen })),
 *   dModel: 8,
 * });
 * const y_RD = experts.forward(gen.normal([6, 8]), tensor([2, 0, 3, 1], { dtype: 'i32' })); // [6, 8]
 * ```
 */
export class ModuleExperts<M extends ExpertModule = ExpertModule> extends Module {
  /** The expert modules, expert e at index e. */
  readonly modules: readonly M[];
  /** E. */
  readonly numExperts: number;
  /** D. */
  readonly dModel: number;
  #rows: ModuleExpertsRows;

  constructor(config: ModuleExpertsConfig<M>) {
    super();
    const op = 'ModuleExperts';
    checkOptions(op, config, true, 'the config');
    const experts: unknown = config.experts;
    if (!Array.isArray(experts) || experts.length === 0) {
      throw new SwitchyardError('INVALID_CONFIG', op, 'experts must be a non-empty array of modules');
    }
    experts.forEach((m: unknown, e) => {
      if (!(m instanceof Module) || typeof (m as { forward?: unknown }).forward !== 'function') {
        throw new SwitchyardError(
          'INVALID_CONFIG',
          op,
          `experts[${e}] must be a Module with a forward(x_ND) method, got ${String(m)}`,
        );
      }
      const first = experts.indexOf(m);
      if (first !== e) {
        throw new SwitchyardError(
          'INVALID_CONFIG',
          op,
          `experts[${e}] is the same module as experts[${first}]; each expert needs its own module`,
        );
      }
    });
    this.modules = [...(experts as M[])];
    this.numExperts = this.modules.length;
    this.dModel = checkInt(op, 'dModel', config.dModel);
    this.#rows = checkChoice(op, 'rows', config.rows, ROWS, 'segment');
  }

  /** How rows reach the modules; assignable (see `ModuleExpertsRows`). */
  get rows(): ModuleExpertsRows {
    return this.#rows;
  }

  set rows(value: ModuleExpertsRows) {
    this.#rows = checkChoice('ModuleExperts', 'rows', value ?? null, ROWS, 'segment');
  }

  /**
   * Applies expert e to its contiguous segment of rows.
   *
   * @param routed_RD float [R, D], rows grouped by expert in order (the dispatcher's buffer).
   * @param counts_E i32 [E], rows per expert; `sum(counts) <= R`. Read on the host with `rows: 'segment'`.
   * @returns [R, D]; rows at and after `sum(counts)` are zero.
   */
  forward(routed_RD: Tensor, counts_E: Tensor): Tensor {
    const op = 'ModuleExperts.forward';
    const counts = checkRoutedRows(op, routed_RD, counts_E, this.numExperts, this.dModel);
    if (this.#rows === 'masked') return tidy(() => this.#masked(routed_RD, counts_E));
    if (counts === null) {
      throw new SwitchyardError(
        'UNSUPPORTED',
        op,
        `rows: 'segment' reads counts_E ${fmtShape(counts_E.shape)} on the host, which the ${backendName()} backend cannot do synchronously; use rows: 'masked' for row-wise experts`,
      );
    }
    return tidy(() => this.#segments(routed_RD, Array.from(counts)));
  }

  #segments(x_RD: Tensor, counts: number[]): Tensor {
    const [r, d] = x_RD.shape as [number, number];
    const used = counts.reduce((a, b) => a + b, 0);
    const x_ND = split(x_RD, [...counts, r - used], 0);
    const y_ND = this.modules.map((m, e) => this.#run(m, e, x_ND[e] as Tensor));
    return concat([...y_ND, zeros([r - used, d], y_ND[0]?.dtype ?? x_RD.dtype)], 0);
  }

  #masked(x_RD: Tensor, counts_E: Tensor): Tensor {
    const [r, d] = x_RD.shape as [number, number];
    const offsets_E1 = offsetsFromCounts(counts_E);
    const row_R = arange(r);
    let y_RD: Tensor = zeros([r, d], x_RD.dtype);
    this.modules.forEach((m, e) => {
      y_RD = add(y_RD, where(segmentMask(offsets_E1, e, row_R), this.#run(m, e, x_RD), 0));
    });
    return y_RD;
  }

  /** Disposes every expert through its own `dispose()`, so experts holding more than parameters free it too. */
  override dispose(): void {
    for (const m of this.modules) m.dispose();
    super.dispose();
  }

  #run(m: M, e: number, x_ND: Tensor): Tensor {
    const y_ND: unknown = m.forward(x_ND);
    if (!(y_ND instanceof Tensor) || !isFloat(y_ND.dtype) || y_ND.shape.join() !== x_ND.shape.join()) {
      const got = y_ND instanceof Tensor ? `${y_ND.dtype} ${fmtShape(y_ND.shape)}` : String(y_ND);
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        'ModuleExperts.forward',
        `expert ${e} returned ${got} for rows ${fmtShape(x_ND.shape)}; an expert maps float [N, D] -> [N, D]`,
      );
    }
    return y_ND;
  }
}

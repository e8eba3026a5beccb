import { isFloat } from './dtype.js';
import { isGradEnabled, noGrad, tidy } from './engine.js';
import { fmtShape, SwitchyardError } from './errors.js';
import { type CustomBackward, type CustomNode, edgeTo, type Saved, type Slot, save } from './graph.js';
import { Tensor } from './tensor.js';

/** What a custom-gradient backward receives besides the output cotangents. */
export interface CustomGradContext {
  /** Handles on the tensors the forward listed in `saved`, in order; valid during this call only. */
  readonly saved: readonly Tensor[];
  /** For each input, whether its cotangent is used (it requires grad); others may be returned as null. */
  readonly needsInputGrad: readonly boolean[];
}

/**
 * What the function given to `customGrad` returns.
 *
 * `O` is the output: one tensor, or an array of them. The backward receives the cotangents in the same
 * structure (one per output, each shaped like it) and returns one cotangent per input, shaped and typed like
 * that input, or null where it has none.
 */
export interface CustomGradResult<O extends Tensor | readonly Tensor[]> {
  /** The output(s), computed from the inputs. Float tensors when a gradient is recorded. */
  readonly value: O;
  /**
   * Tensors the backward needs (residuals, as JAX's `custom_vjp` calls them): their storages are held by the
   * graph until backward has run or the outputs are released, and handed to the backward as `context.saved`.
   * Do not capture tensors in the backward's closure instead: `tidy` may have disposed them by then.
   */
  readonly saved?: readonly Tensor[];
  /**
   * Output cotangents to input cotangents. It runs inside `backward()`, with gradient recording off and in a
   * memory scope: every tensor it creates and does not return is disposed.
   */
  readonly backward: (dy: O, context: CustomGradContext) => readonly (Tensor | null)[];
}

/** Options of `customGrad`. */
export interface CustomGradOptions {
  /** Names the function in error messages: `[customGrad(name)] ...`. */
  readonly name?: string;
  /**
   * Run the backward even when no gradient reached the outputs, with zero cotangents, whenever the node is
   * reachable from the tensor `backward()` starts from. Collectives need it: every rank must run the adjoint
   * collective, or the ranks that do wait forever for the one whose cotangent happened to be absent.
   * Default false (such a node is skipped, as a primitive is).
   */
  readonly alwaysRun?: boolean;
}

function kindOf(value: unknown): string {
  if (value instanceof Tensor) return `a Tensor`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function checkTensor(op: string, what: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) {
    throw new SwitchyardError('INVALID_ARGUMENT', op, `${what} must be a Tensor, got ${kindOf(t)}`);
  }
  if (t.isDisposed) {
    throw new SwitchyardError('USE_AFTER_DISPOSE', op, `${what} of shape ${fmtShape(t.shape)} was disposed`);
  }
  return t;
}

/** Checks what the user's backward returned and hands each cotangent out as a fresh handle. */
function checkCotangents(op: string, inputs: readonly Slot[], grads: unknown): (Tensor | null)[] {
  const n = inputs.length;
  if (!Array.isArray(grads)) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `backward must return an array of ${n} cotangent(s) (a Tensor or null per input), got ${kindOf(grads)}`,
    );
  }
  if (grads.length !== n) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `backward returned ${grads.length} cotangent(s) for ${n} input(s)`,
    );
  }
  return grads.map((g: unknown, k) => {
    if (g === null || g === undefined) return null;
    const t = checkTensor(op, `cotangent ${k} returned by backward`, g);
    const x = inputs[k] as Slot;
    if (t.shape.join() !== x.shape.join()) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        op,
        `backward returned cotangent ${k} of shape ${fmtShape(t.shape)} for input ${k} of shape ${fmtShape(x.shape)}`,
      );
    }
    if (t.dtype !== x.dtype) {
      throw new SwitchyardError(
        'DTYPE_MISMATCH',
        op,
        `backward returned a ${t.dtype} cotangent ${k} for the ${x.dtype} input ${k} of shape ${fmtShape(x.shape)}`,
      );
    }
    // A fresh handle: the returned tensor may be a cotangent, a saved handle or anything the caller owns.
    return t.detach();
  });
}

/**
 * Defines a differentiable function by its forward computation and its backward (vector-Jacobian product),
 * as TF.js's `tf.customGrad`, PyTorch's `autograd.Function` and JAX's `custom_vjp` do. `customGrad(f)` returns
 * a function of tensors. Called while a gradient is recorded and some input requires grad, it runs `f` (inside
 * `noGrad`, so nothing in it is recorded) and records one graph node for the whole call: `backward()` and
 * `valueAndGrad` reach its inputs through the user's backward only. Otherwise it just computes `f`.
 *
 * `f` returns `{ value, saved?, backward }` (see `CustomGradResult`). The outputs are fresh tensors owned by
 * the caller's scope (an output may be an input: it is handed out as a new handle); every other tensor `f`
 * creates is disposed when it returns, except the storages of `saved`, which the graph keeps until backward
 * has run or every output (and everything computed from them) is disposed. Use it for operations whose
 * gradient is not the composition of their ops' gradients: collectives whose adjoint is another collective,
 * straight-through estimators, numerically stable closed forms.
 *
 * The backward's cotangents are checked: an array with one entry per input (INVALID_ARGUMENT otherwise), each
 * null or a live Tensor (INVALID_ARGUMENT, USE_AFTER_DISPOSE) with its input's shape (SHAPE_MISMATCH) and dtype
 * (DTYPE_MISMATCH). Outputs that no gradient reached get zero cotangents; with `alwaysRun` the backward runs
 * even when none did. The backward is not itself differentiated (no higher-order gradients).
 *
 * @example
 * ```ts
 * // x ↦ x² with its gradient written by hand: dL/dx = 2x · dL/dy.
 * const square = customGrad((x: Tensor) => ({
 *   value: mul(x, x),
 *   saved: [x],
 *   backward: (dy, { saved: [input] }) => [mul(mul(input as Tensor, 2), dy)],
 * }));
 * const x = tensor([1, 2, 3]).requireGrad();
 * sum(square(x)).backward(); // x.grad = [2, 4, 6]
 *
 * // Two outputs, two inputs; b's cotangent is not needed when b does not require grad.
 * const sumAndDiff = customGrad((a: Tensor, b: Tensor) => ({
 *   value: [add(a, b), sub(a, b)],
 *   backward: ([ds, dd], { needsInputGrad }) => [
 *     add(ds as Tensor, dd as Tensor),
 *     needsInputGrad[1] ? sub(ds as Tensor, dd as Tensor) : null,
 *   ],
 * }));
 * ```
 */
export function customGrad<A extends readonly Tensor[], O extends Tensor | readonly Tensor[]>(
  f: (...inputs: A) => CustomGradResult<O>,
  options: CustomGradOptions = {},
): (...inputs: A) => O {
  const op = options.name === undefined ? 'customGrad' : `customGrad(${options.name})`;
  if (typeof f !== 'function') {
    throw new SwitchyardError('INVALID_ARGUMENT', op, `expects a function, got ${kindOf(f)}`);
  }
  const alwaysRun = options.alwaysRun ?? false;
  return (...args: A): O => {
    args.forEach((x, k) => {
      checkTensor(op, `input ${k}`, x);
    });
    const record = isGradEnabled() && args.some((x) => x.requiresGrad);
    const run = tidy(() => {
      const result = noGrad(() => f(...args)) as Partial<CustomGradResult<O>> | undefined;
      if (result === null || typeof result !== 'object' || typeof result.backward !== 'function') {
        throw new SwitchyardError(
          'INVALID_ARGUMENT',
          op,
          `the function must return { value, saved?, backward }, got ${kindOf(result)}`,
        );
      }
      const single = !Array.isArray(result.value);
      const values = (single ? [result.value] : result.value) as unknown[];
      if (values.length === 0) {
        throw new SwitchyardError('INVALID_ARGUMENT', op, 'value must hold at least one output tensor');
      }
      const outs = values.map((v, k) => checkTensor(op, `output ${k}`, v));
      const kept = (result.saved ?? []).map((s, k) => checkTensor(op, `saved tensor ${k}`, s));
      if (record) {
        outs.forEach((y, k) => {
          if (!isFloat(y.dtype)) {
            throw new SwitchyardError(
              'NOT_DIFFERENTIABLE',
              op,
              `output ${k} is ${y.dtype} ${fmtShape(y.shape)}; a recorded custom-gradient function returns float tensors only`,
            );
          }
        });
      }
      const saved: Saved[] = record ? kept.map(save) : [];
      return { single, outputs: outs.map((y) => y.detach()), saved, backward: result.backward };
    });
    if (record) {
      const inputs: Slot[] = args.map((x) => ({ shape: x.shape, dtype: x.dtype }));
      const backward: CustomBackward = (dys, saved, needs) =>
        checkCotangents(
          op,
          inputs,
          run.backward((run.single ? dys[0] : dys) as unknown as O, { saved, needsInputGrad: needs }),
        );
      const node: CustomNode = {
        kind: 'custom',
        op,
        inputs,
        outputs: run.outputs.map((y) => ({ id: y.id, shape: y.shape, dtype: y.dtype })),
        backward,
        alwaysRun,
        edges: args.map(edgeTo),
        saved: run.saved,
        refs: run.outputs.length,
      };
      for (const y of run.outputs) {
        y.node = node;
        y.requiresGrad = true;
      }
    }
    return (run.single ? run.outputs[0] : run.outputs) as O;
  };
}

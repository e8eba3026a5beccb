import { type AnyHostArray, DTYPES, type DType, hostArray } from '../dtype.js';
import { apply, getBackend, wrap } from '../engine.js';
import { fmtShape, SwitchyardError } from '../errors.js';
import { checkShape, type Shape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { checkTensor } from './validate.js';

export type NestedNumbers = number | boolean | NestedNumbers[];

export interface TensorOptions {
  dtype?: DType;
  shape?: readonly number[];
}

function checkDtype(op: string, dtype: DType): DType {
  if (!DTYPES.includes(dtype)) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `unknown dtype '${String(dtype)}'; expected one of ${DTYPES.join(', ')}`,
    );
  }
  return dtype;
}

function inferShape(values: NestedNumbers): number[] {
  const shape: number[] = [];
  let v: NestedNumbers = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0] as NestedNumbers;
  }
  return shape;
}

function flattenNested(values: NestedNumbers, shape: Shape, out: number[]): void {
  const walk = (v: NestedNumbers, dim: number): void => {
    if (dim === shape.length) {
      if (Array.isArray(v))
        throw new SwitchyardError('INVALID_ARGUMENT', 'tensor', 'nested arrays are ragged');
      if (typeof v !== 'number' && typeof v !== 'boolean') {
        throw new SwitchyardError(
          'INVALID_ARGUMENT',
          'tensor',
          `values must be numbers or booleans, got ${typeof v}`,
        );
      }
      out.push(Number(v));
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[dim]) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        'tensor',
        `nested arrays are ragged: expected ${shape[dim]} entries at depth ${dim}`,
      );
    }
    for (const x of v) walk(x, dim + 1);
  };
  walk(values, 0);
}

function firstLeaf(values: NestedNumbers): number | boolean | undefined {
  let v: NestedNumbers | undefined = values;
  while (Array.isArray(v)) v = v[0];
  return v;
}

/**
 * Creates a tensor from numbers, booleans, nested arrays or a typed array. The dtype defaults to the
 * typed array's (Int32Array: i32, Uint8Array: bool, else f32), bool for booleans, f32 otherwise.
 * `shape` reshapes flat data (and is required to give a typed array more than one axis).
 */
export function tensor(values: NestedNumbers | ArrayLike<number>, options: TensorOptions = {}): Tensor {
  let flat: ArrayLike<number>;
  let shape: number[];
  let dtype: DType;
  if (ArrayBuffer.isView(values)) {
    flat = values as ArrayLike<number>;
    shape = [flat.length];
    dtype = values instanceof Int32Array ? 'i32' : values instanceof Uint8Array ? 'bool' : 'f32';
  } else {
    const nested = values as NestedNumbers;
    shape = inferShape(nested);
    const list: number[] = [];
    flattenNested(nested, shape, list);
    flat = list;
    dtype = typeof firstLeaf(nested) === 'boolean' ? 'bool' : 'f32';
  }
  if (options.dtype !== undefined) dtype = checkDtype('tensor', options.dtype);
  if (options.shape) {
    const target = checkShape('tensor', options.shape);
    if (sizeOf(target) !== flat.length) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        'tensor',
        `${flat.length} values do not fill shape ${fmtShape(target)} (${sizeOf(target)} elements)`,
      );
    }
    shape = target;
  }
  return fromHost(flat, shape, dtype);
}

/** Uploads host values to the active backend. */
export function fromHost(values: ArrayLike<number>, shape: Shape, dtype: DType): Tensor {
  const s = checkShape('fromHost', shape);
  checkDtype('fromHost', dtype);
  if (sizeOf(s) !== values.length) {
    const detail = `${values.length} values do not fill shape ${fmtShape(s)}`;
    throw new SwitchyardError('SHAPE_MISMATCH', 'fromHost', detail);
  }
  const host: AnyHostArray = hostArray(dtype, values.length);
  if (dtype === 'bool') for (let i = 0; i < values.length; i++) host[i] = values[i] ? 1 : 0;
  else if (dtype === 'i32') for (let i = 0; i < values.length; i++) host[i] = Math.trunc(values[i] as number);
  else host.set(values);
  const backend = getBackend();
  return wrap(backend, backend.upload(host, dtype), shape, dtype);
}

/** A rank-0 tensor. */
export function scalar(value: number | boolean, dtype?: DType): Tensor {
  return tensor(value, dtype ? { dtype } : {});
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: readonly number[], value: number | boolean, dtype: DType = 'f32'): Tensor {
  const s = checkShape('full', shape);
  return apply('fill', [], { value: Number(value) }, s, checkDtype('full', dtype));
}

export function zeros(shape: readonly number[], dtype: DType = 'f32'): Tensor {
  return full(shape, 0, dtype);
}

export function ones(shape: readonly number[], dtype: DType = 'f32'): Tensor {
  return full(shape, 1, dtype);
}

export function fullLike(x: Tensor, value: number | boolean, dtype?: DType): Tensor {
  checkTensor('fullLike', x, 'x');
  return full(x.shape, value, dtype ?? x.dtype);
}

export function zerosLike(x: Tensor, dtype?: DType): Tensor {
  checkTensor('zerosLike', x, 'x');
  return full(x.shape, 0, dtype ?? x.dtype);
}

export function onesLike(x: Tensor, dtype?: DType): Tensor {
  checkTensor('onesLike', x, 'x');
  return full(x.shape, 1, dtype ?? x.dtype);
}

/** Values `start, start + step, ...` below `stop` (i32 by default when every argument is an integer). */
export function arange(start: number, stop?: number, step = 1, dtype?: DType): Tensor {
  const [lo, hi] = stop === undefined ? [0, start] : [start, stop];
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !Number.isFinite(step) || step === 0) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'arange',
      `needs finite bounds and a non-zero step, got (${lo}, ${hi}, ${step})`,
    );
  }
  const n = Math.max(0, Math.ceil((hi - lo) / step));
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = lo + i * step;
  const ints = [lo, hi, step].every(Number.isInteger);
  return fromHost(values, [n], checkDtype('arange', dtype ?? (ints ? 'i32' : 'f32')));
}

/** The n x m identity matrix. */
export function eye(n: number, m = n, dtype: DType = 'f32'): Tensor {
  const [rows, cols] = checkShape('eye', [n, m]) as [number, number];
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < Math.min(rows, cols); i++) values[i * cols + i] = 1;
  return fromHost(values, [rows, cols], checkDtype('eye', dtype));
}

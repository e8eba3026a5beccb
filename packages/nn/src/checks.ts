// Config and input checks for modules, used by every Switchyard package and by custom modules. Config errors
// are INVALID_CONFIG and name the field; input errors are SHAPE_MISMATCH / DTYPE_MISMATCH and print shapes.
import { type FloatDType, fmtShape, Generator, isFloat, SwitchyardError, Tensor } from '@switchyard/tensor';
import { type ActivationName, activation } from './activation.js';
import type { Initializer } from './init.js';

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? `[${value.map(show).join(', ')}]` : (value.constructor?.name ?? 'object');
}

function configError(op: string, detail: string): SwitchyardError {
  return new SwitchyardError('INVALID_CONFIG', op, detail);
}

/** `value` is an integer >= `min` (1 unless given). */
export function checkInt(op: string, name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    const what = min === 1 ? 'a positive integer' : `an integer >= ${min}`;
    throw configError(op, `${name} must be ${what}, got ${show(value)}`);
  }
  return value;
}

/** `value` is a finite number > 0 (or `fallback` when undefined and a fallback is given). */
export function checkPositive(op: string, name: string, value: unknown, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !(value > 0)) {
    throw configError(op, `${name} must be a finite number > 0, got ${show(value)}`);
  }
  return value;
}

/** `value` is a number in [lo, hi) (or `fallback` when undefined and a fallback is given). */
export function checkRange(
  op: string,
  name: string,
  value: unknown,
  lo: number,
  hi: number,
  fallback?: number,
): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !(value >= lo && value < hi)) {
    throw configError(op, `${name} must be a number in [${lo}, ${hi}), got ${show(value)}`);
  }
  return value;
}

/** `value` is a probability in [0, 1) (dropout rates: 1 would drop everything). */
export function checkRate(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw configError(op, `${name} must be a number in [0, 1), got ${show(value)}`);
  }
  return value;
}

/** `value` is one of `choices` (or `fallback` when undefined and a fallback is given). */
export function checkChoice<C extends string>(
  op: string,
  name: string,
  value: unknown,
  choices: readonly C[],
  fallback?: C,
): C {
  if (value === undefined && fallback !== undefined) return fallback;
  if (!choices.includes(value as C)) {
    throw configError(
      op,
      `${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${show(value)}`,
    );
  }
  return value as C;
}

/** `value` is a boolean (or `fallback` when undefined and a fallback is given). */
export function checkBool(op: string, name: string, value: unknown, fallback?: boolean): boolean {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'boolean') throw configError(op, `${name} must be a boolean, got ${show(value)}`);
  return value;
}

export function checkGenerator(op: string, name: string, value: unknown): Generator {
  if (!(value instanceof Generator)) {
    throw configError(op, `${name} must be a Generator (randomness is explicit), got ${show(value)}`);
  }
  return value;
}

/** `value` is an initialiser (or `fallback` when undefined and a fallback is given). */
export function checkInitializer(
  op: string,
  name: string,
  value: unknown,
  fallback?: Initializer,
): Initializer {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'function') {
    throw configError(op, `${name} must be an Initializer (shape, generator) => Tensor, got ${show(value)}`);
  }
  return value as Initializer;
}

export function checkFloatDtype(op: string, name: string, value: unknown): FloatDType {
  if (typeof value !== 'string' || !isFloat(value as FloatDType)) {
    throw configError(op, `${name} must be a float dtype (f32, f16, bf16), got ${show(value)}`);
  }
  return value as FloatDType;
}

/** The options (or config) argument is an object, or omitted when `required` is false. */
export function checkOptions<T extends object>(
  op: string,
  value: T | undefined,
  required: boolean,
  what = 'options',
): T {
  if (value === undefined && !required) return {} as T;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw configError(op, `${what} must be an object, got ${show(value)}`);
  }
  return value;
}

/** Builds a parameter's initial value and checks the initialiser returned a float tensor of `shape`. */
export function initial(
  op: string,
  name: string,
  init: Initializer,
  shape: readonly number[],
  generator: Generator,
): Tensor {
  const t: unknown = init(shape, generator);
  if (!(t instanceof Tensor) || t.shape.join() !== shape.join() || !isFloat(t.dtype)) {
    const got = t instanceof Tensor ? `${t.dtype} ${fmtShape(t.shape)}` : show(t);
    if (t instanceof Tensor) t.dispose();
    throw configError(
      op,
      `the initialiser of ${name} returned ${got}, expected a float tensor of shape ${fmtShape(shape)}`,
    );
  }
  return t;
}

/** A float input whose last axis is `dim` and whose rank is at least `minRank`. */
export function checkFeatures(op: string, x: unknown, dim: number, minRank = 1, name = 'x'): Tensor {
  const t = checkTensorArg(op, x, name);
  if (!isFloat(t.dtype)) {
    throw new SwitchyardError(
      'DTYPE_MISMATCH',
      op,
      `${name} must be a float tensor, got ${t.dtype} ${fmtShape(t.shape)}`,
    );
  }
  if (t.rank < minRank || t.shape.at(-1) !== dim) {
    const lead = minRank > 1 ? `${minRank - 1}+ leading axes, ` : '';
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      op,
      `${name} must be [..., ${dim}] (${lead}last axis ${dim}), got ${fmtShape(t.shape)}`,
    );
  }
  return t;
}

export function checkTensorArg(op: string, x: unknown, name: string): Tensor {
  if (!(x instanceof Tensor)) {
    throw new SwitchyardError('INVALID_ARGUMENT', op, `${name} must be a Tensor, got ${show(x)}`);
  }
  if (x.isDisposed) {
    throw new SwitchyardError('USE_AFTER_DISPOSE', op, `${name} of shape ${fmtShape(x.shape)} was disposed`);
  }
  return x;
}

/** An activation name, resolved to its function. */
export function checkActivation(op: string, name: string, value: unknown): (x: Tensor) => Tensor {
  try {
    return activation(value as ActivationName);
  } catch (err) {
    if (err instanceof SwitchyardError)
      throw configError(op, `${name}: ${err.message.replace(/^\[\w+\] /, '')}`);
    throw err;
  }
}

/** Per-row position offsets of attention: undefined, or B integers (one per row of x). */
export function checkPositionOffsets(
  op: string,
  value: unknown,
  batch: number,
): readonly number[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length !== batch || !value.every((o) => Number.isInteger(o))) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      op,
      `positionOffsets must be ${batch} integers (one per row of x), got ${show(value)}`,
    );
  }
  return value;
}
